#pragma once

// Bearer tokens and roles, read from `--tokens FILE`: one `TOKEN ROLE [NAME]` per line, `#`
// comments and blank lines ignored. ROLE is viewer, editor or admin; NAME (optional) is the
// author recorded on revisions and audit entries, else `token:` and a hash prefix of the token.
// The file is re-read when its mtime, size or inode change (checked on each lookup); a file that
// no longer parses keeps the previous tokens and logs why.
//
// Thread-safety: lookup() may be called from any thread (it takes an internal mutex).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fulcrum::control {

// Ordered: each role may do everything the ones before it may.
enum class Role { Viewer = 1, Editor = 2, Admin = 3 };

std::string_view roleName(Role role);
std::optional<Role> parseRole(std::string_view text);

struct Principal {
  std::string name;
  Role role = Role::Viewer;
};

struct TokenTable {
  std::map<std::string, Principal, std::less<>> tokens;
};

// Parses the file format; errors name the line.
Result<TokenTable> parseTokens(std::string_view text, std::string_view file);

class TokenFile {
public:
  // Loads `path`; an error if it cannot be read or parsed.
  static Result<std::unique_ptr<TokenFile>> open(std::string path);

  // The principal holding `token`, or nullopt. Constant-time in the token's content.
  std::optional<Principal> lookup(std::string_view token);

private:
  explicit TokenFile(std::string path) : path_(std::move(path)) {}
  Result<bool> reloadIfChanged(); // mutex_ held

  std::string path_;
  std::mutex mutex_;
  TokenTable table_;
  struct Stamp {
    int64_t mtimeNs = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const Stamp&) const = default;
  } stamp_;
};

} // namespace fulcrum::control
