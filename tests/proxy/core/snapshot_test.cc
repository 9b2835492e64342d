#include <gtest/gtest.h>

#include "config/loader.h"
#include "proxy/snapshot/snapshot.h"

namespace fulcrum::snapshot {
namespace {

constexpr const char* kConfig = R"(apiVersion: fulcrum/v1
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - name: api
    hostnames: [api.example.com]
    rules:
      - matches: [{path: {type: PathPrefix, value: /v1}}]
        backends: [{pool: a}]
  - name: rest
    rules:
      - backends: [{pool: b}]
pools:
  - name: a
    endpoints: [{address: 127.0.0.1:9001, weight: 3}, {address: 127.0.0.1:9002}]
  - name: b
    algorithm: random
    endpoints: [{address: "[::1]:9003"}]
)";

Result<SnapshotConstSharedPtr> compile(std::string_view text, stats::StatsSlots& slots,
                                       uint64_t generation = 1) {
  auto loaded = config::loadString(text, "test.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].format());
  CompileInput input;
  input.config = std::move(*loaded.config);
  input.hash = loaded.hash;
  input.source = loaded.source;
  input.generation = generation;
  return compileSnapshot(std::move(input), slots);
}

TEST(SnapshotTest, CompilesPoolsListenersAndRoutes) {
  stats::StatsSlots slots;
  auto snap = compile(kConfig, slots);
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  const Snapshot& s = *snap.value();
  ASSERT_EQ(s.pools.size(), 2u);
  EXPECT_EQ(s.pools[0].endpoints[0].address, "127.0.0.1:9001");
  EXPECT_EQ(s.pools[0].endpoints[0].weight, 3u);
  EXPECT_EQ(s.pools[0].endpoints[1].endpoint.port(), 9002);
  EXPECT_TRUE(s.pools[1].endpoints[0].endpoint.address().is_v6());
  EXPECT_NE(s.pools[0].balancer, nullptr);
  ASSERT_NE(s.findListener("web"), nullptr);
  EXPECT_EQ(s.findListener("web")->address.port, 0);
  EXPECT_EQ(s.findListener("nope"), nullptr);
  ASSERT_EQ(s.routeSlots.size(), 2u);
  EXPECT_EQ(s.routeSlotCount, 3u);

  std::vector<http::HeaderField> headers;
  router::RequestView view{"api.example.com", "/v1/users", "", "GET", headers};
  const auto* rule = s.routes->match(view);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->routeName, "api");
  EXPECT_EQ(router::pickBackend(*rule, 12345), 0u);
  view.host = "other.example.com";
  rule = s.routes->match(view);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->routeName, "rest");
  EXPECT_EQ(router::pickBackend(*rule, 1), 1u);
}

TEST(SnapshotTest, RouteSlotsSurviveReloads) {
  stats::StatsSlots slots;
  auto first = compile(kConfig, slots);
  ASSERT_TRUE(first.ok());
  std::string second = kConfig;
  second.replace(second.find("name: rest"), 10, "name: zzz");
  auto next = compile(second, slots, 2);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next.value()->routeSlots[0], first.value()->routeSlots[0]); // "api" kept its slot
  EXPECT_NE(next.value()->routeSlots[1], first.value()->routeSlots[1]);
  EXPECT_EQ(next.value()->routeSlotCount, 4u);
  EXPECT_EQ(next.value()->generation, 2u);
}

TEST(SnapshotTest, PoolEndpointAndListenerSlotsSurviveReloads) {
  stats::StatsSlots slots;
  auto first = compile(kConfig, slots);
  ASSERT_TRUE(first.ok());
  const Snapshot& a = *first.value();
  EXPECT_NE(a.pools[0].statsSlot, a.pools[1].statsSlot);
  EXPECT_NE(a.pools[0].endpoints[0].statsSlot, a.pools[0].endpoints[1].statsSlot);
  EXPECT_NE(a.listeners[0].statsSlot, 0u);
  EXPECT_EQ(a.poolSlotCount, 3u);
  EXPECT_EQ(a.endpointSlotCount, 4u);
  EXPECT_EQ(a.listenerSlotCount, 2u);
  EXPECT_EQ(slots.endpoints.names()[a.pools[0].endpoints[1].statsSlot],
            stats::StatsSlots::endpointKey("a", "127.0.0.1:9002"));

  // Pools swap places and one endpoint moves to the other pool.
  constexpr const char* kSecond = R"(apiVersion: fulcrum/v1
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - name: rest
    rules:
      - backends: [{pool: b}]
pools:
  - name: b
    endpoints: [{address: "[::1]:9003"}, {address: 127.0.0.1:9002}]
  - name: a
    endpoints: [{address: 127.0.0.1:9001}]
)";
  auto next = compile(kSecond, slots, 2);
  ASSERT_TRUE(next.ok());
  const Snapshot& b = *next.value();
  EXPECT_EQ(b.pools[0].statsSlot, a.pools[1].statsSlot); // "b"
  EXPECT_EQ(b.pools[1].statsSlot, a.pools[0].statsSlot); // "a"
  EXPECT_EQ(b.pools[0].endpoints[0].statsSlot, a.pools[1].endpoints[0].statsSlot);
  EXPECT_EQ(b.pools[1].endpoints[0].statsSlot, a.pools[0].endpoints[0].statsSlot);
  // 127.0.0.1:9002 in pool b is a new series (pool, endpoint), not a's.
  EXPECT_EQ(b.pools[0].endpoints[1].statsSlot, 4u);
  EXPECT_EQ(b.endpointSlotCount, 5u);
  EXPECT_EQ(b.listeners[0].statsSlot, a.listeners[0].statsSlot);
}

TEST(SnapshotTest, EndpointSeriesOffUsesSlotZero) {
  stats::StatsSlots slots;
  slots.endpoints.configure(100, /*enabled=*/false);
  auto snap = compile(kConfig, slots);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap.value()->pools[0].endpoints[0].statsSlot, 0u);
  EXPECT_EQ(snap.value()->endpointSlotCount, 1u);
}

TEST(SnapshotTest, RuleFiltersViewTheConfig) {
  constexpr const char* kFilters = R"(apiVersion: fulcrum/v1
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - name: r
    rules:
      - backends: [{pool: a}]
        filters:
          - type: RequestHeaderModifier
            requestHeaderModifier:
              add: [{name: x-add, value: "1"}]
              set: [{name: x-set, value: "2"}]
              remove: [x-gone]
          - type: ResponseHeaderModifier
            responseHeaderModifier:
              remove: [server]
          - type: URLRewrite
            urlRewrite: {path: {type: ReplacePrefixMatch, value: /}}
      - matches: [{path: {type: Exact, value: /old}}]
        filters:
          - type: RequestRedirect
            requestRedirect: {path: /new}
pools:
  - name: a
    endpoints: [{address: 127.0.0.1:9001}]
)";
  stats::StatsSlots slots;
  auto snap = compile(kFilters, slots);
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  const auto& rules = snap.value()->ruleFilters;
  ASSERT_EQ(rules.size(), 1u);
  ASSERT_EQ(rules[0].size(), 2u);
  const RuleFilters& f = rules[0][0];
  const http::HeaderEdits request = f.requestEdits();
  ASSERT_EQ(request.add.size(), 1u);
  EXPECT_EQ(request.add[0].name, "x-add");
  ASSERT_EQ(request.set.size(), 1u);
  EXPECT_EQ(request.set[0].value, "2");
  ASSERT_EQ(request.remove.size(), 1u);
  EXPECT_EQ(request.remove[0], "x-gone");
  ASSERT_EQ(f.responseEdits().remove.size(), 1u);
  ASSERT_NE(f.rewrite, nullptr);
  EXPECT_EQ(f.redirect, nullptr);
  ASSERT_NE(rules[0][1].redirect, nullptr);
  EXPECT_EQ(*rules[0][1].redirect->path, "/new");
}

} // namespace
} // namespace fulcrum::snapshot
