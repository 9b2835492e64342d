// Route lookup cost vs. table size (10 .. 100k routes over mixed exact / wildcard hosts, prefix
// and exact paths), normalization, and compile time + memory of a 100k-route table.
//
//   build/<dir>/bench/bench_router --benchmark_min_time=0.5

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <benchmark/benchmark.h>

#include "proxy/lb/hash.h"
#include "proxy/router/route_table.h"

namespace fulcrum::router {
namespace {

struct Request {
  std::string host;
  std::string path;
};

// `n` routes: ~20 per host; every 10th on a wildcard host; every 4th has an Exact path, the others
// a two-segment prefix. `requests` are `distinct` requests spread uniformly over all routes (each
// one matches its route; prefix requests have three more segments).
config::Config makeConfig(size_t n, std::vector<Request>* requests, size_t distinct = 4096) {
  config::Config c;
  config::Pool pool;
  pool.name = "p0";
  c.pools.push_back(pool);
  size_t hosts = std::max<size_t>(1, n / 20);
  c.routes.reserve(n + 1);
  for (size_t i = 0; i < n; ++i) {
    config::Route route;
    route.name = "r" + std::to_string(i);
    bool wildcard = i % 10 == 0;
    std::string host = wildcard ? "*.w" + std::to_string(i % hosts) + ".example.net"
                                : "h" + std::to_string(i % hosts) + ".example.com";
    route.hostnames.push_back(host);
    config::Rule rule;
    config::RouteMatch match;
    bool exact = i % 4 == 1;
    std::string base = "/api" + std::to_string(i) + "/v" + std::to_string(i % 3);
    match.path =
        config::PathMatch{exact ? config::PathMatchType::Exact : config::PathMatchType::PathPrefix,
                          exact ? base + "/exact" : base};
    rule.matches.push_back(match);
    rule.backends.push_back(config::BackendRef{"p0", 1, {}});
    route.rules.push_back(std::move(rule));
    c.routes.push_back(std::move(route));
  }
  // A catch-all on any host, like most real configs have.
  config::Route any;
  any.name = "default";
  config::Rule rule;
  rule.backends.push_back(config::BackendRef{"p0", 1, {}});
  any.rules.push_back(rule);
  c.routes.push_back(any);

  if (requests != nullptr) {
    for (size_t k = 0; k < distinct; ++k) {
      size_t i = lb::mix64(k) % n;
      const config::Route& route = c.routes[i];
      std::string host = route.hostnames[0];
      if (host[0] == '*') {
        host = "edge" + host.substr(1);
      }
      const config::PathMatch& pm = *route.rules[0].matches[0].path;
      std::string path =
          pm.type == config::PathMatchType::Exact ? pm.value : pm.value + "/users/42/orders";
      requests->push_back(Request{host, path});
    }
  }
  return c;
}

// Args: routes, distinct requests (a power of two). 4096 distinct requests over a large table is
// the cache-cold case (each lookup touches lines no recent lookup touched); 64 distinct requests
// keep the touched lines cached and show the algorithmic cost alone.
// A compiled table of `routes` routes and `distinct` requests to look up in it (the views point
// into `requests` and `headers`).
struct LookupSetup {
  config::Config config;
  std::vector<Request> requests;
  std::vector<http::HeaderField> headers = {{"user-agent", "bench"}, {"accept", "*/*"}};
  std::vector<RequestView> views;
  RouteTablePtr table;

  // False (and the benchmark skipped) when the table does not compile.
  bool build(benchmark::State& state, size_t routes, size_t distinct) {
    config = makeConfig(routes, &requests, distinct);
    auto compiled = compileRouteTable(config);
    if (!compiled.ok()) {
      state.SkipWithError(compiled.error().message.c_str());
      return false;
    }
    table = std::move(compiled.value());
    views.reserve(requests.size());
    for (const Request& r : requests) {
      views.push_back(RequestView{r.host, r.path, "", "GET", headers});
    }
    return true;
  }
};

void BM_RouteLookup(benchmark::State& state) {
  LookupSetup setup;
  if (!setup.build(state, static_cast<size_t>(state.range(0)),
                   static_cast<size_t>(state.range(1)))) {
    return;
  }
  const auto& views = setup.views;
  size_t i = 0;
  size_t misses = 0;
  for (auto _ : state) {
    const CompiledRule* rule = setup.table->match(views[i]);
    misses += rule == nullptr || rule->routeName == "default";
    benchmark::DoNotOptimize(rule);
    i = (i + 1) & (views.size() - 1);
  }
  if (misses > 0) {
    state.SkipWithError("a request did not match its route");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteLookup)
    ->ArgNames({"routes", "distinct"})
    ->ArgsProduct({{10, 1000, 10000, 100000}, {64, 4096}});

// Like BM_RouteLookup, with the caches cold before every lookup, as in the proxy, where the
// kernel's work for each request (sockets, buffers) evicts what the previous lookups touched:
// between lookups (untimed: manual time around the lookup alone) a 32 MiB buffer is written one
// cache line per 64 bytes, 8 MiB at a time. The time is then about the number of dependent cache
// misses a lookup makes, times the memory latency. Args: routes (4096 distinct requests).
void BM_RouteLookupCold(benchmark::State& state) {
  LookupSetup setup;
  if (!setup.build(state, static_cast<size_t>(state.range(0)), 4096)) {
    return;
  }
  const auto& views = setup.views;
  constexpr size_t kPollute = size_t{32} << 20;
  constexpr size_t kSweep = size_t{8} << 20;
  std::vector<char> pollute(kPollute, 1);
  size_t offset = 0;
  size_t i = 0;
  size_t misses = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < kSweep; k += 64) {
      pollute[(offset + k) % kPollute] += 1;
    }
    offset = (offset + kSweep) % kPollute;
    benchmark::ClobberMemory();
    const auto start = std::chrono::steady_clock::now();
    const CompiledRule* rule = setup.table->match(views[i]);
    benchmark::DoNotOptimize(rule);
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    misses += rule == nullptr || rule->routeName == "default";
    i = (i + 1) & (views.size() - 1);
  }
  benchmark::DoNotOptimize(pollute.data());
  if (misses > 0) {
    state.SkipWithError("a request did not match its route");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteLookupCold)
    ->ArgName("routes")
    ->Arg(10)
    ->Arg(10000)
    ->Arg(100000)
    ->UseManualTime()
    ->Iterations(3000);

void BM_NormalizePath(benchmark::State& state) {
  const char* paths[] = {"/api/v1/users/42/orders", "/api/v1/../v2/./users/%7Ebob//x"};
  std::string_view path = paths[state.range(0)];
  std::string scratch;
  for (auto _ : state) {
    auto r = normalizePath(path, scratch, true);
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(state.range(0) == 0 ? "fast path" : "dot segments + escapes + //");
}
BENCHMARK(BM_NormalizePath)->Arg(0)->Arg(1);

long residentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Compile time of a 10k / 100k-route table; counter: the resident-memory growth while the table
// exists (the config it points into is not counted: it exists before and after).
void BM_Compile(benchmark::State& state) {
  config::Config c = makeConfig(static_cast<size_t>(state.range(0)), nullptr);
  double rssMB = 0;
  for (auto _ : state) {
    malloc_trim(0);
    long rssBefore = residentBytes();
    auto table = compileRouteTable(c);
    benchmark::DoNotOptimize(table);
    rssMB = (residentBytes() - rssBefore) / 1048576.0;
    state.PauseTiming();
    table = Error{};
    state.ResumeTiming();
  }
  state.counters["rss_delta_MB"] = rssMB;
}
BENCHMARK(BM_Compile)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(3);

} // namespace
} // namespace fulcrum::router
