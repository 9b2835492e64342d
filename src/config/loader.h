#pragma once

// Loading and validating a config document (YAML, or JSON which is parsed as YAML flow style).
// One entry point for the proxy, the control plane and the CLI: all of them report the same
// errors, each located as `file:line:col: path: message`.
//
// Thread-safety: free functions, no shared state; call from any thread (never from a worker's
// request path: loading allocates and may be slow).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.h"

namespace fulcrum::config {

struct Diagnostic {
  std::string file;
  int line = 0;        // 1-based; 0 when the error has no position (e.g. unreadable file)
  int column = 0;      // 1-based
  std::string path;    // e.g. routes[0].rules[0].backends[1].pool
  std::string message; // e.g. unknown pool "api-v3"

  // `file:line:col: path: message`
  std::string format() const;
};

struct LoadResult {
  std::optional<Config> config;   // set only when errors is empty
  std::vector<Diagnostic> errors; // every error found, in document order
  std::string hash;               // xxh64 of the source text, hex; identifies the revision
  std::string source;             // the source text as loaded
  bool ok() const { return config.has_value(); }
};

// Parses and validates `text`; `file` names it in diagnostics.
LoadResult loadString(std::string_view text, std::string_view file);

// Reads and loads `path`. An unreadable file is one Diagnostic with line 0.
LoadResult loadFile(const std::string& path);

class DecodeCache;
// Same, reusing the routes of the previous load through `cache` where they are unchanged
// (decode_cache.h): the result is the same as loadFile(path). For a source reloaded again and
// again (the proxy's config file); `cache` is used by one load at a time.
LoadResult loadFile(const std::string& path, DecodeCache& cache);
// loadString through `cache` (the differential fuzzer; the result is loadString(text, file)).
LoadResult loadString(std::string_view text, std::string_view file, DecodeCache& cache);

// Several files merged into one document (listeners, routes, pools concatenated); each error is
// located in its own file. Used by `fulcrumctl validate -f a -f b`.
LoadResult loadFiles(const std::vector<std::string>& paths);

} // namespace fulcrum::config
