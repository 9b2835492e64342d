#include "proxy/lb/load_balancer.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "proxy/lb/hash.h"
#include "proxy/lb/maglev.h"

namespace fulcrum::lb {
namespace {

using config::Algorithm;

const Algorithm kAll[] = {Algorithm::RoundRobin, Algorithm::LeastRequest, Algorithm::Random,
                          Algorithm::RingHash, Algorithm::Maglev};

config::Pool poolWith(Algorithm algorithm, size_t endpoints) {
  config::Pool pool;
  pool.name = "p";
  pool.algorithm = algorithm;
  for (size_t i = 0; i < endpoints; ++i) {
    pool.endpoints.push_back(config::Endpoint{
        "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":80", 1, {}});
  }
  return pool;
}

std::vector<HostWeight> hostsWithWeights(const std::vector<uint32_t>& weights) {
  std::vector<HostWeight> hosts;
  for (size_t i = 0; i < weights.size(); ++i) {
    hosts.push_back(HostWeight{static_cast<uint32_t>(i), weights[i], true});
  }
  return hosts;
}

std::vector<HostWeight> equalHosts(size_t n) {
  return hostsWithWeights(std::vector<uint32_t>(n, 1));
}

// Picks `n` times; hash-based algorithms get a fresh key per pick.
std::vector<int> countPicks(LoadBalancer& lb, size_t endpoints, int n) {
  std::vector<int> counts(endpoints);
  for (int i = 0; i < n; ++i) {
    PickContext ctx;
    ctx.hash = mix64(static_cast<uint64_t>(i) * 7919 + 13);
    int64_t picked = lb.pick(ctx);
    EXPECT_GE(picked, 0);
    counts[static_cast<size_t>(picked)]++;
  }
  return counts;
}

std::string name(Algorithm a) {
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

TEST(RoundRobin, ExactProportionsOverEachCycle) {
  config::Pool pool = poolWith(Algorithm::RoundRobin, 4);
  auto factory = makeLoadBalancerFactory(pool, hostsWithWeights({1, 2, 3, 4}));
  for (uint64_t seed : {0, 1, 2, 99}) {
    auto lb = factory->create(seed);
    for (int cycle = 0; cycle < 5; ++cycle) {
      std::vector<int> counts(4);
      for (int i = 0; i < 10; ++i) {
        counts[lb->pick({})]++;
      }
      EXPECT_EQ(counts, (std::vector<int>{1, 2, 3, 4})) << "seed " << seed << " cycle " << cycle;
    }
  }
}

TEST(RoundRobin, SmoothInterleaving) {
  // Weights 2:2:1 interleave as 0 1 0 1 2: never the same endpoint twice in a row.
  config::Pool pool = poolWith(Algorithm::RoundRobin, 3);
  for (uint64_t seed : {0, 1, 2, 3, 4}) {
    auto lb = makeLoadBalancerFactory(pool, hostsWithWeights({2, 2, 1}))->create(seed);
    int64_t previous = -1;
    for (int i = 0; i < 50; ++i) {
      int64_t picked = lb->pick({});
      EXPECT_NE(picked, previous) << "seed " << seed << " pick " << i;
      previous = picked;
    }
  }
}

TEST(RoundRobin, LongCyclesUseThePerWorkerSchedule) {
  // A cycle longer than the shared schedule's limit: EDF per worker, still exact per cycle.
  config::Pool pool = poolWith(Algorithm::RoundRobin, 2);
  auto lb = makeLoadBalancerFactory(pool, hostsWithWeights({1u << 20, 1u << 19}))->create(9);
  std::vector<int> counts(2);
  for (int i = 0; i < (1 << 20) + (1 << 19); ++i) {
    counts[lb->pick({})]++;
  }
  EXPECT_EQ(counts, (std::vector<int>{1 << 20, 1 << 19}));
}

TEST(RoundRobin, EqualWeightsRotate) {
  config::Pool pool = poolWith(Algorithm::RoundRobin, 3);
  auto lb = makeLoadBalancerFactory(pool, equalHosts(3))->create(7);
  int64_t first = lb->pick({});
  EXPECT_EQ(lb->pick({}), (first + 1) % 3);
  EXPECT_EQ(lb->pick({}), (first + 2) % 3);
}

// Weighted algorithms: proportions within 1% over 100k picks.
TEST(LoadBalancer, WeightProportionsWithinOnePercent) {
  const std::vector<uint32_t> weights = {1, 2, 3, 4};
  for (Algorithm a : kAll) {
    config::Pool pool = poolWith(a, weights.size());
    auto lb = makeLoadBalancerFactory(pool, hostsWithWeights(weights))->create(42);
    const int n = 100000;
    std::vector<int> counts = countPicks(*lb, weights.size(), n);
    for (size_t i = 0; i < weights.size(); ++i) {
      double tolerance = a == Algorithm::RingHash ? 0.03 : 0.01; // ring: arc-length variance
      EXPECT_NEAR(counts[i] / double(n), weights[i] / 10.0, tolerance) << name(a) << " " << i;
    }
  }
}

TEST(LoadBalancer, IneligibleSkippedAndNoneLeft) {
  for (Algorithm a : kAll) {
    config::Pool pool = poolWith(a, 4);
    std::vector<HostWeight> hosts = equalHosts(4);
    hosts[1].eligible = false;
    hosts[3].eligible = false;
    auto lb = makeLoadBalancerFactory(pool, hosts)->create(1);
    std::vector<int> counts = countPicks(*lb, 4, 2000);
    EXPECT_EQ(counts[1], 0) << name(a);
    EXPECT_EQ(counts[3], 0) << name(a);
    EXPECT_GT(counts[0], 0) << name(a);
    EXPECT_GT(counts[2], 0) << name(a);

    for (HostWeight& h : hosts) {
      h.eligible = false;
    }
    auto none = makeLoadBalancerFactory(pool, hosts)->create(1);
    EXPECT_EQ(none->pick({}), -1) << name(a);
    auto empty = makeLoadBalancerFactory(pool, {})->create(1);
    EXPECT_EQ(empty->pick({}), -1) << name(a);
    auto zero = makeLoadBalancerFactory(pool, hostsWithWeights({0, 0}))->create(1);
    EXPECT_EQ(zero->pick({}), -1) << name(a);
  }
}

TEST(LoadBalancer, AvoidHonored) {
  for (Algorithm a : kAll) {
    config::Pool pool = poolWith(a, 3);
    auto lb = makeLoadBalancerFactory(pool, equalHosts(3))->create(5);
    for (int i = 0; i < 3000; ++i) {
      PickContext ctx;
      ctx.hash = mix64(i);
      ctx.avoid = i % 3;
      int64_t picked = lb->pick(ctx);
      ASSERT_GE(picked, 0);
      EXPECT_NE(picked, ctx.avoid) << name(a) << " pick " << i;
    }
    // The only eligible endpoint is returned even when avoided.
    auto single = makeLoadBalancerFactory(pool, equalHosts(1))->create(5);
    PickContext ctx;
    ctx.hash = 1;
    ctx.avoid = 0;
    EXPECT_EQ(single->pick(ctx), 0) << name(a);
  }
}

TEST(LoadBalancer, FactoriesAreSharedAcrossWorkers) {
  for (Algorithm a : {Algorithm::RingHash, Algorithm::Maglev}) {
    config::Pool pool = poolWith(a, 20);
    auto factory = makeLoadBalancerFactory(pool, equalHosts(20));
    auto w1 = factory->create(1);
    auto w2 = factory->create(2);
    for (uint64_t k = 0; k < 1000; ++k) {
      PickContext ctx;
      ctx.hash = hashKey("user-" + std::to_string(k));
      EXPECT_EQ(w1->pick(ctx), w2->pick(ctx)) << name(a);
    }
  }
}

TEST(LeastRequest, PrefersTheLessLoaded) {
  config::Pool pool = poolWith(Algorithm::LeastRequest, 3);
  auto lb = makeLoadBalancerFactory(pool, equalHosts(3))->create(3);
  std::vector<uint32_t> active = {10, 0, 5};
  std::vector<int> counts(3);
  for (int i = 0; i < 10000; ++i) {
    PickContext ctx;
    ctx.activeRequests = active;
    counts[lb->pick(ctx)]++;
  }
  EXPECT_GT(counts[1], counts[2]);
  EXPECT_GT(counts[2], counts[0]);
  EXPECT_EQ(counts[0], 0); // P2C over 3 distinct candidates: the most loaded never wins

  // Two endpoints: P2C always compares both.
  auto two = makeLoadBalancerFactory(pool, equalHosts(2))->create(3);
  std::vector<uint32_t> load2 = {3, 1};
  for (int i = 0; i < 100; ++i) {
    PickContext ctx;
    ctx.activeRequests = load2;
    EXPECT_EQ(two->pick(ctx), 1);
  }
}

TEST(LeastRequest, WeightAware) {
  config::Pool pool = poolWith(Algorithm::LeastRequest, 2);
  auto lb = makeLoadBalancerFactory(pool, hostsWithWeights({4, 1}))->create(3);
  // 6 active on weight 4 (1.5 per unit) vs 2 on weight 1 (2 per unit): the heavy one wins.
  std::vector<uint32_t> active = {6, 2};
  for (int i = 0; i < 100; ++i) {
    PickContext ctx;
    ctx.activeRequests = active;
    EXPECT_EQ(lb->pick(ctx), 0);
  }
}

// Maps `keys` keys through a fresh balancer over `hosts`.
std::vector<int64_t> mapKeys(const config::Pool& pool, std::vector<HostWeight> hosts, int keys) {
  auto lb = makeLoadBalancerFactory(pool, std::move(hosts))->create(0);
  std::vector<int64_t> out;
  out.reserve(keys);
  for (int k = 0; k < keys; ++k) {
    PickContext ctx;
    ctx.hash = hashKey("key-" + std::to_string(k));
    out.push_back(lb->pick(ctx));
  }
  return out;
}

// Removing 1 of N endpoints from the pool (a rebuild without it): about 1/N of the keys move.
TEST(ConsistentHashing, RemovingOneEndpointMovesAboutOneNth) {
  const size_t n = 10;
  const int keys = 100000;
  for (Algorithm a : {Algorithm::RingHash, Algorithm::Maglev}) {
    config::Pool full = poolWith(a, n);
    std::vector<int64_t> before = mapKeys(full, equalHosts(n), keys);

    // Drop endpoint 4: the pool's other endpoints keep their addresses; indices shift down.
    const size_t removed = 4;
    config::Pool smaller = full;
    smaller.endpoints.erase(smaller.endpoints.begin() + removed);
    std::vector<int64_t> after = mapKeys(smaller, equalHosts(n - 1), keys);

    int moved = 0;
    int movedOthers = 0;
    for (int k = 0; k < keys; ++k) {
      int64_t a2 = after[k] >= static_cast<int64_t>(removed) ? after[k] + 1 : after[k];
      if (a2 != before[k]) {
        ++moved;
        if (before[k] != static_cast<int64_t>(removed)) {
          ++movedOthers;
        }
      }
    }
    double fraction = moved / double(keys);
    EXPECT_LE(fraction, 1.2 / n) << name(a);
    EXPECT_GE(fraction, 0.8 / n) << name(a);
    if (a == Algorithm::RingHash) {
      EXPECT_EQ(movedOthers, 0) << name(a) << ": keys not on the removed endpoint must stay";
    } else {
      // Maglev's rebuild may reshuffle a few slots beyond the removed endpoint's.
      EXPECT_LE(movedOthers / double(keys), 0.2 / n) << name(a);
    }
  }
}

// An endpoint turning ineligible (health, ejection): exactly its keys move, nothing else.
TEST(ConsistentHashing, IneligibleEndpointMovesOnlyItsKeys) {
  const size_t n = 10;
  const int keys = 100000;
  for (Algorithm a : {Algorithm::RingHash, Algorithm::Maglev}) {
    config::Pool pool = poolWith(a, n);
    std::vector<int64_t> before = mapKeys(pool, equalHosts(n), keys);
    std::vector<HostWeight> hosts = equalHosts(n);
    hosts[7].eligible = false;
    std::vector<int64_t> after = mapKeys(pool, hosts, keys);
    int moved = 0;
    std::set<int64_t> receivers;
    for (int k = 0; k < keys; ++k) {
      if (before[k] == 7) {
        EXPECT_NE(after[k], 7);
        receivers.insert(after[k]);
        ++moved;
      } else {
        EXPECT_EQ(after[k], before[k]) << name(a) << " key " << k;
      }
    }
    EXPECT_LE(moved / double(keys), 1.2 / n) << name(a);
    EXPECT_GT(receivers.size(), 3u) << name(a) << ": the keys spread over the others";
  }
}

TEST(Maglev, TableSizeIsPrimeAndLargeEnough) {
  EXPECT_EQ(maglevTableSize(65537, 3), 65537u);
  EXPECT_EQ(maglevTableSize(65536, 3), 65537u);
  uint64_t big = maglevTableSize(65537, 10000);
  EXPECT_GE(big, 1000000u);
  for (uint64_t d = 2; d * d <= big; ++d) {
    ASSERT_NE(big % d, 0u);
  }
}

TEST(RingHash, BoundedLoadSpillsFromOverloadedEndpoint) {
  config::Pool pool = poolWith(Algorithm::RingHash, 4);
  pool.boundedLoadFactor = 1.25;
  auto lb = makeLoadBalancerFactory(pool, equalHosts(4))->create(0);
  std::vector<uint32_t> active = {0, 0, 0, 0};
  // Find the endpoint one key maps to, then load it far beyond the bound.
  PickContext ctx;
  ctx.hash = hashKey("hot-user");
  int64_t home = lb->pick(ctx);
  ASSERT_GE(home, 0);
  ctx.activeRequests = active;
  EXPECT_EQ(lb->pick(ctx), home); // under the bound: stays home
  active[home] = 100;
  active[(home + 1) % 4] = 1;
  ctx.activeRequests = active;
  int64_t spilled = lb->pick(ctx);
  EXPECT_NE(spilled, home);
  EXPECT_GE(spilled, 0);
  // Deterministic: the same key spills to the same endpoint.
  EXPECT_EQ(lb->pick(ctx), spilled);
}

TEST(RingHash, WithoutHashPicksRandomly) {
  config::Pool pool = poolWith(Algorithm::RingHash, 4);
  auto lb = makeLoadBalancerFactory(pool, equalHosts(4))->create(0);
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    seen.insert(lb->pick({}));
  }
  EXPECT_EQ(seen.size(), 4u);
}

} // namespace
} // namespace fulcrum::lb
