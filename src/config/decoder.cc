#include "config/decoder.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>
#include <xxhash.h>

#include "common/address.h"
#include "common/cooperative_yield.h"
#include "config/document.h"
#include "config/lexical.h"
#include "config/units.h"

namespace fulcrum::config {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kApiVersion = "fulcrum/v1";

// Ranges shared by many fields (docs/config.md lists them per field).
constexpr Duration kMinDuration = 1ms;
constexpr Duration kMaxDuration = 24h;
constexpr int64_t kMaxWeight = 1'000'000;
constexpr int64_t kMaxThreshold = 1000;
constexpr int64_t kMaxCount = 10'000'000;
constexpr int kMaxRegexProgramSize = 10'000;
constexpr uint32_t kMaxMaglevTableSize = 5'000'011;
constexpr uint32_t kMaglevSlotsPerEndpoint = 100;

template <class E> struct EnumName {
  std::string_view name;
  E value;
};

constexpr std::array<EnumName<PathMatchType>, 3> kPathMatchTypes{{
    {"Exact", PathMatchType::Exact},
    {"PathPrefix", PathMatchType::PathPrefix},
    {"RegularExpression", PathMatchType::RegularExpression},
}};

constexpr std::array<EnumName<StringMatchType>, 2> kStringMatchTypes{{
    {"Exact", StringMatchType::Exact},
    {"RegularExpression", StringMatchType::RegularExpression},
}};

constexpr std::array<EnumName<Algorithm>, 5> kAlgorithms{{
    {"round_robin", Algorithm::RoundRobin},
    {"least_request", Algorithm::LeastRequest},
    {"random", Algorithm::Random},
    {"ring_hash", Algorithm::RingHash},
    {"maglev", Algorithm::Maglev},
}};

constexpr std::array<EnumName<FilterType>, 4> kFilterTypes{{
    {"RequestHeaderModifier", FilterType::RequestHeaderModifier},
    {"ResponseHeaderModifier", FilterType::ResponseHeaderModifier},
    {"RequestRedirect", FilterType::RequestRedirect},
    {"URLRewrite", FilterType::UrlRewrite},
}};

constexpr std::array<EnumName<RewriteKind>, 2> kRewriteKinds{{
    {"ReplacePrefixMatch", RewriteKind::ReplacePrefixMatch},
    {"ReplaceFullPath", RewriteKind::ReplaceFullPath},
}};

constexpr std::array<EnumName<HealthCheck::Kind>, 2> kHealthCheckKinds{{
    {"http", HealthCheck::Kind::Http},
    {"tcp", HealthCheck::Kind::Tcp},
}};

constexpr std::array<EnumName<RateLimitKey>, 3> kRateLimitKeys{{
    {"client-ip", RateLimitKey::ClientIp},
    {"header", RateLimitKey::Header},
    {"route", RateLimitKey::Route},
}};

// The key under which each filter type carries its settings (Gateway API shape).
constexpr std::array<std::string_view, 4> kFilterConfigKeys{
    "requestHeaderModifier", "responseHeaderModifier", "requestRedirect", "urlRewrite"};

constexpr std::array<std::string_view, 4> kDocumentFields{"apiVersion", "listeners", "routes",
                                                          "pools"};
constexpr std::array<std::string_view, 5> kListenerFields{"name", "address", "trustedHops",
                                                          "proxyProtocol", "limits"};
constexpr std::array<std::string_view, 8> kLimitsFields{
    "maxRequestLineBytes", "maxRequestHeadBytes", "maxHeaders",  "maxRequestBodyBytes",
    "bufferBytes",         "headTimeout",         "idleTimeout", "maxConnections"};
constexpr std::array<std::string_view, 3> kRouteFields{"name", "hostnames", "rules"};
constexpr std::array<std::string_view, 7> kRuleFields{
    "matches", "backends", "timeouts", "retry", "rateLimit", "filters", "stickyHashOn"};
constexpr std::array<std::string_view, 4> kMatchFields{"path", "headers", "queryParams", "method"};
constexpr std::array<std::string_view, 2> kPathFields{"type", "value"};
constexpr std::array<std::string_view, 3> kValueMatchFields{"name", "value", "type"};
constexpr std::array<std::string_view, 2> kBackendFields{"pool", "weight"};
constexpr std::array<std::string_view, 4> kTimeoutsFields{"request", "backendRequest", "connect",
                                                          "idle"};
constexpr std::array<std::string_view, 5> kRetryFields{"attempts", "on", "backoff", "budgetPercent",
                                                       "nonIdempotent"};
constexpr std::array<std::string_view, 2> kBackoffFields{"base", "max"};
constexpr std::array<std::string_view, 4> kRateLimitFields{"requestsPerSecond", "burst", "key",
                                                           "header"};
constexpr std::array<std::string_view, 5> kFilterFields{
    "type", "requestHeaderModifier", "responseHeaderModifier", "requestRedirect", "urlRewrite"};
constexpr std::array<std::string_view, 3> kHeaderModifierFields{"add", "set", "remove"};
constexpr std::array<std::string_view, 2> kHeaderValueFields{"name", "value"};
constexpr std::array<std::string_view, 5> kRedirectFields{"scheme", "hostname", "port", "path",
                                                          "statusCode"};
constexpr std::array<std::string_view, 2> kRewriteFields{"hostname", "path"};
constexpr std::array<std::string_view, 14> kPoolFields{"name",
                                                       "algorithm",
                                                       "hashOn",
                                                       "endpoints",
                                                       "healthCheck",
                                                       "outlierDetection",
                                                       "circuitBreaker",
                                                       "panicThresholdPercent",
                                                       "ringHashMinSize",
                                                       "boundedLoadFactor",
                                                       "maglevTableSize",
                                                       "connectTimeout",
                                                       "upstreamIdleTimeout",
                                                       "maxIdlePerEndpoint"};
constexpr std::array<std::string_view, 3> kHashOnFields{"header", "cookie", "clientIp"};
constexpr std::array<std::string_view, 2> kEndpointFields{"address", "weight"};
constexpr std::array<std::string_view, 10> kHealthCheckFields{"type",
                                                              "path",
                                                              "host",
                                                              "expectedStatuses",
                                                              "interval",
                                                              "timeout",
                                                              "jitterPercent",
                                                              "healthyThreshold",
                                                              "unhealthyThreshold",
                                                              "startHealthy"};
constexpr std::array<std::string_view, 5> kOutlierFields{
    "consecutive5xx", "consecutiveGatewayErrors", "baseEjectionTime", "maxEjectionTime",
    "maxEjectionPercent"};
constexpr std::array<std::string_view, 4> kCircuitBreakerFields{
    "maxConnections", "maxPendingRequests", "maxRequests", "maxRetries"};

constexpr std::array<std::string_view, 5> kRetryConditions{"connect-failure", "reset", "timeout",
                                                           "5xx", "gateway-error"};

constexpr std::array<std::string_view, 9> kStandardMethods{
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

// Headers that frame the message or belong to one hop; rewriting them would desynchronize the
// proxy and the peer, so header modifiers may not touch them.
constexpr std::array<std::string_view, 9> kProtectedHeaders{
    "connection", "content-length",    "host",   "keep-alive", "proxy-connection", "te",
    "trailer",    "transfer-encoding", "upgrade"};

template <class E> std::string_view enumName(std::span<const EnumName<E>> names, E value) {
  for (const auto& n : names) {
    if (n.value == value) {
      return n.name;
    }
  }
  return "?";
}

std::string join(std::string_view base, std::string_view key) {
  if (base.empty()) {
    return std::string(key);
  }
  std::string out;
  out.reserve(base.size() + key.size() + 1);
  out.append(base).push_back('.');
  out.append(key);
  return out;
}

std::string indexed(std::string_view base, size_t i) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, i);
  const size_t n = static_cast<size_t>(end - digits);
  std::string out;
  out.reserve(base.size() + n + 2);
  out.append(base).push_back('[');
  out.append(digits, n).push_back(']');
  return out;
}

bool isPrime(uint64_t n) {
  if (n < 2) {
    return false;
  }
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

uint64_t nextPrime(uint64_t n) {
  while (!isPrime(n)) {
    ++n;
  }
  return n;
}

class DocumentDecoder;

// The most fields any map of the schema has: Fields keeps them in fixed arrays.
constexpr size_t kMaxKnownFields =
    std::max({kDocumentFields.size(),    kListenerFields.size(),   kLimitsFields.size(),
              kRouteFields.size(),       kRuleFields.size(),       kMatchFields.size(),
              kPathFields.size(),        kValueMatchFields.size(), kBackendFields.size(),
              kTimeoutsFields.size(),    kRetryFields.size(),      kBackoffFields.size(),
              kRateLimitFields.size(),   kFilterFields.size(),     kHeaderModifierFields.size(),
              kHeaderValueFields.size(), kRedirectFields.size(),   kRewriteFields.size(),
              kPoolFields.size(),        kHashOnFields.size(),     kEndpointFields.size(),
              kHealthCheckFields.size(), kOutlierFields.size(),    kCircuitBreakerFields.size()});

// The known fields of one map. Construction reports keys that are not strings, unknown fields
// (with a suggestion) and duplicate keys; afterwards each known field is looked up by name.
class Fields {
public:
  Fields(DocumentDecoder& decoder, NodeRef map, std::string path,
         std::span<const std::string_view> known);

  NodeRef get(std::string_view key) const;
  bool has(std::string_view key) const { return static_cast<bool>(get(key)); }
  std::string path(std::string_view key) const { return join(path_, key); }
  const std::string& path() const { return path_; }
  NodeRef node() const { return map_; }
  Place place(std::string_view key) const;

  // Reports a missing field at the map's position. Returns whether the field is present.
  bool require(std::string_view key);

  // Typed readers: when the field is present and valid, store it in `out` and return true.
  bool readString(std::string_view key, std::string& out);
  bool readString(std::string_view key, std::optional<std::string>& out);
  bool readBool(std::string_view key, bool& out);
  bool readNumber(std::string_view key, double& out, double lo, double hi);
  template <class T> bool readInt(std::string_view key, T& out, int64_t lo, int64_t hi);
  template <class T> bool readSize(std::string_view key, T& out, uint64_t lo, uint64_t hi);
  bool readDuration(std::string_view key, Duration& out, Duration lo, Duration hi);
  bool readDuration(std::string_view key, std::optional<Duration>& out, Duration lo, Duration hi);
  template <class E>
  bool readEnum(std::string_view key, E& out, std::span<const EnumName<E>> names,
                std::string_view what);

private:
  DocumentDecoder& decoder_;
  NodeRef map_;
  std::string path_;
  std::span<const std::string_view> known_;
  std::array<NodeRef, kMaxKnownFields> values_; // [i] for known_[i]; no allocation per map
};

// Decodes the documents of one file.
class DocumentDecoder {
public:
  DocumentDecoder(Reporter& reporter, CrossChecks& checks, Config& config, const std::string& file,
                  DecodeCache* cache)
      : reporter_(reporter), checks_(checks), config_(config), file_(file), cache_(cache) {}

  void decodeDocument(NodeRef root);

  // --- reporting -------------------------------------------------------------------------------
  Location locate(NodeRef node) const {
    Mark m = node.mark();
    return Location{file_, m.line, m.column};
  }
  Place place(NodeRef node, std::string path) const { return Place{locate(node), std::move(path)}; }
  void error(NodeRef at, std::string path, std::string message) {
    reporter_.error(locate(at), std::move(path), std::move(message));
  }
  size_t errorCount() const { return reporter_.count(); }

  // --- typed scalars ---------------------------------------------------------------------------
  bool expect(NodeRef node, NodeKind kind, const std::string& path);
  std::optional<std::string> readString(NodeRef node, const std::string& path);
  std::optional<bool> readBool(NodeRef node, const std::string& path);
  std::optional<int64_t> readInt(NodeRef node, const std::string& path, int64_t lo, int64_t hi);
  std::optional<double> readNumber(NodeRef node, const std::string& path, double lo, double hi);
  std::optional<uint64_t> readSize(NodeRef node, const std::string& path, uint64_t lo, uint64_t hi);
  std::optional<Duration> readDuration(NodeRef node, const std::string& path, Duration lo,
                                       Duration hi);
  template <class E>
  std::optional<E> readEnum(NodeRef node, const std::string& path,
                            std::span<const EnumName<E>> names, std::string_view what);

  // Calls fn(item, itemPath, index) for each item of a list; null counts as an empty list.
  template <class F> void forEach(NodeRef list, const std::string& path, F&& fn);

private:
  struct MatchInfo {
    std::string key;
    PlacePtr place;
  };

  void decodeListener(NodeRef node, const std::string& path);
  void decodeLimits(NodeRef node, const std::string& path, ListenerLimits& limits);
  void decodeRoute(NodeRef node, const std::string& path);
  // decodeRoute, or the cache's shared identical route (decode_cache.h).
  void decodeRouteCached(NodeRef node, const std::string& path);
  // Cross-object registrations, recorded for the cache while a route is decoded.
  void defineRoute(const std::string& name, Place at);
  bool defineMatch(const std::string& host, const std::string& key, const PlacePtr& at, bool last);
  void referencePool(const std::string& name, Place at);
  // `hosts` is null when the route's hostnames have errors: its matches are then not compared.
  void decodeRule(NodeRef node, const std::string& path, const std::vector<std::string>* hosts,
                  Route& route);
  std::optional<RouteMatch> decodeMatch(NodeRef node, const std::string& path);
  std::optional<PathMatch> decodePathMatch(NodeRef node, const std::string& path);
  template <class M>
  void decodeValueMatches(NodeRef node, const std::string& path, bool headers, std::vector<M>& out);
  void decodeMethod(NodeRef node, const std::string& path, std::optional<std::string>& out);
  std::optional<BackendRef> decodeBackend(NodeRef node, const std::string& path);
  void decodeTimeouts(NodeRef node, const std::string& path, Timeouts& out);
  std::optional<RetryPolicy> decodeRetry(NodeRef node, const std::string& path);
  std::optional<RateLimit> decodeRateLimit(NodeRef node, const std::string& path);
  std::optional<Filter> decodeFilter(NodeRef node, const std::string& path);
  void decodeHeaderModifier(NodeRef node, const std::string& path, bool request,
                            HeaderModifier& out);
  void decodeRedirect(NodeRef node, const std::string& path, Redirect& out);
  void decodeRewrite(NodeRef node, const std::string& path, UrlRewrite& out);
  void checkFilters(const Rule& rule, const std::string& path);
  void decodePool(NodeRef node, const std::string& path);
  std::optional<HashOn> decodeHashOn(NodeRef node, const std::string& path);
  std::optional<Endpoint> decodeEndpoint(NodeRef node, const std::string& path);
  std::optional<HealthCheck> decodeHealthCheck(NodeRef node, const std::string& path);
  void decodeStatusRange(NodeRef node, const std::string& path, HealthCheck& out);
  std::optional<OutlierDetection> decodeOutlier(NodeRef node, const std::string& path);
  std::optional<CircuitBreaker> decodeCircuitBreaker(NodeRef node, const std::string& path);

  // Field helpers with lexical checks.
  void checkName(NodeRef node, const std::string& path, const std::string& name);
  std::optional<std::string> readHeaderName(NodeRef node, const std::string& path);
  std::optional<std::string> readHostname(NodeRef node, const std::string& path,
                                          bool allowWildcard);
  bool checkRegex(NodeRef node, const std::string& path, const std::string& pattern);

  static std::string matchKey(const RouteMatch& match);

  Reporter& reporter_;
  CrossChecks& checks_;
  Config& config_;
  const std::string& file_;
  DecodeCache* cache_;
  std::vector<DecodeCache::Registration>* recording_ = nullptr; // set while a route decodes
  size_t document_ = 0;                                         // documents decoded so far
  std::string fingerprint_;                                     // scratch for decodeRouteCached
};

// --- Fields ------------------------------------------------------------------------------------

Fields::Fields(DocumentDecoder& decoder, NodeRef map, std::string path,
               std::span<const std::string_view> known)
    : decoder_(decoder), map_(map), path_(std::move(path)), known_(known) {
  std::array<NodeRef, kMaxKnownFields> keys;
  for (size_t i = 0; i < map.size(); ++i) {
    NodeRef key = map.key(i);
    if (!key.isScalar()) {
      decoder_.error(key, path_, fmt::format("keys must be strings, got {}", key.describe()));
      continue;
    }
    std::string_view name = key.scalar();
    auto it = std::find(known.begin(), known.end(), name);
    if (it == known.end()) {
      std::string message =
          name == "<<" ? std::string("YAML merge keys (<<) are not supported; repeat the fields "
                                     "or alias the whole value")
                       : fmt::format("unknown field {}", quote(name));
      if (name != "<<") {
        std::string hint = didYouMean(name, known);
        if (hint.empty()) {
          message += fmt::format(" (expected one of: {})", fmt::join(known, ", "));
        } else {
          message += hint;
        }
      }
      decoder_.error(key, join(path_, name), std::move(message));
      continue;
    }
    size_t slot = static_cast<size_t>(it - known.begin());
    if (values_[slot]) {
      Mark first = keys[slot].mark();
      decoder_.error(key, join(path_, name),
                     fmt::format("duplicate key {}; first defined at line {}, column {}",
                                 quote(name), first.line, first.column));
      continue;
    }
    keys[slot] = key;
    values_[slot] = map.value(i);
  }
}

NodeRef Fields::get(std::string_view key) const {
  for (size_t i = 0; i < known_.size(); ++i) {
    if (known_[i] == key) {
      return values_[i];
    }
  }
  return {};
}

Place Fields::place(std::string_view key) const {
  NodeRef n = get(key);
  return decoder_.place(n ? n : map_, path(key));
}

bool Fields::require(std::string_view key) {
  if (has(key)) {
    return true;
  }
  decoder_.error(map_, path_, fmt::format("missing required field {}", quote(key)));
  return false;
}

bool Fields::readString(std::string_view key, std::string& out) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readString(n, path(key));
  if (!v) {
    return false;
  }
  out = std::move(*v);
  return true;
}

bool Fields::readString(std::string_view key, std::optional<std::string>& out) {
  std::string value;
  if (!readString(key, value)) {
    return false;
  }
  out = std::move(value);
  return true;
}

bool Fields::readBool(std::string_view key, bool& out) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readBool(n, path(key));
  if (v) {
    out = *v;
  }
  return v.has_value();
}

bool Fields::readNumber(std::string_view key, double& out, double lo, double hi) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readNumber(n, path(key), lo, hi);
  if (v) {
    out = *v;
  }
  return v.has_value();
}

template <class T> bool Fields::readInt(std::string_view key, T& out, int64_t lo, int64_t hi) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readInt(n, path(key), lo, hi);
  if (v) {
    out = static_cast<T>(*v);
  }
  return v.has_value();
}

template <class T> bool Fields::readSize(std::string_view key, T& out, uint64_t lo, uint64_t hi) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readSize(n, path(key), lo, hi);
  if (v) {
    out = static_cast<T>(*v);
  }
  return v.has_value();
}

bool Fields::readDuration(std::string_view key, Duration& out, Duration lo, Duration hi) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readDuration(n, path(key), lo, hi);
  if (v) {
    out = *v;
  }
  return v.has_value();
}

bool Fields::readDuration(std::string_view key, std::optional<Duration>& out, Duration lo,
                          Duration hi) {
  Duration value{};
  if (!readDuration(key, value, lo, hi)) {
    return false;
  }
  out = value;
  return true;
}

template <class E>
bool Fields::readEnum(std::string_view key, E& out, std::span<const EnumName<E>> names,
                      std::string_view what) {
  NodeRef n = get(key);
  if (!n) {
    return false;
  }
  auto v = decoder_.readEnum(n, path(key), names, what);
  if (v) {
    out = *v;
  }
  return v.has_value();
}

// --- typed scalars -----------------------------------------------------------------------------

std::string_view kindName(NodeKind kind) {
  switch (kind) {
  case NodeKind::Null:
    return "null";
  case NodeKind::Scalar:
    return "a single value";
  case NodeKind::Sequence:
    return "a list";
  case NodeKind::Map:
    return "a map";
  }
  return "?";
}

bool DocumentDecoder::expect(NodeRef node, NodeKind kind, const std::string& path) {
  if (node.kind() == kind) {
    return true;
  }
  error(node, path, fmt::format("expected {}, got {}", kindName(kind), node.describe()));
  return false;
}

std::optional<std::string> DocumentDecoder::readString(NodeRef node, const std::string& path) {
  if (!node.isScalar()) {
    error(node, path, fmt::format("expected a string, got {}", node.describe()));
    return std::nullopt;
  }
  return std::string(node.scalar());
}

std::optional<bool> DocumentDecoder::readBool(NodeRef node, const std::string& path) {
  if (node.isScalar()) {
    std::string v = toLower(node.scalar());
    if (v == "true") {
      return true;
    }
    if (v == "false") {
      return false;
    }
  }
  error(node, path, fmt::format("expected true or false, got {}", node.describe()));
  return std::nullopt;
}

std::string rangeMessage(int64_t lo, int64_t hi, std::string_view got) {
  if (hi == std::numeric_limits<int64_t>::max()) {
    return fmt::format("must be at least {}, got {}", lo, got);
  }
  return fmt::format("must be between {} and {}, got {}", lo, hi, got);
}

std::optional<int64_t> DocumentDecoder::readInt(NodeRef node, const std::string& path, int64_t lo,
                                                int64_t hi) {
  if (!node.isScalar()) {
    error(node, path, fmt::format("expected an integer, got {}", node.describe()));
    return std::nullopt;
  }
  std::string_view text = node.scalar();
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
    digits.remove_prefix(1);
  }
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    error(node, path, fmt::format("expected an integer, got {}", quote(text)));
    return std::nullopt;
  }
  int64_t value = 0;
  const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    error(node, path, rangeMessage(lo, hi, text));
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    error(node, path, rangeMessage(lo, hi, text));
    return std::nullopt;
  }
  return value;
}

std::optional<double> DocumentDecoder::readNumber(NodeRef node, const std::string& path, double lo,
                                                  double hi) {
  if (!node.isScalar()) {
    error(node, path, fmt::format("expected a number, got {}", node.describe()));
    return std::nullopt;
  }
  std::string_view text = node.scalar();
  double value = 0;
  const char* begin = text.data() + (!text.empty() && text.front() == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    error(node, path, fmt::format("expected a number, got {}", quote(text)));
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    error(node, path, fmt::format("must be between {} and {}, got {}", lo, hi, text));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> DocumentDecoder::readSize(NodeRef node, const std::string& path,
                                                  uint64_t lo, uint64_t hi) {
  if (!node.isScalar()) {
    error(node, path, fmt::format("expected a size such as \"16KiB\", got {}", node.describe()));
    return std::nullopt;
  }
  auto parsed = parseSize(node.scalar());
  if (!parsed) {
    error(node, path, parsed.error().message);
    return std::nullopt;
  }
  uint64_t v = parsed.value();
  if (v < lo || v > hi) {
    error(node, path,
          hi == std::numeric_limits<uint64_t>::max()
              ? fmt::format("must be at least {}, got {}", formatSize(lo), node.scalar())
              : fmt::format("must be between {} and {}, got {}", formatSize(lo), formatSize(hi),
                            node.scalar()));
    return std::nullopt;
  }
  return v;
}

std::optional<Duration> DocumentDecoder::readDuration(NodeRef node, const std::string& path,
                                                      Duration lo, Duration hi) {
  if (!node.isScalar()) {
    error(node, path, fmt::format("expected a duration such as \"2s\", got {}", node.describe()));
    return std::nullopt;
  }
  auto parsed = parseDuration(node.scalar());
  if (!parsed) {
    error(node, path, parsed.error().message);
    return std::nullopt;
  }
  Duration v = parsed.value();
  if (v < lo || v > hi) {
    error(node, path,
          fmt::format("must be between {} and {}, got {}", formatDuration(lo), formatDuration(hi),
                      node.scalar()));
    return std::nullopt;
  }
  return v;
}

template <class E>
std::optional<E> DocumentDecoder::readEnum(NodeRef node, const std::string& path,
                                           std::span<const EnumName<E>> names,
                                           std::string_view what) {
  std::vector<std::string_view> spelled;
  for (const auto& n : names) {
    spelled.push_back(n.name);
  }
  if (!node.isScalar()) {
    error(node, path,
          fmt::format("expected one of {}, got {}", fmt::join(spelled, ", "), node.describe()));
    return std::nullopt;
  }
  for (const auto& n : names) {
    if (n.name == node.scalar()) {
      return n.value;
    }
  }
  error(node, path,
        fmt::format("unknown {} {}: expected one of {}{}", what, quote(node.scalar()),
                    fmt::join(spelled, ", "), didYouMean(node.scalar(), spelled)));
  return std::nullopt;
}

template <class F> void DocumentDecoder::forEach(NodeRef list, const std::string& path, F&& fn) {
  if (list.isNull()) {
    return;
  }
  if (!expect(list, NodeKind::Sequence, path)) {
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    yieldPoint();
    fn(list.item(i), indexed(path, i), i);
  }
}

// --- lexical field helpers ---------------------------------------------------------------------

void DocumentDecoder::checkName(NodeRef node, const std::string& path, const std::string& name) {
  if (auto problem = config::checkName(name)) {
    error(node, path, *problem);
  }
}

std::optional<std::string> DocumentDecoder::readHeaderName(NodeRef node, const std::string& path) {
  auto name = readString(node, path);
  if (!name) {
    return std::nullopt;
  }
  if (!isToken(*name)) {
    error(node, path,
          fmt::format("invalid header name {}: must be an HTTP token (letters, digits and "
                      "!#$%&'*+-.^_`|~)",
                      quote(*name)));
    return std::nullopt;
  }
  return toLower(*name);
}

std::optional<std::string> DocumentDecoder::readHostname(NodeRef node, const std::string& path,
                                                         bool allowWildcard) {
  auto host = readString(node, path);
  if (!host) {
    return std::nullopt;
  }
  std::string lower = toLower(*host);
  if (auto problem = checkHostname(lower, allowWildcard)) {
    error(node, path, *problem);
    return std::nullopt;
  }
  return lower;
}

bool DocumentDecoder::checkRegex(NodeRef node, const std::string& path,
                                 const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) {
    error(node, path, fmt::format("invalid regular expression {}: {}", quote(pattern), re.error()));
    return false;
  }
  if (re.ProgramSize() > kMaxRegexProgramSize) {
    error(node, path,
          fmt::format("regular expression {} is too complex (program size {}, limit {})",
                      quote(pattern), re.ProgramSize(), kMaxRegexProgramSize));
    return false;
  }
  return true;
}

// --- document ----------------------------------------------------------------------------------

void DocumentDecoder::decodeDocument(NodeRef root) {
  ++document_;
  if (!root.isMap()) {
    error(root, "",
          fmt::format("expected a map with apiVersion, listeners, routes and pools at the top "
                      "level, got {}",
                      root.describe()));
    return;
  }
  // The version decides the schema, so it is checked before anything else: a document of
  // another version checked against v1 would only produce noise.
  NodeRef api;
  for (size_t i = 0; i < root.size() && !api; ++i) {
    if (root.key(i).isScalar() && root.key(i).scalar() == "apiVersion") {
      api = root.value(i);
    }
  }
  if (api) {
    auto version = readString(api, "apiVersion");
    if (!version) {
      return;
    }
    if (*version != kApiVersion) {
      error(api, "apiVersion",
            fmt::format("unsupported apiVersion {}: expected {}", quote(*version), kApiVersion));
      return;
    }
  } else {
    error(root, "",
          fmt::format("missing required field \"apiVersion\" (apiVersion: {})", kApiVersion));
  }
  Fields f(*this, root, "", kDocumentFields);
  if (NodeRef n = f.get("listeners")) {
    forEach(n, "listeners",
            [&](NodeRef item, const std::string& path, size_t) { decodeListener(item, path); });
  }
  if (NodeRef n = f.get("routes")) {
    if (n.isSequence()) {
      config_.routes.reserve(config_.routes.size() + n.size());
      checks_.expectRoutes(config_.routes.size() + n.size());
    }
    forEach(n, "routes",
            [&](NodeRef item, const std::string& path, size_t) { decodeRouteCached(item, path); });
  }
  if (NodeRef n = f.get("pools")) {
    forEach(n, "pools",
            [&](NodeRef item, const std::string& path, size_t) { decodePool(item, path); });
  }
}

// --- listeners ---------------------------------------------------------------------------------

void DocumentDecoder::decodeListener(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kListenerFields);
  Listener listener;
  listener.location = locate(node);
  f.require("name");
  f.require("address");
  if (f.readString("name", listener.name)) {
    checkName(f.get("name"), f.path("name"), listener.name);
    checks_.defineListener(listener.name, f.place("name"));
  }
  if (f.readString("address", listener.address)) {
    // Port 0 lets the OS pick a free port (tests, and servers that print their address).
    auto address = parseSocketAddress(listener.address, /*allowZeroPort=*/true);
    if (!address) {
      error(f.get("address"), f.path("address"), address.error().message);
    } else {
      checks_.listenerAddress(address.value(), f.place("address"));
    }
  }
  f.readInt("trustedHops", listener.trustedHops, 0, 64);
  f.readBool("proxyProtocol", listener.proxyProtocol);
  if (NodeRef n = f.get("limits"); n && !n.isNull()) {
    decodeLimits(n, f.path("limits"), listener.limits);
  }
  config_.listeners.push_back(std::move(listener));
}

void DocumentDecoder::decodeLimits(NodeRef node, const std::string& path, ListenerLimits& limits) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kLimitsFields);
  constexpr uint64_t KiB = 1024;
  constexpr uint64_t MiB = 1024 * KiB;
  bool line = f.readSize("maxRequestLineBytes", limits.maxRequestLineBytes, 256, MiB);
  bool head = f.readSize("maxRequestHeadBytes", limits.maxRequestHeadBytes, KiB, 16 * MiB);
  f.readInt("maxHeaders", limits.maxHeaders, 1, 10'000);
  f.readSize("maxRequestBodyBytes", limits.maxRequestBodyBytes, 0,
             std::numeric_limits<uint64_t>::max());
  f.readSize("bufferBytes", limits.bufferBytes, KiB, 16 * MiB);
  f.readDuration("headTimeout", limits.headTimeout, kMinDuration, kMaxDuration);
  f.readDuration("idleTimeout", limits.idleTimeout, kMinDuration, kMaxDuration);
  f.readInt("maxConnections", limits.maxConnections, 0, kMaxCount);
  if ((line || head) && limits.maxRequestLineBytes > limits.maxRequestHeadBytes) {
    std::string_view key = line ? "maxRequestLineBytes" : "maxRequestHeadBytes";
    error(f.get(key), f.path(key),
          fmt::format("maxRequestLineBytes ({}) exceeds maxRequestHeadBytes ({}): the request "
                      "line is part of the head",
                      formatSize(limits.maxRequestLineBytes),
                      formatSize(limits.maxRequestHeadBytes)));
  }
}

// --- routes ------------------------------------------------------------------------------------

void DocumentDecoder::decodeRoute(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kRouteFields);
  Route route;
  route.location = locate(node);
  f.require("name");
  if (f.readString("name", route.name)) {
    checkName(f.get("name"), f.path("name"), route.name);
    defineRoute(route.name, f.place("name"));
  }
  std::unordered_set<std::string> seen;
  const size_t errorsBeforeHosts = errorCount();
  if (NodeRef n = f.get("hostnames")) {
    forEach(n, f.path("hostnames"), [&](NodeRef item, const std::string& itemPath, size_t) {
      auto host = readHostname(item, itemPath, /*allowWildcard=*/true);
      if (!host) {
        return;
      }
      if (!seen.insert(*host).second) {
        error(item, itemPath, fmt::format("duplicate hostname {}", quote(*host)));
        return;
      }
      route.hostnames.push_back(std::move(*host));
    });
  }
  NodeRef rules = f.get("rules");
  if (!rules || rules.isNull() || (rules.isSequence() && rules.size() == 0)) {
    error(rules ? rules : node, rules ? f.path("rules") : path, "a route needs at least one rule");
  } else {
    // With a broken hostname list the route's hosts are unknown; comparing its matches would
    // report conflicts that are not there (an empty list means "any host").
    const bool hostsClean = errorCount() == errorsBeforeHosts;
    forEach(rules, f.path("rules"), [&](NodeRef item, const std::string& itemPath, size_t) {
      decodeRule(item, itemPath, hostsClean ? &route.hostnames : nullptr, route);
    });
  }
  config_.routes.push_back(std::move(route));
}

void DocumentDecoder::defineRoute(const std::string& name, Place at) {
  auto place = std::make_shared<const Place>(std::move(at));
  if (recording_ != nullptr) {
    recording_->push_back({DecodeCache::Registration::Kind::Route, false, name, {}, place});
  }
  checks_.defineRoute(name, place);
}

bool DocumentDecoder::defineMatch(const std::string& host, const std::string& key,
                                  const PlacePtr& at, bool last) {
  if (recording_ != nullptr) {
    recording_->push_back({DecodeCache::Registration::Kind::Match, last, host, key, at});
  }
  return checks_.defineMatch(host, key, at);
}

void DocumentDecoder::referencePool(const std::string& name, Place at) {
  auto place = std::make_shared<const Place>(std::move(at));
  if (recording_ != nullptr) {
    recording_->push_back({DecodeCache::Registration::Kind::PoolReference, false, name, {}, place});
  }
  checks_.referencePool(name, std::move(place));
}

void DocumentDecoder::decodeRouteCached(NodeRef node, const std::string& path) {
  if (cache_ == nullptr) {
    decodeRoute(node, path);
    return;
  }
  DecodeCache::Key key;
  if (auto parsed = node.contentKey()) {
    key = *parsed; // the JSON parser's key of the route's bytes, position, index and file
  } else {
    fingerprint_.clear();
    fingerprint_.append(file_).push_back('\0');
    fingerprint_.append(std::to_string(document_)).push_back('\0');
    fingerprint_.append(path).push_back('\0');
    node.fingerprint(fingerprint_);
    const XXH128_hash_t hash = XXH3_128bits(fingerprint_.data(), fingerprint_.size());
    key = DecodeCache::Key{hash.low64, hash.high64};
  }

  auto entry = cache_->previous(key);
  if (!entry && node.reused()) {
    // The parser skipped this route because the cache held it, and entries are not dropped
    // during a load: cannot happen.
    error(node, path, "internal error: a reused route is missing from the decode cache");
    return;
  }
  if (entry) {
    // The same input as a route decoded without errors: the same Route and registrations.
    bool skipGroup = false;
    for (const auto& r : entry->registrations) {
      switch (r.kind) {
      case DecodeCache::Registration::Kind::Route:
        checks_.defineRoute(r.name, r.place);
        break;
      case DecodeCache::Registration::Kind::PoolReference:
        checks_.referencePool(r.name, r.place);
        break;
      case DecodeCache::Registration::Kind::Match:
        // decodeRule stops registering a match's hosts at the first refused one.
        if (!skipGroup && !checks_.defineMatch(r.name, r.key, r.place)) {
          skipGroup = true;
        }
        if (r.endsGroup) {
          skipGroup = false;
        }
        break;
      }
    }
    config_.routes.push_back(entry->route);
    cache_->keep(key, std::move(entry));
    cache_->countReused();
    return;
  }

  std::vector<DecodeCache::Registration> registrations;
  const size_t errorsBefore = errorCount();
  const size_t routesBefore = config_.routes.size();
  recording_ = &registrations;
  decodeRoute(node, path);
  recording_ = nullptr;
  cache_->countDecoded();
  if (errorCount() == errorsBefore && config_.routes.size() == routesBefore + 1) {
    auto entry = std::make_shared<DecodeCache::Entry>();
    entry->route = config_.routes.shared(config_.routes.size() - 1);
    entry->registrations = std::move(registrations);
    cache_->keep(key, std::move(entry));
  }
}

void DocumentDecoder::decodeRule(NodeRef node, const std::string& path,
                                 const std::vector<std::string>* hosts, Route& route) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kRuleFields);
  Rule rule;
  rule.location = locate(node);

  std::vector<MatchInfo> matchInfos;
  bool matchesClean = true;
  if (NodeRef n = f.get("matches")) {
    forEach(n, f.path("matches"), [&](NodeRef item, const std::string& itemPath, size_t) {
      size_t before = errorCount();
      auto match = decodeMatch(item, itemPath);
      if (!match || errorCount() != before) {
        matchesClean = false;
        return;
      }
      matchInfos.push_back(
          MatchInfo{matchKey(*match), std::make_shared<const Place>(place(item, itemPath))});
      rule.matches.push_back(std::move(*match));
    });
  }

  if (NodeRef n = f.get("filters")) {
    forEach(n, f.path("filters"), [&](NodeRef item, const std::string& itemPath, size_t) {
      if (auto filter = decodeFilter(item, itemPath)) {
        rule.filters.push_back(std::move(*filter));
      }
    });
  }
  const bool redirects = std::any_of(rule.filters.begin(), rule.filters.end(), [](const Filter& x) {
    return x.type == FilterType::RequestRedirect;
  });

  NodeRef backends = f.get("backends");
  if (backends && !backends.isNull() && !(backends.isSequence() && backends.size() == 0)) {
    if (redirects) {
      error(backends, f.path("backends"),
            "a rule with a RequestRedirect filter answers by itself; remove its backends");
    }
    std::unordered_map<std::string, size_t> pools;
    bool allWeightsKnown = true;
    forEach(backends, f.path("backends"), [&](NodeRef item, const std::string& itemPath, size_t i) {
      size_t before = errorCount();
      auto backend = decodeBackend(item, itemPath);
      if (!backend || errorCount() != before) {
        allWeightsKnown = false;
      }
      if (!backend) {
        return;
      }
      if (!backend->pool.empty()) {
        auto [it, inserted] = pools.try_emplace(backend->pool, i);
        if (!inserted) {
          error(item, join(itemPath, "pool"),
                fmt::format("pool {} is already listed at {}; merge their weights",
                            quote(backend->pool), indexed(f.path("backends"), it->second)));
        }
      }
      rule.backends.push_back(std::move(*backend));
    });
    if (allWeightsKnown && !rule.backends.empty()) {
      uint64_t total = 0;
      for (const auto& b : rule.backends) {
        total += b.weight;
      }
      if (total == 0) {
        error(backends, f.path("backends"),
              "backend weights sum to 0: at least one backend needs a weight above 0");
      }
    }
  } else if (!redirects) {
    error(backends ? backends : node, backends ? f.path("backends") : path,
          "a rule needs at least one backend (or a RequestRedirect filter)");
  }

  if (NodeRef n = f.get("timeouts"); n && !n.isNull()) {
    decodeTimeouts(n, f.path("timeouts"), rule.timeouts);
  }
  if (NodeRef n = f.get("retry"); n && !n.isNull()) {
    rule.retry = decodeRetry(n, f.path("retry"));
  }
  if (NodeRef n = f.get("rateLimit"); n && !n.isNull()) {
    rule.rateLimit = decodeRateLimit(n, f.path("rateLimit"));
  }
  if (NodeRef n = f.get("stickyHashOn")) {
    rule.stickyHashOn = readHeaderName(n, f.path("stickyHashOn"));
  }
  checkFilters(rule, path);

  // Rules that match exactly the same requests on the same host shadow each other; a rule
  // without matches matches everything (PathPrefix "/").
  if (matchesClean && hosts != nullptr) {
    if (matchInfos.empty()) {
      matchInfos.push_back(
          MatchInfo{matchKey(RouteMatch{}), std::make_shared<const Place>(place(node, path))});
    }
    static const std::vector<std::string> kAnyHost{""};
    const auto& keyHosts = hosts->empty() ? kAnyHost : *hosts;
    for (const auto& info : matchInfos) {
      for (size_t h = 0; h < keyHosts.size(); ++h) {
        if (!defineMatch(keyHosts[h], info.key, info.place, h + 1 == keyHosts.size())) {
          break;
        }
      }
    }
  }
  route.rules.push_back(std::move(rule));
}

std::string DocumentDecoder::matchKey(const RouteMatch& match) {
  // Canonical form: field separators that cannot appear in validated values.
  PathMatch path = match.path.value_or(PathMatch{});
  std::string value = path.value;
  // PathPrefix matches whole segments, so "/v1/" and "/v1" select the same requests.
  if (path.type == PathMatchType::PathPrefix && value.size() > 1 && value.back() == '/') {
    value.pop_back();
  }
  std::string key = fmt::format("P{}\x1f{}\x1e", static_cast<int>(path.type), value);
  key += fmt::format("M{}\x1e", match.method.value_or(""));
  std::vector<std::string> parts;
  for (const auto& h : match.headers) {
    parts.push_back(fmt::format("H{}\x1f{}\x1f{}", h.name, static_cast<int>(h.type), h.value));
  }
  for (const auto& q : match.queryParams) {
    parts.push_back(fmt::format("Q{}\x1f{}\x1f{}", q.name, static_cast<int>(q.type), q.value));
  }
  std::sort(parts.begin(), parts.end());
  for (const auto& p : parts) {
    key += p;
    key += '\x1e';
  }
  return key;
}

std::optional<RouteMatch> DocumentDecoder::decodeMatch(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kMatchFields);
  RouteMatch match;
  match.location = locate(node);
  if (NodeRef n = f.get("path"); n && !n.isNull()) {
    match.path = decodePathMatch(n, f.path("path"));
  }
  if (NodeRef n = f.get("headers")) {
    decodeValueMatches(n, f.path("headers"), /*headers=*/true, match.headers);
  }
  if (NodeRef n = f.get("queryParams")) {
    decodeValueMatches(n, f.path("queryParams"), /*headers=*/false, match.queryParams);
  }
  if (NodeRef n = f.get("method")) {
    decodeMethod(n, f.path("method"), match.method);
  }
  return match;
}

std::optional<PathMatch> DocumentDecoder::decodePathMatch(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kPathFields);
  PathMatch match;
  bool typeOk = !f.has("type") ||
                f.readEnum<PathMatchType>("type", match.type, kPathMatchTypes, "path match type");
  if (!f.readString("value", match.value) || !typeOk) {
    return match;
  }
  if (match.type == PathMatchType::RegularExpression) {
    checkRegex(f.get("value"), f.path("value"), match.value);
  } else if (auto problem = checkPath(match.value)) {
    error(f.get("value"), f.path("value"), *problem);
  }
  return match;
}

template <class M>
void DocumentDecoder::decodeValueMatches(NodeRef node, const std::string& path, bool headers,
                                         std::vector<M>& out) {
  std::unordered_map<std::string, size_t> names;
  forEach(node, path, [&](NodeRef item, const std::string& itemPath, size_t i) {
    if (!expect(item, NodeKind::Map, itemPath)) {
      return;
    }
    Fields f(*this, item, itemPath, kValueMatchFields);
    M match;
    f.require("name");
    f.require("value");
    if (NodeRef n = f.get("name")) {
      if (headers) {
        if (auto name = readHeaderName(n, f.path("name"))) {
          match.name = std::move(*name);
        }
      } else if (f.readString("name", match.name)) {
        if (match.name.empty()) {
          error(n, f.path("name"), "query parameter name must not be empty");
        } else if (auto problem = checkFieldValue(match.name)) {
          error(n, f.path("name"), "query parameter name contains a control character");
        }
      }
      if (!match.name.empty()) {
        auto [it, inserted] = names.try_emplace(match.name, i);
        if (!inserted) {
          error(n, f.path("name"),
                fmt::format("{} {} is already matched at {}",
                            headers ? "header" : "query parameter", quote(match.name),
                            indexed(path, it->second)));
        }
      }
    }
    bool typeOk = !f.has("type") ||
                  f.readEnum<StringMatchType>("type", match.type, kStringMatchTypes, "match type");
    if (f.readString("value", match.value) && typeOk) {
      if (match.type == StringMatchType::RegularExpression) {
        checkRegex(f.get("value"), f.path("value"), match.value);
      } else if (auto problem = checkFieldValue(match.value)) {
        error(f.get("value"), f.path("value"), *problem);
      }
    }
    out.push_back(std::move(match));
  });
}

void DocumentDecoder::decodeMethod(NodeRef node, const std::string& path,
                                   std::optional<std::string>& out) {
  auto method = readString(node, path);
  if (!method) {
    return;
  }
  if (!isToken(*method)) {
    error(node, path,
          fmt::format("invalid method {}: must be an HTTP token such as GET", quote(*method)));
    return;
  }
  std::string upper = *method;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  if (upper != *method && std::find(kStandardMethods.begin(), kStandardMethods.end(), upper) !=
                              kStandardMethods.end()) {
    error(node, path,
          fmt::format("methods are case-sensitive: {} would never match; did you mean \"{}\"?",
                      quote(*method), upper));
    return;
  }
  out = std::move(*method);
}

std::optional<BackendRef> DocumentDecoder::decodeBackend(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kBackendFields);
  BackendRef backend;
  backend.location = locate(node);
  f.require("pool");
  if (f.readString("pool", backend.pool)) {
    referencePool(backend.pool, f.place("pool"));
  }
  f.readInt("weight", backend.weight, 0, kMaxWeight);
  return backend;
}

void DocumentDecoder::decodeTimeouts(NodeRef node, const std::string& path, Timeouts& out) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kTimeoutsFields);
  f.readDuration("request", out.request, kMinDuration, kMaxDuration);
  f.readDuration("backendRequest", out.backendRequest, kMinDuration, kMaxDuration);
  f.readDuration("connect", out.connect, kMinDuration, kMaxDuration);
  f.readDuration("idle", out.idle, kMinDuration, kMaxDuration);
  if (out.request && out.backendRequest && *out.backendRequest > *out.request) {
    error(f.get("backendRequest"), f.path("backendRequest"),
          fmt::format("backendRequest ({}) exceeds request ({}): one try cannot outlast the "
                      "whole request",
                      formatDuration(*out.backendRequest), formatDuration(*out.request)));
  }
  if (out.connect && out.backendRequest && *out.connect > *out.backendRequest) {
    error(f.get("connect"), f.path("connect"),
          fmt::format("connect ({}) exceeds backendRequest ({}): connecting is part of a try",
                      formatDuration(*out.connect), formatDuration(*out.backendRequest)));
  } else if (out.connect && !out.backendRequest && out.request && *out.connect > *out.request) {
    error(f.get("connect"), f.path("connect"),
          fmt::format("connect ({}) exceeds request ({})", formatDuration(*out.connect),
                      formatDuration(*out.request)));
  }
}

std::optional<RetryPolicy> DocumentDecoder::decodeRetry(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kRetryFields);
  RetryPolicy retry;
  f.readInt("attempts", retry.attempts, 0, 10);
  if (NodeRef n = f.get("on")) {
    std::unordered_map<std::string, size_t> seen;
    forEach(n, f.path("on"), [&](NodeRef item, const std::string& itemPath, size_t i) {
      auto text = readString(item, itemPath);
      if (!text) {
        return;
      }
      bool known = std::find(kRetryConditions.begin(), kRetryConditions.end(), *text) !=
                   kRetryConditions.end();
      if (!known) {
        int code = 0;
        auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), code);
        bool numeric = ec == std::errc() && ptr == text->data() + text->size();
        if (numeric && (code < 400 || code > 599)) {
          error(item, itemPath,
                fmt::format("retry status code must be between 400 and 599, got {}", *text));
          return;
        }
        if (!numeric) {
          error(item, itemPath,
                fmt::format("unknown retry condition {}: expected one of {} or a status code "
                            "400-599{}",
                            quote(*text), fmt::join(kRetryConditions, ", "),
                            didYouMean(*text, kRetryConditions)));
          return;
        }
        *text = std::to_string(code); // "0503" and "503" are the same condition
      }
      auto [it, inserted] = seen.try_emplace(*text, i);
      if (!inserted) {
        error(item, itemPath,
              fmt::format("retry condition {} is already listed at {}", quote(*text),
                          indexed(f.path("on"), it->second)));
        return;
      }
      retry.on.push_back(std::move(*text));
    });
  } else {
    retry.on = {"connect-failure", "reset"};
  }
  if (NodeRef n = f.get("backoff");
      n && !n.isNull() && expect(n, NodeKind::Map, f.path("backoff"))) {
    Fields b(*this, n, f.path("backoff"), kBackoffFields);
    bool base = b.readDuration("base", retry.backoff.base, kMinDuration, kMaxDuration);
    bool max = b.readDuration("max", retry.backoff.max, kMinDuration, kMaxDuration);
    if ((base || max) && retry.backoff.base > retry.backoff.max) {
      std::string_view key = base ? "base" : "max";
      error(b.get(key), b.path(key),
            fmt::format("backoff base ({}) exceeds max ({})", formatDuration(retry.backoff.base),
                        formatDuration(retry.backoff.max)));
    }
  }
  f.readInt("budgetPercent", retry.budgetPercent, 0, 100);
  f.readBool("nonIdempotent", retry.nonIdempotent);
  return retry;
}

std::optional<RateLimit> DocumentDecoder::decodeRateLimit(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kRateLimitFields);
  RateLimit limit;
  f.require("requestsPerSecond");
  if (f.readNumber("requestsPerSecond", limit.requestsPerSecond, 0, 1e9) &&
      limit.requestsPerSecond <= 0) {
    error(f.get("requestsPerSecond"), f.path("requestsPerSecond"),
          "must be greater than 0; remove rateLimit to disable limiting");
  }
  if (!f.readInt("burst", limit.burst, 1, 1'000'000'000)) {
    limit.burst = static_cast<uint32_t>(std::max(1.0, std::ceil(limit.requestsPerSecond)));
  }
  bool keyed = f.readEnum<RateLimitKey>("key", limit.key, kRateLimitKeys, "rate limit key");
  bool header = false;
  if (NodeRef n = f.get("header")) {
    if (auto name = readHeaderName(n, f.path("header"))) {
      limit.header = std::move(*name);
      header = true;
    }
  }
  if (keyed && limit.key == RateLimitKey::Header && !f.has("header")) {
    error(f.get("key"), f.path("key"), "key: header needs the header's name in \"header\"");
  }
  if (header && limit.key != RateLimitKey::Header) {
    error(f.get("header"), f.path("header"), "header is only used with key: header");
  }
  return limit;
}

// --- filters -----------------------------------------------------------------------------------

std::optional<Filter> DocumentDecoder::decodeFilter(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kFilterFields);
  Filter filter;
  filter.location = locate(node);
  if (!f.require("type") ||
      !f.readEnum<FilterType>("type", filter.type, kFilterTypes, "filter type")) {
    return std::nullopt;
  }
  const auto typeIndex = static_cast<size_t>(filter.type);
  const std::string_view configKey = kFilterConfigKeys[typeIndex];
  for (size_t i = 0; i < kFilterConfigKeys.size(); ++i) {
    if (i != typeIndex && f.has(kFilterConfigKeys[i])) {
      error(f.get(kFilterConfigKeys[i]), f.path(kFilterConfigKeys[i]),
            fmt::format("{} does not apply to a filter of type {}; its settings go in {}",
                        kFilterConfigKeys[i], kFilterTypes[typeIndex].name, configKey));
    }
  }
  NodeRef settings = f.get(configKey);
  if (!settings) {
    error(node, path,
          fmt::format("a filter of type {} needs its settings in {}", kFilterTypes[typeIndex].name,
                      configKey));
    return std::nullopt;
  }
  const std::string settingsPath = f.path(configKey);
  switch (filter.type) {
  case FilterType::RequestHeaderModifier:
  case FilterType::ResponseHeaderModifier:
    decodeHeaderModifier(settings, settingsPath, filter.type == FilterType::RequestHeaderModifier,
                         filter.headers);
    break;
  case FilterType::RequestRedirect:
    decodeRedirect(settings, settingsPath, filter.redirect);
    break;
  case FilterType::UrlRewrite:
    decodeRewrite(settings, settingsPath, filter.rewrite);
    break;
  }
  return filter;
}

void DocumentDecoder::decodeHeaderModifier(NodeRef node, const std::string& path, bool request,
                                           HeaderModifier& out) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kHeaderModifierFields);
  // name -> where it was first modified, to catch contradictions (set twice, set and removed).
  std::unordered_map<std::string, std::string> setAt;
  auto allowed = [&](NodeRef n, const std::string& p, const std::string& name) {
    bool isProtected = std::find(kProtectedHeaders.begin(), kProtectedHeaders.end(), name) !=
                       kProtectedHeaders.end();
    if (!isProtected || (!request && name == "host")) {
      return true;
    }
    error(n, p,
          name == "host"
              ? std::string("header \"host\" cannot be modified here; use a URLRewrite filter's "
                            "hostname")
              : fmt::format("header {} frames the message or belongs to one hop and cannot be "
                            "modified",
                            quote(name)));
    return false;
  };
  auto values = [&](std::string_view key, std::vector<HeaderValue>& target) {
    NodeRef list = f.get(key);
    if (!list) {
      return;
    }
    forEach(list, f.path(key), [&](NodeRef item, const std::string& itemPath, size_t) {
      if (!expect(item, NodeKind::Map, itemPath)) {
        return;
      }
      Fields h(*this, item, itemPath, kHeaderValueFields);
      h.require("name");
      h.require("value");
      HeaderValue header;
      NodeRef nameNode = h.get("name");
      auto name = nameNode ? readHeaderName(nameNode, h.path("name")) : std::nullopt;
      if (h.readString("value", header.value)) {
        if (auto problem = checkFieldValue(header.value)) {
          error(h.get("value"), h.path("value"), *problem);
        }
      }
      if (!name || !allowed(nameNode, h.path("name"), *name)) {
        return;
      }
      if (key == "set") {
        auto [it, inserted] = setAt.try_emplace(*name, itemPath);
        if (!inserted) {
          error(nameNode, h.path("name"),
                fmt::format("header {} is already set at {}", quote(*name), it->second));
        }
      }
      header.name = std::move(*name);
      target.push_back(std::move(header));
    });
  };
  values("add", out.add);
  values("set", out.set);
  if (NodeRef list = f.get("remove")) {
    std::unordered_set<std::string> added;
    for (const auto& h : out.add) {
      added.insert(h.name);
    }
    forEach(list, f.path("remove"), [&](NodeRef item, const std::string& itemPath, size_t) {
      auto name = readHeaderName(item, itemPath);
      if (!name || !allowed(item, itemPath, *name)) {
        return;
      }
      if (auto it = setAt.find(*name); it != setAt.end()) {
        error(item, itemPath,
              fmt::format("header {} is both set (at {}) and removed", quote(*name), it->second));
      } else if (added.contains(*name)) {
        error(item, itemPath, fmt::format("header {} is both added and removed", quote(*name)));
      }
      out.remove.push_back(std::move(*name));
    });
  }
}

void DocumentDecoder::decodeRedirect(NodeRef node, const std::string& path, Redirect& out) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kRedirectFields);
  if (NodeRef n = f.get("scheme")) {
    if (auto scheme = readString(n, f.path("scheme"))) {
      std::string lower = toLower(*scheme);
      if (lower != "http" && lower != "https") {
        error(n, f.path("scheme"),
              fmt::format("unknown scheme {}: expected http or https", quote(*scheme)));
      } else {
        out.scheme = lower;
      }
    }
  }
  if (NodeRef n = f.get("hostname")) {
    out.hostname = readHostname(n, f.path("hostname"), /*allowWildcard=*/false);
  }
  if (NodeRef n = f.get("port")) {
    if (auto port = readInt(n, f.path("port"), 1, 65535)) {
      out.port = static_cast<uint16_t>(*port);
    }
  }
  if (f.readString("path", out.path)) {
    if (auto problem = checkPath(*out.path)) {
      error(f.get("path"), f.path("path"), *problem);
    }
  }
  if (NodeRef n = f.get("statusCode")) {
    if (auto code = readInt(n, f.path("statusCode"), 0, 999)) {
      if (*code != 301 && *code != 302 && *code != 307 && *code != 308) {
        error(n, f.path("statusCode"),
              fmt::format("redirect status must be 301, 302, 307 or 308, got {}", *code));
      } else {
        out.statusCode = static_cast<uint16_t>(*code);
      }
    }
  }
}

void DocumentDecoder::decodeRewrite(NodeRef node, const std::string& path, UrlRewrite& out) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kRewriteFields);
  if (NodeRef n = f.get("hostname")) {
    out.hostname = readHostname(n, f.path("hostname"), /*allowWildcard=*/false);
  }
  if (NodeRef n = f.get("path")) {
    if (expect(n, NodeKind::Map, f.path("path"))) {
      Fields p(*this, n, f.path("path"), kPathFields);
      p.require("type");
      p.require("value");
      RewriteKind kind{};
      if (p.readEnum<RewriteKind>("type", kind, kRewriteKinds, "path rewrite type")) {
        out.pathKind = kind;
      }
      if (p.readString("value", out.path)) {
        if (auto problem = checkPath(out.path)) {
          error(p.get("value"), p.path("value"), *problem);
        }
      }
    }
  }
  if (!f.has("hostname") && !f.has("path")) {
    error(node, path, "urlRewrite needs a hostname, a path or both");
  }
}

void DocumentDecoder::checkFilters(const Rule& rule, const std::string& path) {
  std::array<std::optional<size_t>, 4> firstOfType;
  std::optional<size_t> redirect;
  std::optional<size_t> rewrite;
  const std::string filtersPath = join(path, "filters");
  for (size_t i = 0; i < rule.filters.size(); ++i) {
    const Filter& filter = rule.filters[i];
    const auto type = static_cast<size_t>(filter.type);
    Place at{filter.location, indexed(filtersPath, i)};
    if (firstOfType[type]) {
      reporter_.error(at, fmt::format("only one {} filter per rule; another is at {}",
                                      kFilterTypes[type].name,
                                      indexed(filtersPath, *firstOfType[type])));
      continue;
    }
    firstOfType[type] = i;
    if (filter.type == FilterType::RequestRedirect) {
      redirect = i;
    }
    if (filter.type == FilterType::UrlRewrite) {
      rewrite = i;
    }
    if ((filter.type == FilterType::RequestRedirect && rewrite) ||
        (filter.type == FilterType::UrlRewrite && redirect)) {
      reporter_.error(at, "a rule cannot both redirect and rewrite the URL");
    }
    if (filter.type == FilterType::UrlRewrite &&
        filter.rewrite.pathKind == RewriteKind::ReplacePrefixMatch) {
      for (size_t m = 0; m < rule.matches.size(); ++m) {
        const auto& match = rule.matches[m];
        if (match.path && match.path->type != PathMatchType::PathPrefix) {
          reporter_.error(Place{filter.location, join(at.path, "urlRewrite.path")},
                          fmt::format("ReplacePrefixMatch needs every match of the rule to use a "
                                      "PathPrefix path; matches[{}] uses {}",
                                      m,
                                      enumName<PathMatchType>(kPathMatchTypes, match.path->type)));
          break;
        }
      }
    }
  }
}

// --- pools -------------------------------------------------------------------------------------

void DocumentDecoder::decodePool(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return;
  }
  Fields f(*this, node, path, kPoolFields);
  Pool pool;
  pool.location = locate(node);
  f.require("name");
  if (f.readString("name", pool.name)) {
    checkName(f.get("name"), f.path("name"), pool.name);
    checks_.definePool(pool.name, f.place("name"));
  }
  bool algorithmOk = !f.has("algorithm") ||
                     f.readEnum<Algorithm>("algorithm", pool.algorithm, kAlgorithms, "algorithm");
  const bool hashing = pool.algorithm == Algorithm::RingHash || pool.algorithm == Algorithm::Maglev;
  const std::string_view algorithmName = enumName<Algorithm>(kAlgorithms, pool.algorithm);

  // Fields that only one algorithm uses are errors elsewhere: they would silently do nothing.
  auto onlyFor = [&](std::string_view key, bool applies, std::string_view which) {
    if (!algorithmOk) {
      return false; // the algorithm is already reported; its own fields cannot be judged
    }
    if (f.has(key) && !applies) {
      error(f.get(key), f.path(key),
            fmt::format("{} applies only to algorithm {}, not {}", key, which, algorithmName));
      return false;
    }
    return f.has(key);
  };

  if (onlyFor("hashOn", hashing, "ring_hash or maglev") && !f.get("hashOn").isNull()) {
    pool.hashOn = decodeHashOn(f.get("hashOn"), f.path("hashOn"));
  }
  if (hashing && !pool.hashOn) {
    pool.hashOn = HashOn{};
  }

  NodeRef endpoints = f.get("endpoints");
  bool endpointsClean = true;
  if (!endpoints || endpoints.isNull() || (endpoints.isSequence() && endpoints.size() == 0)) {
    error(endpoints ? endpoints : node, endpoints ? f.path("endpoints") : path,
          "a pool needs at least one endpoint");
    endpointsClean = false;
  } else {
    std::unordered_map<std::string, size_t> addresses;
    forEach(endpoints, f.path("endpoints"),
            [&](NodeRef item, const std::string& itemPath, size_t i) {
              size_t before = errorCount();
              auto endpoint = decodeEndpoint(item, itemPath);
              if (!endpoint || errorCount() != before) {
                endpointsClean = false;
              }
              if (!endpoint) {
                return;
              }
              if (auto address = parseSocketAddress(endpoint->address)) {
                std::string canonical = canonicalAddress(address.value());
                auto [it, inserted] = addresses.try_emplace(canonical, i);
                if (!inserted) {
                  error(item, join(itemPath, "address"),
                        fmt::format("duplicate endpoint {}; already listed at {}", canonical,
                                    indexed(f.path("endpoints"), it->second)));
                }
              }
              pool.endpoints.push_back(std::move(*endpoint));
            });
    if (!endpoints.isSequence()) {
      endpointsClean = false;
    }
    if (endpointsClean) {
      uint64_t total = 0;
      for (const auto& e : pool.endpoints) {
        total += e.weight;
      }
      if (total == 0) {
        error(endpoints, f.path("endpoints"),
              "endpoint weights sum to 0: at least one endpoint needs a weight above 0");
      }
    }
  }

  if (NodeRef n = f.get("healthCheck"); n && !n.isNull()) {
    pool.healthCheck = decodeHealthCheck(n, f.path("healthCheck"));
  }
  if (NodeRef n = f.get("outlierDetection"); n && !n.isNull()) {
    pool.outlierDetection = decodeOutlier(n, f.path("outlierDetection"));
  }
  if (NodeRef n = f.get("circuitBreaker"); n && !n.isNull()) {
    pool.circuitBreaker = decodeCircuitBreaker(n, f.path("circuitBreaker"));
  }
  f.readInt("panicThresholdPercent", pool.panicThresholdPercent, 0, 100);
  if (onlyFor("ringHashMinSize", pool.algorithm == Algorithm::RingHash, "ring_hash")) {
    f.readInt("ringHashMinSize", pool.ringHashMinSize, 1, 8'388'608);
  }
  if (onlyFor("boundedLoadFactor", pool.algorithm == Algorithm::RingHash, "ring_hash")) {
    if (f.readNumber("boundedLoadFactor", pool.boundedLoadFactor, 0, 100) &&
        pool.boundedLoadFactor != 0 && pool.boundedLoadFactor <= 1) {
      error(f.get("boundedLoadFactor"), f.path("boundedLoadFactor"),
            fmt::format("must be 0 (off) or above 1 (e.g. 1.25), got {}",
                        f.get("boundedLoadFactor").scalar()));
    }
  }
  const uint64_t minMaglev = uint64_t{kMaglevSlotsPerEndpoint} * pool.endpoints.size();
  if (onlyFor("maglevTableSize", pool.algorithm == Algorithm::Maglev, "maglev")) {
    NodeRef n = f.get("maglevTableSize");
    if (auto size = readInt(n, f.path("maglevTableSize"), 1, kMaxMaglevTableSize)) {
      if (!isPrime(static_cast<uint64_t>(*size))) {
        error(n, f.path("maglevTableSize"),
              fmt::format("must be a prime number, got {} (try {})", *size,
                          nextPrime(static_cast<uint64_t>(*size))));
      } else if (static_cast<uint64_t>(*size) < minMaglev) {
        error(n, f.path("maglevTableSize"),
              fmt::format("must be at least 100 x endpoints = {} for an even spread, got {} "
                          "(try {})",
                          minMaglev, *size, nextPrime(minMaglev)));
      } else {
        pool.maglevTableSize = static_cast<uint32_t>(*size);
      }
    }
  } else if (pool.algorithm == Algorithm::Maglev && minMaglev > pool.maglevTableSize) {
    // Not given: the default grows with the pool so that the spread stays even.
    if (minMaglev > kMaxMaglevTableSize) {
      error(endpoints, f.path("endpoints"),
            fmt::format("maglev supports at most {} endpoints per pool, got {}",
                        kMaxMaglevTableSize / kMaglevSlotsPerEndpoint, pool.endpoints.size()));
    } else {
      pool.maglevTableSize = static_cast<uint32_t>(nextPrime(minMaglev));
    }
  }
  f.readDuration("connectTimeout", pool.connectTimeout, kMinDuration, kMaxDuration);
  f.readDuration("upstreamIdleTimeout", pool.upstreamIdleTimeout, kMinDuration, kMaxDuration);
  f.readInt("maxIdlePerEndpoint", pool.maxIdlePerEndpoint, 0, 100'000);
  config_.pools.push_back(std::move(pool));
}

std::optional<HashOn> DocumentDecoder::decodeHashOn(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kHashOnFields);
  size_t given = f.has("header") + f.has("cookie") + f.has("clientIp");
  if (given != 1) {
    error(node, path,
          given == 0 ? "hashOn needs one of header, cookie or clientIp"
                     : "hashOn takes exactly one of header, cookie or clientIp");
    return std::nullopt;
  }
  HashOn hash;
  if (NodeRef n = f.get("header")) {
    auto name = readHeaderName(n, f.path("header"));
    if (!name) {
      return std::nullopt;
    }
    hash.kind = HashOn::Kind::Header;
    hash.name = std::move(*name);
  } else if (NodeRef n = f.get("cookie")) {
    auto name = readString(n, f.path("cookie"));
    if (!name) {
      return std::nullopt;
    }
    if (!isToken(*name)) {
      error(n, f.path("cookie"),
            fmt::format("invalid cookie name {}: must be an HTTP token", quote(*name)));
      return std::nullopt;
    }
    hash.kind = HashOn::Kind::Cookie;
    hash.name = std::move(*name);
  } else {
    bool on = false;
    if (!f.readBool("clientIp", on)) {
      return std::nullopt;
    }
    if (!on) {
      error(f.get("clientIp"), f.path("clientIp"),
            "clientIp: false selects nothing; use clientIp: true, header or cookie");
      return std::nullopt;
    }
    hash.kind = HashOn::Kind::ClientIp;
  }
  return hash;
}

std::optional<Endpoint> DocumentDecoder::decodeEndpoint(NodeRef node, const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kEndpointFields);
  Endpoint endpoint;
  endpoint.location = locate(node);
  f.require("address");
  if (f.readString("address", endpoint.address)) {
    auto address = parseSocketAddress(endpoint.address);
    if (!address) {
      error(f.get("address"), f.path("address"), address.error().message);
    }
  }
  f.readInt("weight", endpoint.weight, 0, kMaxWeight);
  return endpoint;
}

std::optional<HealthCheck> DocumentDecoder::decodeHealthCheck(NodeRef node,
                                                              const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kHealthCheckFields);
  HealthCheck check;
  bool kindOk = !f.has("type") ||
                f.readEnum<HealthCheck::Kind>("type", check.kind, kHealthCheckKinds, "check type");
  if (kindOk && check.kind == HealthCheck::Kind::Tcp) {
    for (std::string_view key : {"path", "host", "expectedStatuses"}) {
      if (f.has(key)) {
        error(f.get(key), f.path(key), fmt::format("{} applies only to type http, not tcp", key));
      }
    }
  } else {
    if (f.readString("path", check.path)) {
      if (auto problem = checkRequestTarget(check.path)) {
        error(f.get("path"), f.path("path"), *problem);
      }
    }
    if (NodeRef n = f.get("host")) {
      if (auto host = readHostname(n, f.path("host"), /*allowWildcard=*/false)) {
        check.host = std::move(*host);
      }
    }
    if (NodeRef n = f.get("expectedStatuses")) {
      if (n.isSequence() && n.size() == 0) {
        error(n, f.path("expectedStatuses"), "expectedStatuses must not be empty");
      } else if (!n.isNull()) {
        check.expectedStatuses.clear();
        forEach(n, f.path("expectedStatuses"),
                [&](NodeRef item, const std::string& itemPath, size_t) {
                  decodeStatusRange(item, itemPath, check);
                });
      }
    }
  }
  bool interval = f.readDuration("interval", check.interval, kMinDuration, kMaxDuration);
  bool timeout = f.readDuration("timeout", check.timeout, kMinDuration, kMaxDuration);
  if ((interval || timeout) && check.timeout >= check.interval) {
    std::string_view key = timeout ? "timeout" : "interval";
    error(f.get(key), f.path(key),
          fmt::format("health check timeout ({}) must be shorter than its interval ({})",
                      formatDuration(check.timeout), formatDuration(check.interval)));
  }
  f.readNumber("jitterPercent", check.jitterPercent, 0, 100);
  f.readInt("healthyThreshold", check.healthyThreshold, 1, kMaxThreshold);
  f.readInt("unhealthyThreshold", check.unhealthyThreshold, 1, kMaxThreshold);
  f.readBool("startHealthy", check.startHealthy);
  return check;
}

void DocumentDecoder::decodeStatusRange(NodeRef node, const std::string& path, HealthCheck& out) {
  if (!node.isScalar()) {
    error(node, path,
          fmt::format("expected a status code or a range such as \"200-399\", got {}",
                      node.describe()));
    return;
  }
  std::string_view text = node.scalar();
  auto parse = [](std::string_view s, int& v) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
  };
  int lo = 0;
  int hi = 0;
  size_t dash = text.find('-');
  bool ok = dash == std::string_view::npos
                ? parse(text, lo) && (hi = lo, true)
                : parse(text.substr(0, dash), lo) && parse(text.substr(dash + 1), hi);
  if (!ok) {
    error(
        node, path,
        fmt::format("expected a status code or a range such as \"200-399\", got {}", quote(text)));
    return;
  }
  if (lo < 100 || hi > 599 || lo > hi) {
    error(node, path,
          fmt::format("status codes must be within 100-599 with low <= high, got {}", quote(text)));
    return;
  }
  out.expectedStatuses.emplace_back(static_cast<uint16_t>(lo), static_cast<uint16_t>(hi));
}

std::optional<OutlierDetection> DocumentDecoder::decodeOutlier(NodeRef node,
                                                               const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kOutlierFields);
  OutlierDetection outlier;
  f.readInt("consecutive5xx", outlier.consecutive5xx, 1, kMaxThreshold);
  f.readInt("consecutiveGatewayErrors", outlier.consecutiveGatewayErrors, 1, kMaxThreshold);
  bool base =
      f.readDuration("baseEjectionTime", outlier.baseEjectionTime, kMinDuration, kMaxDuration);
  bool max = f.readDuration("maxEjectionTime", outlier.maxEjectionTime, kMinDuration, kMaxDuration);
  if ((base || max) && outlier.baseEjectionTime > outlier.maxEjectionTime) {
    std::string_view key = base ? "baseEjectionTime" : "maxEjectionTime";
    error(f.get(key), f.path(key),
          fmt::format("baseEjectionTime ({}) exceeds maxEjectionTime ({})",
                      formatDuration(outlier.baseEjectionTime),
                      formatDuration(outlier.maxEjectionTime)));
  }
  f.readInt("maxEjectionPercent", outlier.maxEjectionPercent, 0, 100);
  return outlier;
}

std::optional<CircuitBreaker> DocumentDecoder::decodeCircuitBreaker(NodeRef node,
                                                                    const std::string& path) {
  if (!expect(node, NodeKind::Map, path)) {
    return std::nullopt;
  }
  Fields f(*this, node, path, kCircuitBreakerFields);
  CircuitBreaker breaker;
  f.readInt("maxConnections", breaker.maxConnections, 1, kMaxCount);
  f.readInt("maxPendingRequests", breaker.maxPendingRequests, 1, kMaxCount);
  f.readInt("maxRequests", breaker.maxRequests, 1, kMaxCount);
  f.readInt("maxRetries", breaker.maxRetries, 0, kMaxCount);
  return breaker;
}

} // namespace

void Decoder::decodeText(std::string_view text, const std::string& file) {
  reporter_.beginFile(file);
  ParseOutput parsed = parseYaml(text, cache_, file);
  DocumentDecoder decoder(reporter_, checks_, config_, file, cache_);
  for (NodeRef root : parsed.tree->documents()) {
    decoder.decodeDocument(root);
  }
  if (parsed.error) {
    reporter_.error(Location{file, parsed.error->mark.line, parsed.error->mark.column}, "",
                    parsed.error->message);
  } else if (parsed.tree->documents().empty()) {
    reporter_.error(
        Location{file, 1, 1}, "",
        fmt::format("document is empty: expected a map with apiVersion: {}", kApiVersion));
  }
}

} // namespace fulcrum::config
