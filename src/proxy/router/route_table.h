#pragma once

// RouteTable: the compiled, immutable routing table of one config snapshot.
//
// Built on the main thread (compile() allocates, may be slow, runs RE2 compilation); shared
// read-only by every worker through the snapshot (match() is const and thread-safe, allocation
// free). Lookup cost does not grow with the number of routes: hash on host, trie on path, RE2
// only for the regex rules of the matched host. Precedence follows the Gateway API (see
// docs/architecture.md, "Routing"):
//   1. host: the exact hostname's rules, then each matching wildcard's ("*.b.example.org" before
//      "*.example.org"; a wildcard needs at least one label in front of its suffix), then the
//      routes without hostnames. The Host value is lowercased, its port and one trailing dot are
//      dropped ("[::1]:8080" -> "[::1]"). A host's rules that do not match fall through to the
//      next host level.
//   2. within a host level: an Exact path, then the longest PathPrefix (segment-aware: "/v1"
//      matches "/v1", "/v1/", "/v1/x", never "/v10"; a configured trailing '/' is ignored), then
//      RegularExpression (RE2, full match of the path);
//   3. then more header matches, more query-parameter matches, a method match, config order.
// A rule with several `matches` entries matches if any does; each entry competes on its own.
// Header names compare case-insensitively; a header match holds if any field of that name has a
// matching value. A query match looks at the first parameter of that name (raw, not decoded).
// Methods compare case-sensitively.

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

// One weighted backend of a rule, resolved to the pool's index in `config.pools`.
struct WeightedPool {
  uint32_t poolIndex = 0;
  uint32_t weight = 0;
};

// Returned by pickBackend() when the rule has no backend with a weight > 0.
inline constexpr uint32_t kNoBackend = UINT32_MAX;

// A rule as the data plane uses it. Owned by the RouteTable.
//
// Layout: one cache line holds everything a request on a rule with one backend and no filters
// reads after the lookup (indices, stats slot, the pool, timeouts and retry policy), so that a
// request on one of 100,000 routes costs one miss here, not one per vector or config struct it
// would otherwise follow.
struct alignas(64) CompiledRule {
  uint32_t routeIndex = 0;
  uint32_t ruleIndex = 0;
  uint32_t statsSlot = 0;                     // the route's stats slot (see compileRouteTable)
  uint32_t singlePool = kNoBackend;           // the pool when exactly one backend has a weight > 0
  const config::Rule* rule = nullptr;         // owned by the snapshot's Config
  const config::Timeouts* timeouts = nullptr; // &rule->timeouts when any is set, else nullptr
  const config::RetryPolicy* retry = nullptr; // rule->retry when set, else nullptr
  bool hasFilters = false;                    // rule->filters is not empty
  // Cold: weighted splits (singlePool covers a rule with one backend) and names. Both spans
  // point into arrays the RouteTable owns (one allocation per table, not two per rule).
  std::span<const WeightedPool> backends; // weights > 0 only
  uint64_t totalWeight = 0;
  // cumulativeWeights[i] = sum of backends[0..i].weight; pickBackend() binary-searches it.
  std::span<const uint64_t> cumulativeWeights;
  std::string_view routeName; // the route's name in the snapshot's Config (tests, diagnostics)
};

// What matched: the rule and the `matches` entry that won (nullptr when the rule has no
// `matches`, i.e. it matches everything on its hosts). Filters need the entry: ReplacePrefixMatch
// rewrites the prefix of *this* entry.
struct RouteMatchResult {
  const CompiledRule* rule = nullptr;
  const config::RouteMatch* match = nullptr;
};

// Weighted split of a rule across its pools: the chosen pool's index in `config.pools`, or
// kNoBackend. O(log backends), allocation free. Per request, pass a uniform random number; to be
// sticky, pass a hash of the sticky key instead (e.g. lb::hashKey(header value)): the same key
// always selects the same pool as long as the rule's backends and weights are unchanged.
uint32_t pickBackend(const CompiledRule& rule, uint64_t random);

class RouteTable {
public:
  virtual ~RouteTable() = default;

  // The best matching rule, or nullptr (the proxy answers 404).
  virtual const CompiledRule* match(const RequestView& request) const = 0;

  // Like match(), and also says which `matches` entry of the rule won.
  virtual RouteMatchResult lookup(const RequestView& request) const = 0;
};

using RouteTablePtr = std::unique_ptr<const RouteTable>;

// Compiles the routes of `config`. Backends are resolved by name to the pool's index in
// `config.pools` (WeightedPool::poolIndex). `config` must outlive the table (rules point into it).
// `routeStatsSlots`, when given, holds one stats slot per route index (CompiledRule::statsSlot;
// 0 otherwise). Fails only on what the validator lets through by mistake (the validator is the
// place for user-facing errors).
//
// `previous`, when given, is a table compiled earlier (it and its config alive during the call).
// The leading routes `config` shares with it — the same Route objects (config::RouteList) at the
// same indices with the same stats slots, and the same pools — are taken over from it instead of
// compiled again (their rules, match specs with their RE2s, trie nodes, hosts and list entries);
// the rest is compiled as usual. The result does not refer to `previous` and is the table a
// compile without it would build (tests/proxy/router/reference_test.cc).
Result<RouteTablePtr> compileRouteTable(const config::Config& config,
                                        std::span<const uint32_t> routeStatsSlots = {},
                                        const RouteTable* previous = nullptr);

// Path normalization before matching (RFC 3986 §6): percent-decoding of unreserved characters
// (other escapes are kept, with uppercase hex digits), dot-segment removal (RFC 3986 §5.2.4;
// '..' above the root is clamped, not an error), optional merging of slashes. Returns a view of
// `path` when nothing changes (no copy, `scratch` untouched), else of `scratch`. Returns an error
// (the proxy answers 400) for paths that cannot be normalized safely: an encoded '/', '\\' or
// NUL (%2F, %5C, %00), a malformed escape, or a path that does not start with '/' (except "*").
Result<std::string_view> normalizePath(std::string_view path, std::string& scratch,
                                       bool mergeSlashes);

} // namespace fulcrum::router
