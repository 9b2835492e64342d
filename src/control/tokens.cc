#include "control/tokens.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <xxhash.h>

namespace fulcrum::control {
namespace {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool isTokenChar(char c) {
  return c > 0x20 && c < 0x7f;
}

} // namespace

std::string_view roleName(Role role) {
  switch (role) {
  case Role::Viewer:
    return "viewer";
  case Role::Editor:
    return "editor";
  case Role::Admin:
    return "admin";
  }
  return "?";
}

std::optional<Role> parseRole(std::string_view text) {
  if (text == "viewer") {
    return Role::Viewer;
  }
  if (text == "editor") {
    return Role::Editor;
  }
  if (text == "admin") {
    return Role::Admin;
  }
  return std::nullopt;
}

Result<TokenTable> parseTokens(std::string_view text, std::string_view file) {
  TokenTable table;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    std::istringstream fields(line);
    std::string token;
    std::string role;
    std::string name;
    std::string extra;
    fields >> token;
    if (token.empty() || token[0] == '#') {
      continue;
    }
    fields >> role >> name >> extra;
    auto parsedRole = parseRole(role);
    if (!parsedRole) {
      return Error{fmt::format("{}:{}: expected `TOKEN ROLE [NAME]` with ROLE viewer, editor or "
                               "admin",
                               file, number)};
    }
    if (!extra.empty()) {
      return Error{fmt::format("{}:{}: too many fields", file, number)};
    }
    for (char c : token) {
      if (!isTokenChar(c)) {
        return Error{fmt::format("{}:{}: tokens are printable ASCII without spaces", file, number)};
      }
    }
    if (name.empty()) {
      name = fmt::format("token:{:08x}",
                         static_cast<uint32_t>(XXH64(token.data(), token.size(), 0) >> 32));
    }
    if (!table.tokens.emplace(token, Principal{name, *parsedRole}).second) {
      return Error{fmt::format("{}:{}: duplicate token", file, number)};
    }
  }
  return table;
}

Result<std::unique_ptr<TokenFile>> TokenFile::open(std::string path) {
  std::unique_ptr<TokenFile> file(new TokenFile(std::move(path)));
  std::lock_guard lock(file->mutex_);
  if (auto loaded = file->reloadIfChanged(); !loaded) {
    return Error{loaded.error().message};
  }
  return file;
}

Result<bool> TokenFile::reloadIfChanged() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return Error{fmt::format("{}: cannot read: {}", path_, std::strerror(errno))};
  }
  Stamp stamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
              static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
  if (stamp == stamp_) {
    return false;
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    return Error{fmt::format("{}: cannot read: {}", path_, std::strerror(errno))};
  }
  std::stringstream text;
  text << in.rdbuf();
  auto table = parseTokens(text.str(), path_);
  if (!table) {
    return Error{table.error().message};
  }
  table_ = std::move(table.value());
  stamp_ = stamp;
  return true;
}

std::optional<Principal> TokenFile::lookup(std::string_view token) {
  std::lock_guard lock(mutex_);
  if (auto reloaded = reloadIfChanged(); !reloaded) {
    // Keep serving with the tokens we have; say so once per change of the file.
    static thread_local std::string lastReported;
    if (reloaded.error().message != lastReported) {
      lastReported = reloaded.error().message;
      std::cerr << "fulcrum-control: keeping the previous tokens: " << lastReported << std::endl;
    }
  }
  std::optional<Principal> found;
  // Compare against every token so that timing does not reveal which prefix matched.
  for (const auto& [candidate, principal] : table_.tokens) {
    if (constantTimeEquals(candidate, token)) {
      found = principal;
    }
  }
  return found;
}

} // namespace fulcrum::control
