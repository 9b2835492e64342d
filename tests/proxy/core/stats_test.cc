#include <gtest/gtest.h>

#include "proxy/stats/metrics.h"
#include "proxy/stats/response_flags.h"

namespace fulcrum::stats {
namespace {

TEST(ResponseFlagsTest, ShortNamesAreStable) {
  EXPECT_EQ(shortName(ResponseFlag::None), "-");
  EXPECT_EQ(shortName(ResponseFlag::NoRoute), "NR");
  EXPECT_EQ(shortName(ResponseFlag::NoHealthyUpstream), "UH");
  EXPECT_EQ(shortName(ResponseFlag::UpstreamConnectFailure), "UF");
  EXPECT_EQ(shortName(ResponseFlag::UpstreamTimeout), "UT");
  EXPECT_EQ(shortName(ResponseFlag::UpstreamReset), "UR");
  EXPECT_EQ(shortName(ResponseFlag::UpstreamProtocolError), "UPE");
  EXPECT_EQ(shortName(ResponseFlag::DownstreamProtocolError), "DPE");
  EXPECT_EQ(shortName(ResponseFlag::DownstreamHeadTimeout), "DT");
  for (size_t i = 1; i < kResponseFlagCount; ++i) {
    EXPECT_FALSE(describe(static_cast<ResponseFlag>(i)).empty());
  }
}

TEST(WorkerStatsTest, MergeSumsEveryField) {
  WorkerStats a;
  WorkerStats b;
  a.routes.resize(2);
  b.routes.resize(3);
  a.downstreamConnectionsTotal = 3;
  b.downstreamConnectionsTotal = 4;
  a.downstreamConnectionsActive = 2;
  b.downstreamConnectionsActive = -1; // a gauge may be negative in one shard's view
  a.countResponse(1, 200);
  b.countResponse(1, 204);
  b.countResponse(2, 503);
  b.countResponse(0, 404);
  b.countResponse(0, 99); // ignored: not a status
  a.flags[static_cast<size_t>(ResponseFlag::NoRoute)] = 1;
  b.flags[static_cast<size_t>(ResponseFlag::NoRoute)] = 2;

  WorkerStats sum;
  sum.merge(a);
  sum.merge(b);
  EXPECT_EQ(sum.downstreamConnectionsTotal, 7u);
  EXPECT_EQ(sum.downstreamConnectionsActive, 1);
  ASSERT_EQ(sum.routes.size(), 3u);
  EXPECT_EQ(sum.routes[1].byClass[1], 2u);
  EXPECT_EQ(sum.routes[2].byClass[4], 1u);
  EXPECT_EQ(sum.routes[0].byClass[3], 1u);
  EXPECT_EQ(sum.flags[static_cast<size_t>(ResponseFlag::NoRoute)], 3u);
}

TEST(RouteSlotsTest, SlotsAreStableAndAppendOnly) {
  RouteSlots slots;
  EXPECT_EQ(slots.names().size(), 1u); // slot 0: unrouted
  const uint32_t api = slots.slotFor("api");
  const uint32_t web = slots.slotFor("web");
  EXPECT_NE(api, web);
  EXPECT_NE(api, RouteSlots::kUnrouted);
  EXPECT_EQ(slots.slotFor("api"), api); // a reload keeps the slot
  EXPECT_EQ(slots.names()[web], "web");
}

TEST(RenderTest, PrometheusText) {
  WorkerStats sum;
  sum.routes.resize(2);
  sum.countResponse(1, 200);
  sum.countResponse(1, 201);
  sum.countResponse(0, 404);
  sum.downstreamConnectionsActive = 5;
  std::string out;
  renderWorkerMetrics(sum, {"", "a\"b"}, out);
  EXPECT_NE(out.find("# TYPE fulcrum_downstream_connections_active gauge\n"
                     "fulcrum_downstream_connections_active 5\n"),
            std::string::npos);
  EXPECT_NE(out.find("fulcrum_requests_total{route=\"a\\\"b\",code_class=\"2xx\"} 2\n"),
            std::string::npos);
  EXPECT_NE(out.find("fulcrum_requests_total{route=\"\",code_class=\"4xx\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("fulcrum_responses_flagged_total{flag=\"UF\"} 0\n"), std::string::npos);
  EXPECT_EQ(out.find("code_class=\"5xx\""), std::string::npos); // zero samples are omitted
}

} // namespace
} // namespace fulcrum::stats
