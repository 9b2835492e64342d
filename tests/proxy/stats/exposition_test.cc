#include <cstdlib>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "proxy/stats/exposition.h"

namespace fulcrum::stats {
namespace {

using std::chrono::milliseconds;

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

bool nameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// name{label="value",...} number — the sample line grammar shared by both text formats (label
// values with \\, \" and \n escapes only). std::regex is avoided: GCC 12 warns inside it under
// the ASan preset.
bool wellFormedSample(const std::string& line) {
  size_t i = 0;
  auto name = [&] {
    const size_t start = i;
    while (i < line.size() && nameChar(line[i], i == start)) {
      ++i;
    }
    return i > start;
  };
  if (!name()) {
    return false;
  }
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      if (!name() || line.compare(i, 2, "=\"") != 0) {
        return false;
      }
      i += 2;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (i + 1 >= line.size() ||
              std::string_view("\\\"n").find(line[i + 1]) == std::string_view::npos) {
            return false;
          }
          ++i;
        }
        ++i;
      }
      if (i >= line.size()) {
        return false;
      }
      ++i; // closing quote
      if (i < line.size() && line[i] == ',') {
        ++i;
      }
    }
    if (i >= line.size()) {
      return false;
    }
    ++i; // '}'
  }
  if (i >= line.size() || line[i] != ' ') {
    return false;
  }
  const std::string value = line.substr(i + 1);
  if (value == "+Inf" || value == "-Inf" || value == "NaN") {
    return true;
  }
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  return !value.empty() && end == value.c_str() + value.size();
}

// One route "a\"b\\c\nd" (hostile characters), one listener, one pool, two endpoints.
struct Fixture {
  StatsSlots slots;
  WorkerStats sum;
  Fixture() {
    slots.routes.slotFor("a\"b\\c\nd");
    slots.listeners.slotFor("web");
    slots.pools.slotFor("p");
    slots.endpoints.slotFor(StatsSlots::endpointKey("p", "127.0.0.1:1"));
    slots.endpoints.slotFor(StatsSlots::endpointKey("p", "127.0.0.1:2"));
    sum.reserveSlots(slots.routes.size(), slots.listeners.size(), slots.pools.size(),
                     slots.endpoints.size());
    sum.recordRequest({1, 1, 1, 1, 200, true, milliseconds(3)});
    sum.recordRequest({1, 1, 1, 2, 201, true, milliseconds(30)});
    sum.recordRequest({1, 1, 1, 2, 502, true, milliseconds(2000)});
    sum.countResponse(0, 404);
    sum.downstreamConnectionsActive = 5;
    sum.listeners[1].connectionsTotal = 9;
    sum.pools[1].connectTime.observe(milliseconds(1));
  }
  std::vector<Family> families() const {
    std::vector<Family> out;
    buildWorkerFamilies(sum, slots, out);
    return out;
  }
};

TEST(ExpositionTest, PrometheusTextSamplesAndEscaping) {
  Fixture f;
  const std::string out = renderExposition(f.families(), ExpositionFormat::PrometheusText);
  EXPECT_TRUE(contains(out, "# HELP fulcrum_downstream_connections_active Client connections "
                            "open\n# TYPE fulcrum_downstream_connections_active gauge\n"
                            "fulcrum_downstream_connections_active 5\n"));
  EXPECT_TRUE(contains(out, "# TYPE fulcrum_requests_total counter\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_requests_total{route=\"a\\\"b\\\\c\\nd\",code_class=\"2xx\"} 2\n"));
  EXPECT_TRUE(contains(out, "fulcrum_requests_total{route=\"\",code_class=\"4xx\"} 1\n"));
  EXPECT_FALSE(contains(out, "code_class=\"3xx\"")); // zero classes are omitted
  EXPECT_TRUE(contains(out, "fulcrum_responses_flagged_total{flag=\"UF\"} 0\n"));
  EXPECT_TRUE(contains(out, "fulcrum_listener_connections_total{listener=\"web\"} 9\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_listener_requests_total{listener=\"web\",code_class=\"2xx\"} 2\n"));
  EXPECT_TRUE(contains(out, "fulcrum_pool_requests_total{pool=\"p\",code_class=\"5xx\"} 1\n"));
  EXPECT_TRUE(contains(out, "fulcrum_endpoint_requests_total{pool=\"p\",endpoint=\"127.0.0.1:2\","
                            "code_class=\"2xx\"} 1\n"));
  EXPECT_FALSE(contains(out, "# EOF"));
  EXPECT_FALSE(contains(out, "# UNIT"));
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Fixture f;
  const std::string out = renderExposition(f.families(), ExpositionFormat::PrometheusText);
  const std::string route = "route=\"a\\\"b\\\\c\\nd\"";
  EXPECT_TRUE(contains(out, "# TYPE fulcrum_request_duration_seconds histogram\n"));
  // 3 ms, 30 ms, 2 s.
  EXPECT_TRUE(
      contains(out, "fulcrum_request_duration_seconds_bucket{" + route + ",le=\"0.0025\"} 0\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_request_duration_seconds_bucket{" + route + ",le=\"0.005\"} 1\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_request_duration_seconds_bucket{" + route + ",le=\"0.05\"} 2\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_request_duration_seconds_bucket{" + route + ",le=\"1.0\"} 2\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_request_duration_seconds_bucket{" + route + ",le=\"2.5\"} 3\n"));
  EXPECT_TRUE(
      contains(out, "fulcrum_request_duration_seconds_bucket{" + route + ",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(contains(out, "fulcrum_request_duration_seconds_sum{" + route + "} 2.033\n"));
  EXPECT_TRUE(contains(out, "fulcrum_request_duration_seconds_count{" + route + "} 3\n"));

  // Every histogram: bucket counts never decrease, and +Inf equals _count.
  std::istringstream lines(out);
  std::string previousSeries;
  uint64_t previous = 0;
  uint64_t inf = 0;
  size_t checked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const uint64_t value = std::stoull(line.substr(line.rfind(' ') + 1));
    if (const size_t le = line.find(",le=\""); line.find("_bucket{") != std::string::npos) {
      ASSERT_NE(le, std::string::npos) << line;
      const std::string series = line.substr(0, le);
      if (series == previousSeries) {
        EXPECT_GE(value, previous) << line;
      }
      previousSeries = series;
      previous = value;
      constexpr std::string_view kInf = ",le=\"+Inf\"";
      if (line.compare(le, kInf.size(), kInf) == 0) {
        inf = value;
      }
    } else if (line.find("_seconds_count") != std::string::npos) {
      EXPECT_EQ(value, inf) << line;
      ++checked;
    }
  }
  EXPECT_GE(checked, 3u); // route duration, pool response and connect time
}

TEST(ExpositionTest, OpenMetricsNamesUnitsAndEof) {
  Fixture f;
  std::vector<Family> families = f.families();
  families.push_back(Family{"fulcrum_config_info",
                            MetricType::Info,
                            "config \"revision\"",
                            "",
                            {Series{{{"hash", "abc"}}, 1, {}}}});
  const std::string out = renderExposition(families, ExpositionFormat::OpenMetrics);
  // Counter families are named without _total; their samples keep it.
  EXPECT_TRUE(contains(out, "# TYPE fulcrum_requests counter\n"));
  EXPECT_FALSE(contains(out, "# TYPE fulcrum_requests_total"));
  EXPECT_TRUE(contains(out, "fulcrum_requests_total{route=\"\",code_class=\"4xx\"} 1\n"));
  EXPECT_TRUE(contains(out, "# TYPE fulcrum_downstream_received_bytes counter\n"
                            "# UNIT fulcrum_downstream_received_bytes bytes\n"));
  EXPECT_TRUE(contains(out, "# UNIT fulcrum_request_duration_seconds seconds\n"));
  EXPECT_TRUE(contains(out, "# TYPE fulcrum_config info\n"));
  EXPECT_TRUE(contains(out, "# HELP fulcrum_config config \\\"revision\\\"\n"));
  EXPECT_TRUE(contains(out, "fulcrum_config_info{hash=\"abc\"} 1\n"));
  ASSERT_GE(out.size(), 6u);
  EXPECT_EQ(out.substr(out.size() - 6), "# EOF\n");
  EXPECT_EQ(out.find("# EOF"), out.size() - 6); // exactly once, at the end

  // Prometheus text renders the info metric as a gauge, HELP quotes unescaped.
  const std::string text = renderExposition(families, ExpositionFormat::PrometheusText);
  EXPECT_TRUE(contains(text, "# TYPE fulcrum_config_info gauge\n"));
  EXPECT_TRUE(contains(text, "# HELP fulcrum_config_info config \"revision\"\n"));
}

TEST(ExpositionTest, EveryFamilyOnceAndEveryLineWellFormed) {
  Fixture f;
  for (auto format : {ExpositionFormat::PrometheusText, ExpositionFormat::OpenMetrics}) {
    const std::string out = renderExposition(f.families(), format);
    std::set<std::string> typed;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("# TYPE ", 0) == 0) {
        const std::string name = line.substr(7, line.find(' ', 7) - 7);
        EXPECT_TRUE(typed.insert(name).second) << "duplicate family " << name;
      } else if (line.rfind("# ", 0) != 0) {
        EXPECT_TRUE(wellFormedSample(line)) << line;
      }
    }
    EXPECT_GT(typed.size(), 20u);
  }
}

TEST(ExpositionTest, NegotiatesOpenMetricsFromAccept) {
  // What Prometheus 2.42 sends.
  EXPECT_EQ(negotiateFormat("application/openmetrics-text;version=1.0.0,application/"
                            "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                            "q=0.5,*/*;q=0.1"),
            ExpositionFormat::OpenMetrics);
  EXPECT_EQ(negotiateFormat("text/plain;version=0.0.4"), ExpositionFormat::PrometheusText);
  EXPECT_EQ(negotiateFormat(""), ExpositionFormat::PrometheusText);
  EXPECT_EQ(negotiateFormat("*/*"), ExpositionFormat::PrometheusText);
  EXPECT_EQ(negotiateFormat("application/openmetrics-text; q=0"), ExpositionFormat::PrometheusText);
  EXPECT_EQ(contentType(ExpositionFormat::OpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(contentType(ExpositionFormat::PrometheusText),
            "text/plain; version=0.0.4; charset=utf-8");
}

TEST(ExpositionTest, NumbersAndEscapes) {
  EXPECT_EQ(formatNumber(0.0005, true), "0.0005");
  EXPECT_EQ(formatNumber(10, true), "10.0");
  EXPECT_EQ(formatNumber(42), "42");
  EXPECT_EQ(formatNumber(-3), "-3");
  EXPECT_EQ(formatNumber(2.5), "2.5");
  EXPECT_EQ(formatNumber(1.0 / 0.0), "+Inf");
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escapeHelp("a\\b\"c\nd", ExpositionFormat::PrometheusText), "a\\\\b\"c\\nd");
  EXPECT_EQ(escapeHelp("a\\b\"c\nd", ExpositionFormat::OpenMetrics), "a\\\\b\\\"c\\nd");
}

TEST(ExpositionTest, JsonCarriesTheSameNumbers) {
  Fixture f;
  const nlohmann::json doc = nlohmann::json::parse(renderJson(f.families()));
  bool sawRequests = false;
  bool sawDuration = false;
  for (const auto& family : doc["families"]) {
    if (family["name"] == "fulcrum_requests_total") {
      EXPECT_EQ(family["type"], "counter");
      for (const auto& s : family["series"]) {
        if (s["labels"]["route"] == "a\"b\\c\nd" && s["labels"]["code_class"] == "2xx") {
          EXPECT_EQ(s["value"], 2);
          sawRequests = true;
        }
      }
    }
    if (family["name"] == "fulcrum_request_duration_seconds") {
      EXPECT_EQ(family["unit"], "seconds");
      for (const auto& s : family["series"]) {
        if (s["labels"]["route"] == "a\"b\\c\nd") {
          EXPECT_EQ(s["count"], 3);
          EXPECT_DOUBLE_EQ(s["sum"].get<double>(), 2.033);
          EXPECT_EQ(s["buckets"].back()["le"], "+Inf");
          EXPECT_EQ(s["buckets"].back()["count"], 3);
          EXPECT_EQ(s["buckets"][0]["le"], 0.0005);
          sawDuration = true;
        }
      }
    }
  }
  EXPECT_TRUE(sawRequests);
  EXPECT_TRUE(sawDuration);
}

TEST(ExpositionTest, OverflowSeriesAndEndpointSwitch) {
  StatsSlots slots;
  slots.pools.configure(1, true);
  slots.endpoints.configure(100, false);
  slots.pools.slotFor("p1");
  const uint32_t overflow = slots.pools.slotFor("p2");
  slots.pools.slotFor("p3");
  EXPECT_EQ(slots.endpoints.slotFor(StatsSlots::endpointKey("p1", "1.2.3.4:5")), 0u);
  WorkerStats sum;
  sum.reserveSlots(slots.routes.size(), slots.listeners.size(), slots.pools.size(),
                   slots.endpoints.size());
  sum.recordRequest({0, 0, overflow, 0, 200, false, {}});
  std::vector<Family> families;
  buildWorkerFamilies(sum, slots, families);
  const std::string out = renderExposition(families, ExpositionFormat::PrometheusText);
  EXPECT_TRUE(
      contains(out, "fulcrum_pool_requests_total{pool=\"__overflow__\",code_class=\"2xx\"} 1\n"));
  EXPECT_TRUE(contains(out, "fulcrum_metrics_series_overflow_total{dimension=\"pool\"} 2\n"));
  EXPECT_TRUE(contains(out, "fulcrum_metrics_series_overflow_total{dimension=\"route\"} 0\n"));
  EXPECT_FALSE(contains(out, "fulcrum_endpoint_"));
}

} // namespace
} // namespace fulcrum::stats
