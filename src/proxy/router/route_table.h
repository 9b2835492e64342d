#pragma once

// RouteTable: the compiled, immutable routing table of one config snapshot.
//
// Built on the main thread (compile() allocates, may be slow, runs RE2 compilation); shared
// read-only by every worker through the snapshot (match() is const and thread-safe, allocation
// free). Lookup cost does not grow with the number of routes: hash on host, trie on path, RE2
// only for the regex rules of the matched host. Precedence follows the Gateway API (see
// docs/architecture.md, "Routing").

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/schema.h"
#include "proxy/http/parser.h"

namespace fulcrum::router {

// What the router sees of a request. All views into the worker's request buffer.
struct RequestView {
  std::string_view host;  // Host header value as received (port and case are handled here)
  std::string_view path;  // already normalized (see normalizePath), without the query
  std::string_view query; // after '?', without it; empty if none
  std::string_view method;
  std::span<const http::HeaderField> headers;
};

// One weighted backend of a rule, resolved to the pool's index in the snapshot.
struct WeightedPool {
  uint32_t poolIndex = 0;
  uint32_t weight = 0;
};

// A rule as the data plane uses it. Owned by the RouteTable.
struct CompiledRule {
  uint32_t routeIndex = 0;
  uint32_t ruleIndex = 0;
  std::string routeName;              // for stats and logs
  std::vector<WeightedPool> backends; // weights > 0 only
  uint64_t totalWeight = 0;
  const config::Rule* rule = nullptr; // timeouts, retry, filters; owned by the snapshot's Config
};

class RouteTable {
public:
  virtual ~RouteTable() = default;

  // The best matching rule, or nullptr (the proxy answers 404).
  virtual const CompiledRule* match(const RequestView& request) const = 0;
};

using RouteTablePtr = std::unique_ptr<const RouteTable>;

// Compiles the routes of `config`. `poolIndex(name)` gives each pool's index in the snapshot.
// `config` must outlive the table (rules point into it). Fails only on what the validator lets
// through by mistake (the validator is the place for user-facing errors).
Result<RouteTablePtr> compileRouteTable(const config::Config& config);

// Path normalization before matching (RFC 3986 §6): percent-decoding of unreserved characters,
// dot-segment removal, optional merging of slashes. Returns a view of `path` when nothing changes,
// else of `scratch`. Returns an error for paths that cannot be normalized safely (encoded '/',
// '\\' or NUL, '..' above the root is clamped, not an error).
Result<std::string_view> normalizePath(std::string_view path, std::string& scratch,
                                       bool mergeSlashes);

} // namespace fulcrum::router
