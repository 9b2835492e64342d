#pragma once

// The config schema v1 (DESIGN §3) as plain C++ values. This is what the loader produces after
// validation and what the proxy's compiler turns into runtime snapshots; nothing here is used on
// the request path directly. Every field has its default here, so a loaded Config is complete.
//
// Ownership: a Config is a value; copy or move it freely. Its routes are immutable and shared
// (RouteList): copying a Config shares them, and consecutive revisions loaded through a decode
// cache share the routes that did not change. Thread-safety: none needed (immutable once loaded;
// the shared routes are never modified, only their reference counts change).
//
// What the loader guarantees beyond the field comments (docs/config.md has every range):
//   - hostnames and header names (matches, modifiers, stickyHashOn, rate-limit and hashOn headers)
//     are lowercase; method tokens are kept as written (methods are case-sensitive);
//   - addresses are kept as written and parse with fulcrum::parseSocketAddress (listeners may use
//     port 0, endpoints may not);
//   - every regex compiles with RE2; every Exact/PathPrefix path is normalized;
//   - pool references resolve; names are unique per kind; weights sum to more than 0.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fulcrum::config {

using Duration = std::chrono::milliseconds;

// Where a value came from in its source document; line and column are 1-based. For an object,
// the position of its map (its first key in block style, the '{' in flow style).
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

struct ListenerLimits {
  uint32_t maxRequestLineBytes = 8 * 1024;         // 414 beyond
  uint32_t maxRequestHeadBytes = 64 * 1024;        // 431 beyond
  uint32_t maxHeaders = 100;                       // 431 beyond
  uint64_t maxRequestBodyBytes = 0;                // 0 = unlimited; 413 beyond
  uint32_t bufferBytes = 64 * 1024;                // per-direction buffer per connection
  Duration headTimeout = std::chrono::seconds(10); // absolute deadline for a request head (408)
  Duration idleTimeout = std::chrono::seconds(60); // downstream keep-alive idle
  uint32_t maxConnections = 0;                     // 0 = unlimited
};

struct Listener {
  std::string name;
  std::string address;        // host:port, validated
  uint32_t trustedHops = 0;   // X-Forwarded-For hops to trust from the client side
  bool proxyProtocol = false; // reserved: PROXY protocol v1/v2
  ListenerLimits limits;
  Location location;
};

enum class PathMatchType { Exact, PathPrefix, RegularExpression };
enum class StringMatchType { Exact, RegularExpression };

struct PathMatch {
  PathMatchType type = PathMatchType::PathPrefix;
  std::string value = "/";
};

struct HeaderMatch {
  std::string name; // lowercased by the loader
  StringMatchType type = StringMatchType::Exact;
  std::string value;
};

struct QueryParamMatch {
  std::string name;
  StringMatchType type = StringMatchType::Exact;
  std::string value;
};

struct RouteMatch {
  std::optional<PathMatch> path; // absent = PathPrefix "/"
  std::vector<HeaderMatch> headers;
  std::vector<QueryParamMatch> queryParams;
  std::optional<std::string> method; // uppercase token
  Location location;
};

struct BackendRef {
  std::string pool;
  uint32_t weight = 1;
  Location location;
};

struct Timeouts {
  std::optional<Duration> request;        // whole request, all tries
  std::optional<Duration> backendRequest; // per try
  std::optional<Duration> connect;        // overrides the pool's connectTimeout
  std::optional<Duration> idle;           // upstream idle during a response
};

struct Backoff {
  Duration base = std::chrono::milliseconds(25);
  Duration max = std::chrono::milliseconds(250);
};

struct RetryPolicy {
  uint32_t attempts = 1; // retries after the first try
  // connect-failure, reset, timeout, 5xx, gateway-error, or status codes "400".."599" (as
  // strings); the loader sets {connect-failure, reset} when the document omits `on`.
  std::vector<std::string> on;
  Backoff backoff;
  uint32_t budgetPercent = 20; // retries <= this % of active requests per pool
  bool nonIdempotent = false;  // allow retrying requests that are not idempotent
};

enum class RateLimitKey { ClientIp, Header, Route };

struct RateLimit {
  double requestsPerSecond = 0;
  uint32_t burst = 0; // the loader sets max(1, ceil(requestsPerSecond)) when omitted
  RateLimitKey key = RateLimitKey::ClientIp;
  std::string header; // when key == Header
};

struct HeaderValue {
  std::string name;
  std::string value;
};

struct HeaderModifier {
  std::vector<HeaderValue> add;
  std::vector<HeaderValue> set;
  std::vector<std::string> remove;
};

struct Redirect {
  std::optional<std::string> scheme;
  std::optional<std::string> hostname;
  std::optional<uint16_t> port;
  std::optional<std::string> path;
  uint16_t statusCode = 302; // 301 | 302 | 307 | 308
};

enum class RewriteKind { ReplacePrefixMatch, ReplaceFullPath };

struct UrlRewrite {
  std::optional<std::string> hostname;
  std::optional<RewriteKind> pathKind;
  std::string path; // replacement prefix or full path
};

enum class FilterType {
  RequestHeaderModifier,
  ResponseHeaderModifier,
  RequestRedirect,
  UrlRewrite
};

struct Filter {
  FilterType type = FilterType::RequestHeaderModifier;
  HeaderModifier headers; // RequestHeaderModifier / ResponseHeaderModifier
  Redirect redirect;      // RequestRedirect
  UrlRewrite rewrite;     // UrlRewrite
  Location location;
};

struct Rule {
  std::vector<RouteMatch> matches; // empty = match everything on the route's hosts
  std::vector<BackendRef> backends;
  Timeouts timeouts;
  std::optional<RetryPolicy> retry;
  std::optional<RateLimit> rateLimit;
  std::vector<Filter> filters;
  std::optional<std::string> stickyHashOn; // weighted split sticky by this header (optional)
  Location location;
};

struct Route {
  std::string name;
  std::vector<std::string> hostnames; // lowercased; "*.example.org" wildcards; empty = any host
  std::vector<Rule> rules;
  Location location;
};

enum class Algorithm { RoundRobin, LeastRequest, Random, RingHash, Maglev };

struct HashOn {
  enum class Kind { Header, Cookie, ClientIp } kind = Kind::ClientIp;
  std::string name; // header or cookie name
};

struct Endpoint {
  std::string address; // host:port, validated
  uint32_t weight = 1;
  Location location;
};

struct HealthCheck {
  enum class Kind { Http, Tcp } kind = Kind::Http;
  std::string path = "/health";
  std::string host; // Host header; empty = endpoint address
  std::vector<std::pair<uint16_t, uint16_t>> expectedStatuses = {{200, 399}}; // inclusive ranges
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(1);
  double jitterPercent = 10;
  uint32_t healthyThreshold = 2;
  uint32_t unhealthyThreshold = 3;
  bool startHealthy = true;
};

struct OutlierDetection {
  uint32_t consecutive5xx = 5;
  uint32_t consecutiveGatewayErrors = 5;
  Duration baseEjectionTime = std::chrono::seconds(30);
  Duration maxEjectionTime = std::chrono::seconds(300);
  uint32_t maxEjectionPercent = 50;
};

struct CircuitBreaker {
  uint32_t maxConnections = 1024;
  uint32_t maxPendingRequests = 256;
  uint32_t maxRequests = 1024;
  uint32_t maxRetries = 3;
};

struct Pool {
  std::string name;
  Algorithm algorithm = Algorithm::RoundRobin;
  std::optional<HashOn> hashOn; // set (default ClientIp) exactly for ring_hash and maglev
  std::vector<Endpoint> endpoints;
  std::optional<HealthCheck> healthCheck;
  std::optional<OutlierDetection> outlierDetection;
  std::optional<CircuitBreaker> circuitBreaker;
  uint32_t panicThresholdPercent = 50;
  uint32_t ringHashMinSize = 1024; // ring_hash: virtual nodes in all
  double boundedLoadFactor = 0;    // ring_hash: 0 = off, else e.g. 1.25
  // maglev: a prime >= 100 x endpoints; when the document omits it the loader grows the default
  // to the next such prime.
  uint32_t maglevTableSize = 65537;
  // Upstream connection pool (per worker, per endpoint).
  Duration connectTimeout = std::chrono::seconds(2);
  Duration upstreamIdleTimeout = std::chrono::seconds(60);
  // As many as the default circuit breaker lets a worker open, so that steady concurrency up to it
  // never closes and reopens connections (idle ones close after upstreamIdleTimeout).
  uint32_t maxIdlePerEndpoint = 1024;
  Location location;
};

// The routes of a Config, in config order. Reads like a std::vector<const Route>; each Route is
// held by a shared pointer to const and never modified once added, so copying the list (a Config
// copy, the decode cache handing a route to the next revision) shares the routes instead of
// copying them, and the last list referring to a route frees it. Identity is meaningful: two
// lists holding the same pointer hold the same immutable route (the route table's incremental
// compile relies on it). A route is changed by replacing it (replace()).
class RouteList {
public:
  using value_type = Route;
  using Ptr = std::shared_ptr<const Route>;

  // Container-style names (const_iterator, push_back): code written for std::vector<Route> reads
  // a RouteList unchanged.
  class const_iterator { // NOLINT(readability-identifier-naming)
  public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Route;
    using difference_type = std::ptrdiff_t;
    using pointer = const Route*;
    using reference = const Route&;

    const_iterator() = default;
    explicit const_iterator(std::vector<Ptr>::const_iterator it) : it_(it) {}
    reference operator*() const { return **it_; }
    pointer operator->() const { return it_->get(); }
    reference operator[](difference_type n) const { return *it_[n]; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) { return const_iterator(it_++); }
    const_iterator& operator--() {
      --it_;
      return *this;
    }
    const_iterator operator--(int) { return const_iterator(it_--); }
    const_iterator& operator+=(difference_type n) {
      it_ += n;
      return *this;
    }
    const_iterator& operator-=(difference_type n) {
      it_ -= n;
      return *this;
    }
    friend const_iterator operator+(const_iterator a, difference_type n) { return a += n; }
    friend const_iterator operator+(difference_type n, const_iterator a) { return a += n; }
    friend const_iterator operator-(const_iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return a.it_ - b.it_;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) = default;
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) = default;

  private:
    std::vector<Ptr>::const_iterator it_;
  };
  using iterator = const_iterator;

  RouteList() = default;
  RouteList(std::initializer_list<Route> routes) {
    for (const Route& r : routes) {
      push_back(r);
    }
  }

  size_t size() const { return routes_.size(); }
  bool empty() const { return routes_.empty(); }
  const Route& operator[](size_t i) const { return *routes_[i]; }
  const Route& at(size_t i) const { return *routes_.at(i); }
  const Route& front() const { return *routes_.front(); }
  const Route& back() const { return *routes_.back(); }
  const_iterator begin() const { return const_iterator(routes_.begin()); }
  const_iterator end() const { return const_iterator(routes_.end()); }

  // The shared route at `i` (never null).
  const Ptr& shared(size_t i) const { return routes_[i]; }

  void reserve(size_t n) { routes_.reserve(n); }
  void clear() { routes_.clear(); }
  void push_back(Route route) { // NOLINT(readability-identifier-naming)
    routes_.push_back(std::make_shared<const Route>(std::move(route)));
  }
  // Shares `route` (not null).
  void push_back(Ptr route) { // NOLINT(readability-identifier-naming)
    routes_.push_back(std::move(route));
  }
  void replace(size_t i, Route route) {
    routes_[i] = std::make_shared<const Route>(std::move(route));
  }

private:
  std::vector<Ptr> routes_;
};

struct Config {
  std::string apiVersion = "fulcrum/v1";
  std::vector<Listener> listeners;
  RouteList routes;
  std::vector<Pool> pools;
};

} // namespace fulcrum::config
