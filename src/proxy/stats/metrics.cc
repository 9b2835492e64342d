#include "proxy/stats/metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace fulcrum::stats {

void WorkerStats::merge(const WorkerStats& other) {
#define FULCRUM_STATS_MERGE(field, name, help) field += other.field;
  FULCRUM_WORKER_COUNTERS(FULCRUM_STATS_MERGE)
  FULCRUM_WORKER_GAUGES(FULCRUM_STATS_MERGE)
#undef FULCRUM_STATS_MERGE
  for (size_t i = 0; i < flags.size(); ++i) {
    flags[i] += other.flags[i];
  }
  if (routes.size() < other.routes.size()) {
    routes.resize(other.routes.size());
  }
  for (size_t slot = 0; slot < other.routes.size(); ++slot) {
    for (size_t c = 0; c < routes[slot].byClass.size(); ++c) {
      routes[slot].byClass[c] += other.routes[slot].byClass[c];
    }
  }
}

uint32_t RouteSlots::slotFor(std::string_view routeName) {
  auto it = std::find(names_.begin() + 1, names_.end(), routeName);
  if (it != names_.end()) {
    return static_cast<uint32_t>(it - names_.begin());
  }
  names_.emplace_back(routeName);
  return static_cast<uint32_t>(names_.size() - 1);
}

void writeMetricHeader(std::string& out, std::string_view name, std::string_view type,
                       std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
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

void renderWorkerMetrics(const WorkerStats& sum, const std::vector<std::string>& routeNames,
                         std::string& out) {
  auto it = std::back_inserter(out);
#define FULCRUM_STATS_RENDER_COUNTER(field, name, help)                                            \
  writeMetricHeader(out, name, "counter", help);                                                   \
  fmt::format_to(it, "{} {}\n", name, sum.field);
#define FULCRUM_STATS_RENDER_GAUGE(field, name, help)                                              \
  writeMetricHeader(out, name, "gauge", help);                                                     \
  fmt::format_to(it, "{} {}\n", name, sum.field);
  FULCRUM_WORKER_COUNTERS(FULCRUM_STATS_RENDER_COUNTER)
  FULCRUM_WORKER_GAUGES(FULCRUM_STATS_RENDER_GAUGE)
#undef FULCRUM_STATS_RENDER_COUNTER
#undef FULCRUM_STATS_RENDER_GAUGE

  writeMetricHeader(out, "fulcrum_requests_total", "counter",
                    "Responses sent to clients by route and status class");
  for (size_t slot = 0; slot < sum.routes.size() && slot < routeNames.size(); ++slot) {
    const std::string route = escapeLabelValue(routeNames[slot]);
    for (size_t c = 0; c < sum.routes[slot].byClass.size(); ++c) {
      if (sum.routes[slot].byClass[c] != 0) {
        fmt::format_to(it, "fulcrum_requests_total{{route=\"{}\",code_class=\"{}xx\"}} {}\n", route,
                       c + 1, sum.routes[slot].byClass[c]);
      }
    }
  }

  writeMetricHeader(out, "fulcrum_responses_flagged_total", "counter",
                    "Responses the proxy generated or cut short, by response flag");
  for (size_t i = 1; i < sum.flags.size(); ++i) {
    fmt::format_to(it, "fulcrum_responses_flagged_total{{flag=\"{}\"}} {}\n",
                   shortName(static_cast<ResponseFlag>(i)), sum.flags[i]);
  }
}

} // namespace fulcrum::stats
