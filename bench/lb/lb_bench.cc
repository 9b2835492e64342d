// Pick cost per algorithm at 3, 100 and 10k endpoints (weights 1..5), and the factory (table)
// rebuild time at 10k endpoints.
//
//   build/<dir>/bench/bench_lb --benchmark_min_time=0.5

#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "proxy/lb/hash.h"
#include "proxy/lb/load_balancer.h"

namespace fulcrum::lb {
namespace {

using config::Algorithm;

config::Pool makePool(Algorithm algorithm, size_t n, std::vector<HostWeight>& hosts,
                      bool equalWeights) {
  config::Pool pool;
  pool.name = "bench";
  pool.algorithm = algorithm;
  hosts.clear();
  for (size_t i = 0; i < n; ++i) {
    uint32_t weight = equalWeights ? 1 : static_cast<uint32_t>(1 + i % 5);
    pool.endpoints.push_back(config::Endpoint{"10." + std::to_string(i / 65536) + "." +
                                                  std::to_string(i / 256 % 256) + "." +
                                                  std::to_string(i % 256) + ":8080",
                                              weight,
                                              {}});
    hosts.push_back(HostWeight{static_cast<uint32_t>(i), weight, true});
  }
  return pool;
}

void pickBench(benchmark::State& state, Algorithm algorithm, bool equalWeights) {
  auto n = static_cast<size_t>(state.range(0));
  std::vector<HostWeight> hosts;
  config::Pool pool = makePool(algorithm, n, hosts, equalWeights);
  auto lb = makeLoadBalancerFactory(pool, hosts)->create(1);
  std::vector<uint32_t> active(n);
  for (size_t i = 0; i < n; ++i) {
    active[i] = static_cast<uint32_t>(mix64(i) % 16);
  }
  PickContext ctx;
  ctx.activeRequests = active;
  uint64_t key = 0;
  for (auto _ : state) {
    ctx.hash = mix64(++key);
    benchmark::DoNotOptimize(lb->pick(ctx));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Pick_RoundRobin(benchmark::State& s) {
  pickBench(s, Algorithm::RoundRobin, false);
}
void BM_Pick_RoundRobinEqual(benchmark::State& s) {
  pickBench(s, Algorithm::RoundRobin, true);
}
void BM_Pick_LeastRequest(benchmark::State& s) {
  pickBench(s, Algorithm::LeastRequest, false);
}
void BM_Pick_Random(benchmark::State& s) {
  pickBench(s, Algorithm::Random, false);
}
void BM_Pick_RingHash(benchmark::State& s) {
  pickBench(s, Algorithm::RingHash, false);
}
void BM_Pick_Maglev(benchmark::State& s) {
  pickBench(s, Algorithm::Maglev, false);
}
BENCHMARK(BM_Pick_RoundRobin)->Arg(3)->Arg(100)->Arg(10000);
BENCHMARK(BM_Pick_RoundRobinEqual)->Arg(3)->Arg(100)->Arg(10000);
BENCHMARK(BM_Pick_LeastRequest)->Arg(3)->Arg(100)->Arg(10000);
BENCHMARK(BM_Pick_Random)->Arg(3)->Arg(100)->Arg(10000);
BENCHMARK(BM_Pick_RingHash)->Arg(3)->Arg(100)->Arg(10000);
BENCHMARK(BM_Pick_Maglev)->Arg(3)->Arg(100)->Arg(10000);

void buildBench(benchmark::State& state, Algorithm algorithm) {
  auto n = static_cast<size_t>(state.range(0));
  std::vector<HostWeight> hosts;
  config::Pool pool = makePool(algorithm, n, hosts, false);
  for (auto _ : state) {
    auto factory = makeLoadBalancerFactory(pool, hosts);
    auto lb = factory->create(1); // per-worker state (e.g. the EDF heap) is part of a rebuild
    benchmark::DoNotOptimize(lb);
  }
}

void BM_Build_RoundRobin(benchmark::State& s) {
  buildBench(s, Algorithm::RoundRobin);
}
void BM_Build_LeastRequest(benchmark::State& s) {
  buildBench(s, Algorithm::LeastRequest);
}
void BM_Build_Random(benchmark::State& s) {
  buildBench(s, Algorithm::Random);
}
void BM_Build_RingHash(benchmark::State& s) {
  buildBench(s, Algorithm::RingHash);
}
void BM_Build_Maglev(benchmark::State& s) {
  buildBench(s, Algorithm::Maglev);
}
BENCHMARK(BM_Build_RoundRobin)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Build_LeastRequest)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Build_Random)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Build_RingHash)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Build_Maglev)->Arg(100)->Arg(10000)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace fulcrum::lb
