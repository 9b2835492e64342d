// What the request path pays for metrics, and what a scrape costs the main thread.
//
//   cmake --build --preset release --target bench_stats
//   build/release/bench/bench_stats --benchmark_min_time=0.5
//
// BM_RecordRequest is the per-request cost at the end of a request: status class per route,
// pool and endpoint plus one histogram observation (WorkerStats::recordRequest). The session
// adds two more histogram observations (upstream response time, and connect time on a fresh
// connection): BM_HistogramObserve; and 3-5 clock reads: BM_SteadyClockNow.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "proxy/stats/exposition.h"
#include "proxy/stats/metrics.h"

namespace fulcrum::stats {
namespace {

// Latencies spread over the buckets like a real mix (mostly 1-50 ms, a tail to seconds).
std::vector<std::chrono::nanoseconds> latencies() {
  std::vector<std::chrono::nanoseconds> out;
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 1024; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint64_t micros = (x % 100 == 0) ? x % 3'000'000 : 200 + x % 50'000;
    out.emplace_back(std::chrono::microseconds(micros));
  }
  return out;
}

void BM_HistogramObserve(benchmark::State& state) {
  LatencyHistogram h;
  const auto values = latencies();
  size_t i = 0;
  for (auto _ : state) {
    h.observe(values[i++ & 1023]);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramObserve);

void BM_RecordRequest(benchmark::State& state) {
  const auto routes = static_cast<uint32_t>(state.range(0));
  WorkerStats s;
  s.reserveSlots(routes + 1, 2, routes + 1, 4 * routes + 1);
  const auto values = latencies();
  uint32_t i = 0;
  for (auto _ : state) {
    const uint32_t slot = 1 + (i % routes);
    RequestRecord r;
    r.listener = 1;
    r.route = slot;
    r.pool = slot;
    r.endpoint = 1 + (i % (4 * routes));
    r.status = (i & 63) == 0 ? 503 : 200;
    r.timed = true;
    r.duration = values[i & 1023];
    s.recordRequest(r);
    benchmark::DoNotOptimize(s.routes.data());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRequest)->Arg(1)->Arg(100)->Arg(10000);

// One clock read: the session reads the clock at the request's phase boundaries (route, connect,
// connected, response head, end) for exact latencies — the wheel's cached time is 10 ms coarse.
void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::chrono::steady_clock::now());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SteadyClockNow);

// The scrape: merge 4 worker shards of 100 routes / 100 pools / 400 endpoints and render.
void BM_ScrapeMergeAndRender(benchmark::State& state) {
  StatsSlots slots;
  for (int i = 0; i < 100; ++i) {
    slots.routes.slotFor("route-" + std::to_string(i));
    slots.pools.slotFor("pool-" + std::to_string(i));
    for (int e = 0; e < 4; ++e) {
      slots.endpoints.slotFor(
          StatsSlots::endpointKey("pool-" + std::to_string(i),
                                  "10.0." + std::to_string(i) + "." + std::to_string(e) + ":80"));
    }
  }
  slots.listeners.slotFor("web");
  std::vector<WorkerStats> shards(4);
  for (auto& s : shards) {
    s.reserveSlots(slots.routes.size(), slots.listeners.size(), slots.pools.size(),
                   slots.endpoints.size());
    for (uint32_t r = 1; r <= 100; ++r) {
      s.recordRequest({1, r, r, 4 * r - 3, 200, true, std::chrono::milliseconds(r)});
    }
  }
  size_t bytes = 0;
  for (auto _ : state) {
    WorkerStats sum;
    for (const auto& s : shards) {
      sum.merge(s);
    }
    std::vector<Family> families;
    buildWorkerFamilies(sum, slots, families);
    const std::string out = renderExposition(families, ExpositionFormat::PrometheusText);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ScrapeMergeAndRender)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace fulcrum::stats
