#include "config/serialize.h"

#include <fmt/format.h>

#include "config/units.h"

namespace fulcrum::config {
namespace {

using Json = nlohmann::ordered_json;

std::string_view name(PathMatchType t) {
  switch (t) {
  case PathMatchType::Exact:
    return "Exact";
  case PathMatchType::PathPrefix:
    return "PathPrefix";
  case PathMatchType::RegularExpression:
    return "RegularExpression";
  }
  return "?";
}

std::string_view name(StringMatchType t) {
  return t == StringMatchType::Exact ? "Exact" : "RegularExpression";
}

std::string_view name(Algorithm a) {
  switch (a) {
  case Algorithm::RoundRobin:
    return "round_robin";
  case Algorithm::LeastRequest:
    return "least_request";
  case Algorithm::Random:
    return "random";
  case Algorithm::RingHash:
    return "ring_hash";
  case Algorithm::Maglev:
    return "maglev";
  }
  return "?";
}

std::string_view name(RateLimitKey k) {
  switch (k) {
  case RateLimitKey::ClientIp:
    return "client-ip";
  case RateLimitKey::Header:
    return "header";
  case RateLimitKey::Route:
    return "route";
  }
  return "?";
}

Json duration(Duration d) {
  return formatDuration(d);
}
Json size(uint64_t bytes) {
  return formatSize(bytes);
}

Json toJson(const ListenerLimits& l) {
  return Json{{"maxRequestLineBytes", size(l.maxRequestLineBytes)},
              {"maxRequestHeadBytes", size(l.maxRequestHeadBytes)},
              {"maxHeaders", l.maxHeaders},
              {"maxRequestBodyBytes", size(l.maxRequestBodyBytes)},
              {"bufferBytes", size(l.bufferBytes)},
              {"headTimeout", duration(l.headTimeout)},
              {"idleTimeout", duration(l.idleTimeout)},
              {"maxConnections", l.maxConnections}};
}

Json toJson(const Listener& l) {
  return Json{{"name", l.name},
              {"address", l.address},
              {"trustedHops", l.trustedHops},
              {"proxyProtocol", l.proxyProtocol},
              {"limits", toJson(l.limits)}};
}

template <class M> Json valueMatches(const std::vector<M>& matches) {
  Json out = Json::array();
  for (const auto& m : matches) {
    out.push_back(Json{{"name", m.name}, {"value", m.value}, {"type", name(m.type)}});
  }
  return out;
}

Json toJson(const RouteMatch& m) {
  Json out = Json::object();
  if (m.path) {
    out["path"] = Json{{"type", name(m.path->type)}, {"value", m.path->value}};
  }
  if (!m.headers.empty()) {
    out["headers"] = valueMatches(m.headers);
  }
  if (!m.queryParams.empty()) {
    out["queryParams"] = valueMatches(m.queryParams);
  }
  if (m.method) {
    out["method"] = *m.method;
  }
  return out;
}

Json headerValues(const std::vector<HeaderValue>& values) {
  Json out = Json::array();
  for (const auto& v : values) {
    out.push_back(Json{{"name", v.name}, {"value", v.value}});
  }
  return out;
}

Json toJson(const Filter& f) {
  Json out;
  switch (f.type) {
  case FilterType::RequestHeaderModifier:
  case FilterType::ResponseHeaderModifier: {
    bool request = f.type == FilterType::RequestHeaderModifier;
    out["type"] = request ? "RequestHeaderModifier" : "ResponseHeaderModifier";
    out[request ? "requestHeaderModifier" : "responseHeaderModifier"] =
        Json{{"add", headerValues(f.headers.add)},
             {"set", headerValues(f.headers.set)},
             {"remove", f.headers.remove}};
    break;
  }
  case FilterType::RequestRedirect: {
    out["type"] = "RequestRedirect";
    Json r = Json::object();
    if (f.redirect.scheme) {
      r["scheme"] = *f.redirect.scheme;
    }
    if (f.redirect.hostname) {
      r["hostname"] = *f.redirect.hostname;
    }
    if (f.redirect.port) {
      r["port"] = *f.redirect.port;
    }
    if (f.redirect.path) {
      r["path"] = *f.redirect.path;
    }
    r["statusCode"] = f.redirect.statusCode;
    out["requestRedirect"] = r;
    break;
  }
  case FilterType::UrlRewrite: {
    out["type"] = "URLRewrite";
    Json r = Json::object();
    if (f.rewrite.hostname) {
      r["hostname"] = *f.rewrite.hostname;
    }
    if (f.rewrite.pathKind) {
      r["path"] = Json{{"type", *f.rewrite.pathKind == RewriteKind::ReplacePrefixMatch
                                    ? "ReplacePrefixMatch"
                                    : "ReplaceFullPath"},
                       {"value", f.rewrite.path}};
    }
    out["urlRewrite"] = r;
    break;
  }
  }
  return out;
}

Json toJson(const Rule& r) {
  Json out = Json::object();
  if (!r.matches.empty()) {
    Json matches = Json::array();
    for (const auto& m : r.matches) {
      matches.push_back(toJson(m));
    }
    out["matches"] = matches;
  }
  if (!r.backends.empty()) {
    Json backends = Json::array();
    for (const auto& b : r.backends) {
      backends.push_back(Json{{"pool", b.pool}, {"weight", b.weight}});
    }
    out["backends"] = backends;
  }
  Json timeouts = Json::object();
  if (r.timeouts.request) {
    timeouts["request"] = duration(*r.timeouts.request);
  }
  if (r.timeouts.backendRequest) {
    timeouts["backendRequest"] = duration(*r.timeouts.backendRequest);
  }
  if (r.timeouts.connect) {
    timeouts["connect"] = duration(*r.timeouts.connect);
  }
  if (r.timeouts.idle) {
    timeouts["idle"] = duration(*r.timeouts.idle);
  }
  if (!timeouts.empty()) {
    out["timeouts"] = timeouts;
  }
  if (r.retry) {
    out["retry"] = Json{{"attempts", r.retry->attempts},
                        {"on", r.retry->on},
                        {"backoff", Json{{"base", duration(r.retry->backoff.base)},
                                         {"max", duration(r.retry->backoff.max)}}},
                        {"budgetPercent", r.retry->budgetPercent},
                        {"nonIdempotent", r.retry->nonIdempotent}};
  }
  if (r.rateLimit) {
    Json limit{{"requestsPerSecond", r.rateLimit->requestsPerSecond},
               {"burst", r.rateLimit->burst},
               {"key", name(r.rateLimit->key)}};
    if (r.rateLimit->key == RateLimitKey::Header) {
      limit["header"] = r.rateLimit->header;
    }
    out["rateLimit"] = limit;
  }
  if (!r.filters.empty()) {
    Json filters = Json::array();
    for (const auto& f : r.filters) {
      filters.push_back(toJson(f));
    }
    out["filters"] = filters;
  }
  if (r.stickyHashOn) {
    out["stickyHashOn"] = *r.stickyHashOn;
  }
  return out;
}

Json toJson(const Route& r) {
  Json rules = Json::array();
  for (const auto& rule : r.rules) {
    rules.push_back(toJson(rule));
  }
  return Json{{"name", r.name}, {"hostnames", r.hostnames}, {"rules", rules}};
}

Json toJson(const Pool& p) {
  Json out{{"name", p.name}, {"algorithm", name(p.algorithm)}};
  if (p.hashOn) {
    switch (p.hashOn->kind) {
    case HashOn::Kind::Header:
      out["hashOn"] = Json{{"header", p.hashOn->name}};
      break;
    case HashOn::Kind::Cookie:
      out["hashOn"] = Json{{"cookie", p.hashOn->name}};
      break;
    case HashOn::Kind::ClientIp:
      out["hashOn"] = Json{{"clientIp", true}};
      break;
    }
  }
  Json endpoints = Json::array();
  for (const auto& e : p.endpoints) {
    endpoints.push_back(Json{{"address", e.address}, {"weight", e.weight}});
  }
  out["endpoints"] = endpoints;
  if (p.healthCheck) {
    const auto& h = *p.healthCheck;
    Json check{{"type", h.kind == HealthCheck::Kind::Http ? "http" : "tcp"}};
    if (h.kind == HealthCheck::Kind::Http) {
      check["path"] = h.path;
      if (!h.host.empty()) {
        check["host"] = h.host;
      }
      Json statuses = Json::array();
      for (auto [lo, hi] : h.expectedStatuses) {
        statuses.push_back(lo == hi ? Json(lo) : Json(fmt::format("{}-{}", lo, hi)));
      }
      check["expectedStatuses"] = statuses;
    }
    check["interval"] = duration(h.interval);
    check["timeout"] = duration(h.timeout);
    check["jitterPercent"] = h.jitterPercent;
    check["healthyThreshold"] = h.healthyThreshold;
    check["unhealthyThreshold"] = h.unhealthyThreshold;
    check["startHealthy"] = h.startHealthy;
    out["healthCheck"] = check;
  }
  if (p.outlierDetection) {
    const auto& o = *p.outlierDetection;
    out["outlierDetection"] = Json{{"consecutive5xx", o.consecutive5xx},
                                   {"consecutiveGatewayErrors", o.consecutiveGatewayErrors},
                                   {"baseEjectionTime", duration(o.baseEjectionTime)},
                                   {"maxEjectionTime", duration(o.maxEjectionTime)},
                                   {"maxEjectionPercent", o.maxEjectionPercent}};
  }
  if (p.circuitBreaker) {
    const auto& c = *p.circuitBreaker;
    out["circuitBreaker"] = Json{{"maxConnections", c.maxConnections},
                                 {"maxPendingRequests", c.maxPendingRequests},
                                 {"maxRequests", c.maxRequests},
                                 {"maxRetries", c.maxRetries}};
  }
  out["panicThresholdPercent"] = p.panicThresholdPercent;
  if (p.algorithm == Algorithm::RingHash) {
    out["ringHashMinSize"] = p.ringHashMinSize;
    out["boundedLoadFactor"] = p.boundedLoadFactor;
  }
  if (p.algorithm == Algorithm::Maglev) {
    out["maglevTableSize"] = p.maglevTableSize;
  }
  out["connectTimeout"] = duration(p.connectTimeout);
  out["upstreamIdleTimeout"] = duration(p.upstreamIdleTimeout);
  out["maxIdlePerEndpoint"] = p.maxIdlePerEndpoint;
  return out;
}

} // namespace

nlohmann::ordered_json toJson(const Config& config) {
  Json listeners = Json::array();
  for (const auto& l : config.listeners) {
    listeners.push_back(toJson(l));
  }
  Json routes = Json::array();
  for (const auto& r : config.routes) {
    routes.push_back(toJson(r));
  }
  Json pools = Json::array();
  for (const auto& p : config.pools) {
    pools.push_back(toJson(p));
  }
  return Json{{"apiVersion", config.apiVersion},
              {"listeners", listeners},
              {"routes", routes},
              {"pools", pools}};
}

} // namespace fulcrum::config
