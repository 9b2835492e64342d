#pragma once

// ConfigCache: the proxy's last-known-good config on local disk, so that it can boot (and serve)
// while the config store is unreachable. One file, DIR/last-good.json:
//
//   {"format": "fulcrum-proxy-cache 1", "revision": 42, "hash": "9f2c...", "store": "etcd://...",
//    "savedAt": "2026-11-27T00:12:03.120Z", "config": "<the revision's text as submitted>"}
//
// Written atomically (temp file in DIR, fsync, rename, fsync DIR), so a reader sees the previous
// complete entry or the new complete entry, never a torn one. One file (not text + metadata)
// keeps the revision number and the text it names consistent.
//
// Thread-safety: stateless apart from the directory name; the proxy writes from its store
// reporter thread and reads on the main thread at boot. Blocks on disk I/O: never on a worker.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fulcrum::server {

struct CachedConfig {
  uint64_t revision = 0;
  std::string hash;    // xxh64 of `config` (config::LoadResult::hash)
  std::string store;   // the store URL it came from (informative)
  std::string savedAt; // RFC 3339 UTC
  std::string config;  // the document text
};

class ConfigCache {
public:
  explicit ConfigCache(std::string dir);

  const std::string& dir() const { return dir_; }
  std::string path() const; // DIR/last-good.json

  // nullopt when there is no cache file yet; an error when it exists but cannot be read or
  // decoded.
  Result<std::optional<CachedConfig>> read() const;

  // Creates DIR (and parents) if needed, then replaces the file atomically and durably.
  Result<bool> write(const CachedConfig& entry) const;

private:
  std::string dir_;
};

// The default cache directory for instance `id`: $XDG_STATE_HOME/fulcrum/proxy-ID, else
// $HOME/.local/state/fulcrum/proxy-ID, else ./run/cache/proxy-ID.
std::string defaultCacheDir(std::string_view id);

} // namespace fulcrum::server
