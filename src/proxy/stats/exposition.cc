#include "proxy/stats/exposition.h"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fulcrum::stats {

namespace {

constexpr std::string_view kCodeClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The unit a name declares by its suffix (before _total): "seconds", "bytes" or "".
std::string unitOf(std::string_view name) {
  if (endsWith(name, "_total")) {
    name.remove_suffix(6);
  }
  if (endsWith(name, "_seconds")) {
    return "seconds";
  }
  if (endsWith(name, "_bytes")) {
    return "bytes";
  }
  return "";
}

void addClasses(Family& f, const std::vector<Label>& labels, const StatusClasses& classes) {
  for (size_t c = 0; c < classes.size(); ++c) {
    if (classes[c] != 0) {
      std::vector<Label> l = labels;
      l.push_back({"code_class", std::string(kCodeClasses[c])});
      addValue(f, std::move(l), static_cast<double>(classes[c]));
    }
  }
}

// The OpenMetrics family name: counters and info metrics without their sample suffix.
std::string_view baseName(const Family& f) {
  std::string_view name = f.name;
  if (f.type == MetricType::Counter && endsWith(name, "_total")) {
    name.remove_suffix(6);
  } else if (f.type == MetricType::Info && endsWith(name, "_info")) {
    name.remove_suffix(5);
  }
  return name;
}

std::string_view typeName(MetricType type, ExpositionFormat format) {
  switch (type) {
  case MetricType::Counter:
    return "counter";
  case MetricType::Gauge:
    return "gauge";
  case MetricType::Histogram:
    return "histogram";
  case MetricType::Info:
    return format == ExpositionFormat::OpenMetrics ? "info" : "gauge";
  }
  return "untyped";
}

void appendLabels(std::string& out, const std::vector<Label>& labels, std::string_view extraName,
                  std::string_view extraValue) {
  if (labels.empty() && extraName.empty()) {
    return;
  }
  out.push_back('{');
  bool first = true;
  for (const Label& l : labels) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out += l.name;
    out += "=\"";
    out += escapeLabelValue(l.value);
    out.push_back('"');
  }
  if (!extraName.empty()) {
    if (!first) {
      out.push_back(',');
    }
    out += extraName;
    out += "=\"";
    out += extraValue;
    out.push_back('"');
  }
  out.push_back('}');
}

void appendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<Label>& labels, std::string_view value,
                  std::string_view extraName = {}, std::string_view extraValue = {}) {
  out += name;
  out += suffix;
  appendLabels(out, labels, extraName, extraValue);
  out.push_back(' ');
  out += value;
  out.push_back('\n');
}

std::string leOf(size_t bucket) {
  if (bucket >= kLatencyBoundsNanos.size()) {
    return "+Inf";
  }
  return formatNumber(static_cast<double>(kLatencyBoundsNanos[bucket]) / 1e9, true);
}

} // namespace

Family& addFamily(std::vector<Family>& out, std::string name, MetricType type, std::string help) {
  Family f;
  f.unit = unitOf(name);
  f.name = std::move(name);
  f.type = type;
  f.help = std::move(help);
  out.push_back(std::move(f));
  return out.back();
}

void addValue(Family& f, std::vector<Label> labels, double value) {
  Series s;
  s.labels = std::move(labels);
  s.value = value;
  f.series.push_back(std::move(s));
}

void addHistogram(Family& f, std::vector<Label> labels, const LatencyHistogram& h) {
  Series s;
  s.labels = std::move(labels);
  s.histogram = h;
  f.series.push_back(std::move(s));
}

std::string formatNumber(double value, bool forceDecimal) {
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  if (std::isnan(value)) {
    return "NaN";
  }
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::string s = fmt::format("{}", static_cast<int64_t>(value));
    if (forceDecimal) {
      s += ".0";
    }
    return s;
  }
  return fmt::format("{}", value);
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escapeHelp(std::string_view help, ExpositionFormat format) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && format == ExpositionFormat::OpenMetrics) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

ExpositionFormat negotiateFormat(std::string_view accept) {
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const size_t semi = range.find(';');
    std::string_view type = range.substr(0, semi);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) {
      type.remove_prefix(1);
    }
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
      type.remove_suffix(1);
    }
    if (type != "application/openmetrics-text") {
      continue;
    }
    double q = 1;
    std::string_view params = semi == std::string_view::npos ? "" : range.substr(semi);
    if (size_t at = params.find("q="); at != std::string_view::npos) {
      q = std::strtod(std::string(params.substr(at + 2)).c_str(), nullptr);
    }
    if (q > 0) {
      return ExpositionFormat::OpenMetrics;
    }
  }
  return ExpositionFormat::PrometheusText;
}

std::string_view contentType(ExpositionFormat format) {
  return format == ExpositionFormat::OpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string renderExposition(const std::vector<Family>& families, ExpositionFormat format) {
  const bool om = format == ExpositionFormat::OpenMetrics;
  std::string out;
  out.reserve(16384);
  for (const Family& f : families) {
    if (f.series.empty()) {
      continue;
    }
    const std::string_view base = om ? baseName(f) : std::string_view(f.name);
    out += "# HELP ";
    out += base;
    out.push_back(' ');
    out += escapeHelp(f.help, format);
    out += "\n# TYPE ";
    out += base;
    out.push_back(' ');
    out += typeName(f.type, format);
    out.push_back('\n');
    if (om && !f.unit.empty()) {
      out += "# UNIT ";
      out += base;
      out.push_back(' ');
      out += f.unit;
      out.push_back('\n');
    }
    for (const Series& s : f.series) {
      if (f.type != MetricType::Histogram) {
        appendSample(out, f.name, "", s.labels, formatNumber(s.value));
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t b = 0; b < kLatencyBuckets; ++b) {
        cumulative += s.histogram.counts[b];
        appendSample(out, f.name, "_bucket", s.labels, fmt::format("{}", cumulative), "le",
                     leOf(b));
      }
      appendSample(out, f.name, "_sum", s.labels,
                   formatNumber(static_cast<double>(s.histogram.sumNanos) / 1e9));
      appendSample(out, f.name, "_count", s.labels, fmt::format("{}", cumulative));
    }
  }
  if (om) {
    out += "# EOF\n";
  }
  return out;
}

std::string renderJson(const std::vector<Family>& families) {
  nlohmann::json list = nlohmann::json::array();
  for (const Family& f : families) {
    nlohmann::json series = nlohmann::json::array();
    for (const Series& s : f.series) {
      nlohmann::json labels = nlohmann::json::object();
      for (const Label& l : s.labels) {
        labels[l.name] = l.value;
      }
      nlohmann::json item = {{"labels", std::move(labels)}};
      if (f.type == MetricType::Histogram) {
        nlohmann::json buckets = nlohmann::json::array();
        uint64_t cumulative = 0;
        for (size_t b = 0; b < kLatencyBuckets; ++b) {
          cumulative += s.histogram.counts[b];
          nlohmann::json le =
              b < kLatencyBoundsNanos.size()
                  ? nlohmann::json(static_cast<double>(kLatencyBoundsNanos[b]) / 1e9)
                  : nlohmann::json("+Inf");
          buckets.push_back({{"le", std::move(le)}, {"count", cumulative}});
        }
        item["buckets"] = std::move(buckets);
        item["sum"] = static_cast<double>(s.histogram.sumNanos) / 1e9;
        item["count"] = cumulative;
      } else if (s.value == std::floor(s.value) && std::fabs(s.value) < 1e15) {
        item["value"] = static_cast<int64_t>(s.value);
      } else {
        item["value"] = s.value;
      }
      series.push_back(std::move(item));
    }
    static constexpr const char* kTypes[] = {"counter", "gauge", "histogram", "info"};
    list.push_back({{"name", f.name},
                    {"type", kTypes[static_cast<int>(f.type)]},
                    {"help", f.help},
                    {"unit", f.unit},
                    {"series", std::move(series)}});
  }
  nlohmann::json doc = {{"families", std::move(list)}};
  return doc.dump(2) + "\n";
}

void buildWorkerFamilies(const WorkerStats& sum, const StatsSlots& slots,
                         std::vector<Family>& out) {
#define FULCRUM_STATS_FAMILY(field, name, help)                                                    \
  addValue(addFamily(out, name, MetricType::Counter, help), {}, static_cast<double>(sum.field));
  FULCRUM_WORKER_COUNTERS(FULCRUM_STATS_FAMILY)
#undef FULCRUM_STATS_FAMILY
#define FULCRUM_STATS_FAMILY(field, name, help)                                                    \
  addValue(addFamily(out, name, MetricType::Gauge, help), {}, static_cast<double>(sum.field));
  FULCRUM_WORKER_GAUGES(FULCRUM_STATS_FAMILY)
#undef FULCRUM_STATS_FAMILY

  Family& flags = addFamily(out, "fulcrum_responses_flagged_total", MetricType::Counter,
                            "Responses the proxy generated or cut short, by response flag");
  for (size_t i = 1; i < sum.flags.size(); ++i) {
    addValue(flags, {{"flag", std::string(shortName(static_cast<ResponseFlag>(i)))}},
             static_cast<double>(sum.flags[i]));
  }

  // Listeners.
  const auto& listenerNames = slots.listeners.names();
  const size_t listenerCount = std::min(listenerNames.size(), sum.listeners.size());
  addFamily(out, "fulcrum_listener_requests_total", MetricType::Counter,
            "Responses sent to clients by listener and status class");
  addFamily(out, "fulcrum_listener_connections_total", MetricType::Counter,
            "Client connections accepted, by listener");
  addFamily(out, "fulcrum_listener_connections_rejected_total", MetricType::Counter,
            "Client connections closed at accept (maxConnections), by listener");
  addFamily(out, "fulcrum_listener_connections_active", MetricType::Gauge,
            "Client connections open, by listener");
  addFamily(out, "fulcrum_listener_received_bytes_total", MetricType::Counter,
            "Bytes read from clients, by listener");
  addFamily(out, "fulcrum_listener_sent_bytes_total", MetricType::Counter,
            "Bytes written to clients, by listener");
  {
    const size_t first = out.size() - 6;
    for (size_t s = 1; s < listenerCount; ++s) {
      const ListenerCounters& l = sum.listeners[s];
      const std::vector<Label> labels = {{"listener", listenerNames[s]}};
      addClasses(out[first], labels, l.byClass);
      addValue(out[first + 1], labels, static_cast<double>(l.connectionsTotal));
      addValue(out[first + 2], labels, static_cast<double>(l.connectionsRejected));
      addValue(out[first + 3], labels, static_cast<double>(l.connectionsActive));
      addValue(out[first + 4], labels, static_cast<double>(l.bytesReceived));
      addValue(out[first + 5], labels, static_cast<double>(l.bytesSent));
    }
  }

  // Routes.
  const auto& routeNames = slots.routes.names();
  const size_t routeCount = std::min(routeNames.size(), sum.routes.size());
  addFamily(out, "fulcrum_requests_total", MetricType::Counter,
            "Responses sent to clients by route and status class (route=\"\": no route)");
  addFamily(out, "fulcrum_request_duration_seconds", MetricType::Histogram,
            "Request duration by route, from the parsed request head to the last response byte");
  {
    const size_t first = out.size() - 2;
    for (size_t s = 0; s < routeCount; ++s) {
      const RouteCounters& r = sum.routes[s];
      const std::vector<Label> labels = {{"route", routeNames[s]}};
      addClasses(out[first], labels, r.byClass);
      if (s != 0 || r.duration.count() != 0) {
        addHistogram(out[first + 1], labels, r.duration);
      }
    }
  }

  // Pools.
  const auto& poolNames = slots.pools.names();
  const size_t poolCount = std::min(poolNames.size(), sum.pools.size());
  addFamily(out, "fulcrum_pool_requests_total", MetricType::Counter,
            "Responses to requests routed to the pool, by status class (proxy-generated 5xx "
            "included)");
  addFamily(out, "fulcrum_pool_upstream_response_seconds", MetricType::Histogram,
            "Upstream response time by pool: request head sent to final response head received");
  addFamily(out, "fulcrum_pool_upstream_connect_seconds", MetricType::Histogram,
            "Upstream connect time by pool (successful connects)");
  addFamily(out, "fulcrum_pool_upstream_connections_total", MetricType::Counter,
            "Upstream connections opened, by pool");
  addFamily(out, "fulcrum_pool_upstream_connect_failures_total", MetricType::Counter,
            "Upstream connection attempts that failed or timed out, by pool");
  addFamily(out, "fulcrum_pool_upstream_connections_active", MetricType::Gauge,
            "Upstream connections open (busy or idle) to the pool's current endpoints");
  {
    const size_t first = out.size() - 6;
    for (size_t s = 1; s < poolCount; ++s) {
      const PoolCounters& p = sum.pools[s];
      const std::vector<Label> labels = {{"pool", poolNames[s]}};
      addClasses(out[first], labels, p.byClass);
      addHistogram(out[first + 1], labels, p.responseTime);
      addHistogram(out[first + 2], labels, p.connectTime);
      addValue(out[first + 3], labels, static_cast<double>(p.connectionsTotal));
      addValue(out[first + 4], labels, static_cast<double>(p.connectFailures));
      addValue(out[first + 5], labels, static_cast<double>(p.connectionsActive));
    }
  }

  // Endpoints (off with --metrics-endpoint-series=off).
  if (slots.endpoints.enabled()) {
    const auto& endpointNames = slots.endpoints.names();
    const size_t endpointCount = std::min(endpointNames.size(), sum.endpoints.size());
    addFamily(out, "fulcrum_endpoint_requests_total", MetricType::Counter,
              "Responses to requests sent to the endpoint, by pool and status class");
    addFamily(out, "fulcrum_endpoint_upstream_connections_total", MetricType::Counter,
              "Upstream connections opened to the endpoint");
    addFamily(out, "fulcrum_endpoint_upstream_connect_failures_total", MetricType::Counter,
              "Upstream connection attempts to the endpoint that failed or timed out");
    addFamily(out, "fulcrum_endpoint_upstream_connections_active", MetricType::Gauge,
              "Upstream connections open (busy or idle) to the endpoint");
    const size_t first = out.size() - 4;
    for (size_t s = 1; s < endpointCount; ++s) {
      const EndpointCounters& e = sum.endpoints[s];
      const auto [pool, address] = StatsSlots::splitEndpointKey(endpointNames[s]);
      const std::vector<Label> labels = {{"pool", std::string(pool)},
                                         {"endpoint", std::string(address)}};
      addClasses(out[first], labels, e.byClass);
      addValue(out[first + 1], labels, static_cast<double>(e.connectionsTotal));
      addValue(out[first + 2], labels, static_cast<double>(e.connectFailures));
      addValue(out[first + 3], labels, static_cast<double>(e.connectionsActive));
    }
  }

  Family& overflow =
      addFamily(out, "fulcrum_metrics_series_overflow_total", MetricType::Counter,
                "Label values folded into the __overflow__ series (--metrics-max-series)");
  addValue(overflow, {{"dimension", "listener"}},
           static_cast<double>(slots.listeners.overflowed()));
  addValue(overflow, {{"dimension", "route"}}, static_cast<double>(slots.routes.overflowed()));
  addValue(overflow, {{"dimension", "pool"}}, static_cast<double>(slots.pools.overflowed()));
  addValue(overflow, {{"dimension", "endpoint"}},
           static_cast<double>(slots.endpoints.overflowed()));
}

} // namespace fulcrum::stats
