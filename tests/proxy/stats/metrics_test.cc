#include <gtest/gtest.h>

#include "proxy/stats/metrics.h"
#include "proxy/stats/response_flags.h"

namespace fulcrum::stats {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

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

TEST(LatencyHistogramTest, BucketsAreUpperInclusive) {
  LatencyHistogram h;
  h.observe(microseconds(500));                  // == 0.0005: first bucket (le is inclusive)
  h.observe(microseconds(500) + nanoseconds(1)); // just above: second bucket
  h.observe(milliseconds(3));                    // (0.0025, 0.005]
  h.observe(seconds(10));                        // the last finite bucket
  h.observe(seconds(11));                        // +Inf
  h.observe(nanoseconds(-5));                    // a clock step back counts as 0
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[1], 1u);
  EXPECT_EQ(h.counts[3], 1u);
  EXPECT_EQ(h.counts[kLatencyBuckets - 2], 1u);
  EXPECT_EQ(h.counts[kLatencyBuckets - 1], 1u);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.sumNanos, 500'000u + 500'001u + 3'000'000u + 10'000'000'000u + 11'000'000'000u);
}

TEST(LatencyHistogramTest, BoundsAscend) {
  for (size_t i = 1; i < kLatencyBoundsNanos.size(); ++i) {
    EXPECT_LT(kLatencyBoundsNanos[i - 1], kLatencyBoundsNanos[i]);
  }
}

WorkerStats sized() {
  WorkerStats s;
  s.reserveSlots(3, 2, 2, 3);
  return s;
}

TEST(WorkerStatsTest, RecordRequestCountsRoutePoolAndEndpoint) {
  WorkerStats s = sized();
  s.recordRequest({1, 1, 1, 2, 200, true, milliseconds(7)});
  s.recordRequest({1, 1, 1, 0, 503, true, milliseconds(1)}); // no endpoint (no healthy upstream)
  s.recordRequest({1, 0, 0, 0, 400, false, {}});             // rejected before routing
  EXPECT_EQ(s.routes[1].byClass[1], 1u);
  EXPECT_EQ(s.routes[1].byClass[4], 1u);
  EXPECT_EQ(s.routes[1].duration.count(), 2u);
  EXPECT_EQ(s.routes[0].byClass[3], 1u);
  EXPECT_EQ(s.routes[0].duration.count(), 0u);
  EXPECT_EQ(s.pools[1].byClass[1], 1u);
  EXPECT_EQ(s.pools[1].byClass[4], 1u);
  EXPECT_EQ(s.endpoints[2].byClass[1], 1u);
  EXPECT_EQ(s.endpoints[0].byClass[4], 0u); // slot 0 is never counted
  EXPECT_EQ(s.pools[0].byClass[3], 0u);
  EXPECT_EQ(s.listeners[1].byClass[1], 1u);
  EXPECT_EQ(s.listeners[1].byClass[3], 1u);
  EXPECT_EQ(s.listeners[1].byClass[4], 1u);
}

TEST(WorkerStatsTest, MergeSumsEveryField) {
  WorkerStats a = sized();
  WorkerStats b;
  b.reserveSlots(4, 3, 3, 4); // a later snapshot: more slots
  a.downstreamConnectionsTotal = 3;
  b.downstreamConnectionsTotal = 4;
  a.downstreamConnectionsActive = 2;
  b.downstreamConnectionsActive = -1; // a gauge may be negative in one shard's view
  a.recordRequest({1, 1, 1, 1, 200, true, milliseconds(2)});
  b.recordRequest({1, 1, 1, 1, 204, true, milliseconds(20)});
  b.recordRequest({1, 3, 2, 3, 503, true, seconds(30)});
  b.countResponse(0, 404);
  b.countResponse(0, 99); // ignored: not a status
  a.flags[static_cast<size_t>(ResponseFlag::NoRoute)] = 1;
  b.flags[static_cast<size_t>(ResponseFlag::NoRoute)] = 2;
  a.addReceived(1, 100);
  b.addReceived(1, 50);
  b.addSent(2, 7);
  a.listeners[1].connectionsActive = 3;
  b.listeners[1].connectionsActive = -1;
  a.pools[1].connectTime.observe(milliseconds(1));
  b.pools[1].responseTime.observe(milliseconds(1));
  a.pools[1].connectionsTotal = 1;
  b.pools[1].connectFailures = 2;
  a.endpoints[1].connectionsTotal = 5;
  b.endpoints[1].connectionsActive = 4;

  WorkerStats sum;
  sum.merge(a);
  sum.merge(b);
  EXPECT_EQ(sum.downstreamConnectionsTotal, 7u);
  EXPECT_EQ(sum.downstreamConnectionsActive, 1);
  ASSERT_EQ(sum.routes.size(), 4u);
  ASSERT_EQ(sum.listeners.size(), 3u);
  ASSERT_EQ(sum.pools.size(), 3u);
  ASSERT_EQ(sum.endpoints.size(), 4u);
  EXPECT_EQ(sum.routes[1].byClass[1], 2u);
  EXPECT_EQ(sum.routes[1].duration.count(), 2u);
  EXPECT_EQ(sum.routes[1].duration.sumNanos, 22'000'000u);
  EXPECT_EQ(sum.routes[3].byClass[4], 1u);
  EXPECT_EQ(sum.routes[3].duration.counts[kLatencyBuckets - 1], 1u);
  EXPECT_EQ(sum.routes[0].byClass[3], 1u);
  EXPECT_EQ(sum.flags[static_cast<size_t>(ResponseFlag::NoRoute)], 3u);
  EXPECT_EQ(sum.downstreamBytesReceived, 150u);
  EXPECT_EQ(sum.listeners[1].bytesReceived, 150u);
  EXPECT_EQ(sum.listeners[2].bytesSent, 7u);
  EXPECT_EQ(sum.downstreamBytesSent, 7u);
  EXPECT_EQ(sum.listeners[1].connectionsActive, 2);
  EXPECT_EQ(sum.listeners[1].byClass[1], 2u);
  EXPECT_EQ(sum.listeners[1].byClass[4], 1u);
  EXPECT_EQ(sum.pools[1].byClass[1], 2u);
  EXPECT_EQ(sum.pools[2].byClass[4], 1u);
  EXPECT_EQ(sum.pools[1].connectTime.count(), 1u);
  EXPECT_EQ(sum.pools[1].responseTime.count(), 1u);
  EXPECT_EQ(sum.pools[1].connectionsTotal, 1u);
  EXPECT_EQ(sum.pools[1].connectFailures, 2u);
  EXPECT_EQ(sum.endpoints[1].byClass[1], 2u);
  EXPECT_EQ(sum.endpoints[3].byClass[4], 1u);
  EXPECT_EQ(sum.endpoints[1].connectionsTotal, 5u);
  EXPECT_EQ(sum.endpoints[1].connectionsActive, 4);
}

TEST(SlotTableTest, SlotsAreStableAndAppendOnly) {
  RouteSlots slots;
  EXPECT_EQ(slots.names().size(), 1u); // slot 0: unrouted
  const uint32_t api = slots.slotFor("api");
  const uint32_t web = slots.slotFor("web");
  EXPECT_NE(api, web);
  EXPECT_NE(api, RouteSlots::kUnrouted);
  EXPECT_EQ(slots.slotFor("api"), api); // a reload keeps the slot
  EXPECT_EQ(slots.names()[web], "web");
}

TEST(SlotTableTest, CardinalityCapFoldsNewNamesIntoOverflow) {
  SlotTable slots(/*maxSeries=*/2);
  const uint32_t a = slots.slotFor("a");
  const uint32_t b = slots.slotFor("b");
  const uint32_t c = slots.slotFor("c");
  const uint32_t d = slots.slotFor("d");
  EXPECT_EQ(c, d);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  EXPECT_EQ(slots.names()[c], SlotTable::kOverflow);
  EXPECT_EQ(slots.slotFor("a"), a); // known names keep their own slot
  EXPECT_EQ(slots.slotFor("c"), c);
  EXPECT_EQ(slots.overflowed(), 2u); // c and d, each counted once
  EXPECT_EQ(slots.size(), 4u);       // "", a, b, __overflow__
}

TEST(SlotTableTest, DisabledTableMapsEverythingToNone) {
  SlotTable slots(10, /*enabled=*/false);
  EXPECT_EQ(slots.slotFor("x"), SlotTable::kNone);
  EXPECT_EQ(slots.size(), 1u);
}

TEST(StatsSlotsTest, EndpointKeysSplit) {
  const std::string key = StatsSlots::endpointKey("pool-a", "10.0.0.1:80");
  const auto [pool, address] = StatsSlots::splitEndpointKey(key);
  EXPECT_EQ(pool, "pool-a");
  EXPECT_EQ(address, "10.0.0.1:80");
  const auto [op, oa] = StatsSlots::splitEndpointKey(SlotTable::kOverflow);
  EXPECT_EQ(op, SlotTable::kOverflow);
  EXPECT_EQ(oa, SlotTable::kOverflow);
}

} // namespace
} // namespace fulcrum::stats
