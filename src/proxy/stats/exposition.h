#pragma once

// The metric model behind /metrics and /stats, and its three renderings:
// - Prometheus text format 0.0.4 (the default),
// - OpenMetrics 1.0 text (when the scraper's Accept asks for application/openmetrics-text),
// - JSON for /stats (the same families and numbers, for tools and the admin UI).
//
// The main thread builds a list of Family values from the merged worker stats (buildFamilies)
// plus its own (config, process) and renders it once per scrape. Nothing here runs on a worker.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/stats/metrics.h"

namespace fulcrum::stats {

enum class MetricType : uint8_t { Counter, Gauge, Histogram, Info };

struct Label {
  std::string name;
  std::string value;
};

struct Series {
  std::vector<Label> labels;
  double value = 0;           // counter, gauge, info (1)
  LatencyHistogram histogram; // histogram only (per-bucket counts, sum in nanoseconds)
};

// One metric family. `name` is the full sample name for counters (ending in _total) and info
// metrics (ending in _info), and the base name for gauges and histograms; OpenMetrics strips
// the suffix in its TYPE/HELP/UNIT lines. `unit` (seconds, bytes) is the name's unit suffix or
// empty.
struct Family {
  std::string name;
  MetricType type = MetricType::Counter;
  std::string help;
  std::string unit;
  std::vector<Series> series;
};

enum class ExpositionFormat : uint8_t { PrometheusText, OpenMetrics };

// The exposition format for an Accept header value: OpenMetrics when it lists
// application/openmetrics-text with a non-zero q, else Prometheus text.
ExpositionFormat negotiateFormat(std::string_view accept);
std::string_view contentType(ExpositionFormat format);

// Renders `families` in `format` (OpenMetrics ends with "# EOF").
std::string renderExposition(const std::vector<Family>& families, ExpositionFormat format);
// Renders `families` as the /stats JSON document:
// {"families":[{"name","type","help","unit","series":[{"labels":{..},"value"}|
//   {"labels":{..},"buckets":[{"le":0.0005,"count":N},...,{"le":"+Inf","count":N}],"sum","count"}]}]}
std::string renderJson(const std::vector<Family>& families);

// Appends the families of the merged worker stats: every table counter and gauge, the response
// flags, and the labelled listener/route/pool/endpoint families (names and slots from `slots`).
// Zero-valued label sets are kept for counters whose slot exists (so rates start at 0), except
// per-status-class series, which appear with their first response.
void buildWorkerFamilies(const WorkerStats& sum, const StatsSlots& slots, std::vector<Family>& out);

// Building families (for code outside stats/ that adds its own, e.g. health state):
// addFamily appends an empty family (unit derived from the name's _seconds/_bytes suffix) and
// returns it — valid until the next append to `out`, so fill it first; addValue/addHistogram
// append one series.
Family& addFamily(std::vector<Family>& out, std::string name, MetricType type, std::string help);
void addValue(Family& family, std::vector<Label> labels, double value);
void addHistogram(Family& family, std::vector<Label> labels, const LatencyHistogram& histogram);

// Label value and HELP escaping per the text formats.
std::string escapeLabelValue(std::string_view value);
std::string escapeHelp(std::string_view help, ExpositionFormat format);
// A float in the exposition ("+Inf", "0.0005", "1.0", "42"); `forceDecimal` adds ".0" to integral
// values (le labels: identical in both formats).
std::string formatNumber(double value, bool forceDecimal = false);

} // namespace fulcrum::stats
