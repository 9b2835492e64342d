#pragma once

// Per-worker statistics shards: what the request path records.
//
// Threading: each worker owns one WorkerStats and is its only writer (plain integers, no atomics,
// no locks). The main thread never reads a live shard: it posts a copy request to every worker,
// each worker copies its shard into the reply, and the main thread merges the copies (merge())
// and renders them (exposition.h). So a scrape costs each worker one copy and the request path
// pays nothing but a few increments and one histogram bucket search (bench/stats).
//
// Two kinds of metrics:
// - Worker-wide, unlabelled: one line in FULCRUM_WORKER_COUNTERS or FULCRUM_WORKER_GAUGES; the
//   struct field, the merge, /metrics and /stats follow from the table.
// - Labelled by listener, route, pool or endpoint: vectors indexed by a stable stats slot
//   (SlotTable), so that a series keeps its slot, and its counters continue, across reloads.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/large_memory.h"
#include "proxy/stats/response_flags.h"

namespace fulcrum::stats {

// X(field, prometheus name, help)
#define FULCRUM_WORKER_COUNTERS(X)                                                                 \
  X(downstreamConnectionsTotal, "fulcrum_downstream_connections_total",                            \
    "Client connections accepted")                                                                 \
  X(downstreamConnectionsRejected, "fulcrum_downstream_connections_rejected_total",                \
    "Client connections closed at accept (listener maxConnections)")                               \
  X(downstreamAcceptErrors, "fulcrum_downstream_accept_errors_total",                              \
    "accept() failures other than EAGAIN (e.g. out of file descriptors)")                          \
  X(upstreamConnectionsTotal, "fulcrum_upstream_connections_total", "Upstream connections opened") \
  X(upstreamConnectFailures, "fulcrum_upstream_connect_failures_total",                            \
    "Upstream connection attempts that failed or timed out")                                       \
  X(upstreamRequestsReused, "fulcrum_upstream_requests_reused_total",                              \
    "Requests sent on a pooled (kept-alive) upstream connection")                                  \
  X(upstreamRetries, "fulcrum_upstream_retries_total",                                             \
    "Requests re-sent to another connection before any byte of a response arrived")                \
  X(downstreamBytesReceived, "fulcrum_downstream_received_bytes_total", "Bytes read from clients") \
  X(downstreamBytesSent, "fulcrum_downstream_sent_bytes_total", "Bytes written to clients")        \
  X(accessLogLinesDropped, "fulcrum_access_log_lines_dropped_total",                               \
    "Access-log lines dropped because the worker's buffer was full (slow disk)")                   \
  X(configApplied, "fulcrum_worker_config_applied_total",                                          \
    "Config snapshots adopted by the workers")                                                     \
  X(upstreamRetryAttempts, "fulcrum_upstream_retry_attempts_total",                                \
    "Retries sent by a route's retry policy")                                                      \
  X(upstreamRetriesSkipped, "fulcrum_upstream_retries_skipped_total",                              \
    "Retries a policy allowed but the retry budget or the circuit breaker refused")                \
  X(upstreamOverflow, "fulcrum_upstream_overflow_total",                                           \
    "Requests refused by a pool's circuit breaker (503 UO)")                                       \
  X(timeoutsConnect, "fulcrum_timeouts_connect_total", "Upstream connects that timed out")         \
  X(timeoutsTry, "fulcrum_timeouts_backend_request_total",                                         \
    "Tries without a response head within timeouts.backendRequest")                                \
  X(timeoutsRequest, "fulcrum_timeouts_request_total", "Requests over timeouts.request")           \
  X(timeoutsIdle, "fulcrum_timeouts_upstream_idle_total",                                          \
    "Exchanges with no progress within timeouts.idle")                                             \
  X(timeoutsHead, "fulcrum_timeouts_downstream_head_total",                                        \
    "Request heads not complete within limits.headTimeout (408)")                                  \
  X(outlierReports, "fulcrum_outlier_reports_total",                                               \
    "Outlier thresholds crossed on a worker (reported to the health monitor)")                     \
  X(panicPicks, "fulcrum_upstream_panic_picks_total",                                              \
    "Picks made over all endpoints because the healthy share was below panicThresholdPercent")     \
  X(sendsBatched, "fulcrum_sends_batched_total",                                                   \
    "Sends made through a worker's io_uring batch (0: io_uring unavailable or --send-batching "    \
    "off)")                                                                                        \
  X(receivesBatched, "fulcrum_receives_batched_total",                                             \
    "Receives made through a worker's io_uring batch, ahead of the reactor's recv() (0: io_uring " \
    "unavailable or --recv-batching off)")

#define FULCRUM_WORKER_GAUGES(X)                                                                   \
  X(downstreamConnectionsActive, "fulcrum_downstream_connections_active",                          \
    "Client connections open")                                                                     \
  X(downstreamConnectionsParked, "fulcrum_downstream_connections_parked",                          \
    "Idle keep-alive client connections waiting without a session or buffers")                     \
  X(upstreamConnectionsActive, "fulcrum_upstream_connections_active",                              \
    "Upstream connections open (busy or idle)")                                                    \
  X(upstreamConnectionsIdle, "fulcrum_upstream_connections_idle",                                  \
    "Upstream connections idle in a pool")

// Upper bounds (le) of the latency histogram buckets, in nanoseconds: 0.5 ms .. 10 s, roughly
// 1-2.5-5 per decade, plus the implicit +Inf bucket. Fixed at compile time so that every shard
// and every process uses the same buckets (they sum, and PromQL aggregates across instances).
inline constexpr std::array<uint64_t, 14> kLatencyBoundsNanos = {
    500'000,       1'000'000,     2'500'000,     5'000'000,     10'000'000,
    25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
inline constexpr size_t kLatencyBuckets = kLatencyBoundsNanos.size() + 1; // + the +Inf bucket

// A fixed-bucket latency histogram. counts are per bucket (not cumulative); the exposition
// makes them cumulative. One writer (the owning worker).
struct LatencyHistogram {
  uint64_t sumNanos = 0; // first: shares a cache line with the low buckets (see RouteCounters)
  std::array<uint64_t, kLatencyBuckets> counts{};

  void observe(std::chrono::nanoseconds duration) {
    const uint64_t ns = duration.count() > 0 ? static_cast<uint64_t>(duration.count()) : 0;
    size_t i = 0;
    while (i < kLatencyBoundsNanos.size() && ns > kLatencyBoundsNanos[i]) {
      ++i;
    }
    ++counts[i];
    sumNanos += ns;
  }
  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t c : counts) {
      n += c;
    }
    return n;
  }
  void merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < counts.size(); ++i) {
      counts[i] += other.counts[i];
    }
    sumNanos += other.sumNanos;
  }
};

// Responses by status class: 1xx..5xx, index 0..4.
using StatusClasses = std::array<uint64_t, 5>;

inline void countStatus(StatusClasses& classes, uint16_t status) {
  if (status >= 100 && status < 600) {
    ++classes[status / 100 - 1];
  }
}

// Aligned so that a request faster than 1 ms touches one cache line of its route's counters
// (class counts, sum, the first two buckets): with 100,000 routes every route is a cache miss.
struct alignas(64) RouteCounters {
  StatusClasses byClass{};
  LatencyHistogram duration; // request head parsed -> last response byte written
};

struct ListenerCounters {
  StatusClasses byClass{}; // responses sent on the listener's connections
  uint64_t connectionsTotal = 0;
  uint64_t connectionsRejected = 0;
  int64_t connectionsActive = 0;
  uint64_t bytesReceived = 0;
  uint64_t bytesSent = 0;
};

struct PoolCounters {
  StatusClasses byClass{};       // responses to requests routed to the pool (incl. 502/503/504)
  LatencyHistogram responseTime; // request head sent upstream -> final response head received
  LatencyHistogram connectTime;  // connect() -> connected (successful connects only)
  uint64_t connectionsTotal = 0;
  uint64_t connectFailures = 0;
  // Open upstream connections: 0 in the live shard; the worker fills it into the copy it
  // reports (from its connection pools), so the request path never maintains it.
  int64_t connectionsActive = 0;
};

struct EndpointCounters {
  StatusClasses byClass{};
  uint64_t connectionsTotal = 0;
  uint64_t connectFailures = 0;
  // Open upstream connections: 0 in the live shard; the worker fills it into the copy it
  // reports (from its connection pools), so the request path never maintains it.
  int64_t connectionsActive = 0;
};

// The labelled slots one finished request is counted under (0 = none for pool and endpoint).
struct RequestRecord {
  uint32_t listener = 0;
  uint32_t route = 0;
  uint32_t pool = 0;
  uint32_t endpoint = 0;
  uint16_t status = 0;
  bool timed = false; // duration is valid (the request got past its head)
  std::chrono::nanoseconds duration{0};
};

struct WorkerStats {
#define FULCRUM_STATS_FIELD(field, name, help) uint64_t field = 0;
  FULCRUM_WORKER_COUNTERS(FULCRUM_STATS_FIELD)
#undef FULCRUM_STATS_FIELD
#define FULCRUM_STATS_FIELD(field, name, help) int64_t field = 0;
  FULCRUM_WORKER_GAUGES(FULCRUM_STATS_FIELD)
#undef FULCRUM_STATS_FIELD

  // Proxy-generated or cut-short responses by flag (index = ResponseFlag).
  std::array<uint64_t, kResponseFlagCount> flags{};
  // Indexed by stats slot (see SlotTable); sized by the worker when it adopts a snapshot, never
  // shrunk. Route slot 0 counts requests without a route; slot 0 of the others is unused.
  // Routes: huge pages when large (10,000 routes take ~2 MB; requests index it at random).
  LargeVector<RouteCounters> routes;
  std::vector<ListenerCounters> listeners;
  std::vector<PoolCounters> pools;
  std::vector<EndpointCounters> endpoints;

  // Counts one response with `status` for the route in `slot` (no duration). `slot` <
  // routes.size().
  void countResponse(uint32_t slot, uint16_t status) {
    countStatus(routes[slot].byClass, status);
  }

  // Counts one finished request under its route, pool and endpoint: the request path's whole
  // per-request cost (bench/stats/stats_bench.cc). Every slot < its vector's size.
  void recordRequest(const RequestRecord& r) {
    countStatus(listeners[r.listener].byClass, r.status);
    RouteCounters& route = routes[r.route];
    countStatus(route.byClass, r.status);
    if (r.timed) {
      route.duration.observe(r.duration);
    }
    if (r.pool != 0) {
      countStatus(pools[r.pool].byClass, r.status);
    }
    if (r.endpoint != 0) {
      countStatus(endpoints[r.endpoint].byClass, r.status);
    }
  }

  // A hint that recordRequest() will count under route `slot` (< routes.size()): its line is
  // fetched while the request is proxied, not when it is counted.
  void prefetchRoute(uint32_t slot) const {
    __builtin_prefetch(&routes[slot], 1);
  }

  void addReceived(uint32_t listener, uint64_t n) {
    downstreamBytesReceived += n;
    listeners[listener].bytesReceived += n;
  }
  void addSent(uint32_t listener, uint64_t n) {
    downstreamBytesSent += n;
    listeners[listener].bytesSent += n;
  }

  // Grows the labelled vectors to at least these sizes (worker thread, on a new snapshot).
  void reserveSlots(size_t routeCount, size_t listenerCount, size_t poolCount,
                    size_t endpointCount);

  // Adds `other` into this (the main thread's sum of the worker copies).
  void merge(const WorkerStats& other);
};

// Stable stats slots for label values: a name keeps its slot across config reloads so that its
// series continue. Slot 0 is reserved ("" — unrouted requests for routes, "none" otherwise).
// Cardinality is bounded: past `maxSeries` distinct names, every new name maps to one shared
// overflow slot (label value "__overflow__") and is counted in overflowed(). A disabled table
// maps every name to slot 0 (per-endpoint series off).
//
// Main thread only; append-only.
class SlotTable {
public:
  static constexpr uint32_t kNone = 0;
  static constexpr size_t kDefaultMaxSeries = 10000;
  static constexpr std::string_view kOverflow = "__overflow__";

  explicit SlotTable(size_t maxSeries = kDefaultMaxSeries, bool enabled = true)
      : maxSeries_(maxSeries), enabled_(enabled) {
    names_.emplace_back("");
  }
  void configure(size_t maxSeries, bool enabled) {
    maxSeries_ = maxSeries;
    enabled_ = enabled;
  }

  uint32_t slotFor(std::string_view name);
  // slot -> name ("" for slot 0, kOverflow for the overflow slot).
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  bool enabled() const { return enabled_; }
  // Distinct names that were folded into the overflow slot.
  uint64_t overflowed() const { return overflowedNames_.size(); }

private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> index_; // name -> slot, without 0 and overflow
  std::unordered_set<std::string> overflowedNames_;
  uint32_t overflowSlot_ = 0;
  size_t maxSeries_;
  bool enabled_;
};

// Kept for the route-only callers (slot 0 = unrouted).
class RouteSlots : public SlotTable {
public:
  static constexpr uint32_t kUnrouted = 0;
};

// Every slot table of the proxy. Endpoint names are "pool" + kEndpointKeySeparator + "address"
// (an address may sit in several pools; each pair is its own series).
struct StatsSlots {
  static constexpr char kEndpointKeySeparator = '\x1f';
  RouteSlots routes;
  SlotTable listeners;
  SlotTable pools;
  SlotTable endpoints;

  static std::string endpointKey(std::string_view pool, std::string_view address);
  // Splits an endpoint key into (pool, address); the overflow slot gives (kOverflow, kOverflow).
  static std::pair<std::string_view, std::string_view> splitEndpointKey(std::string_view key);
};

} // namespace fulcrum::stats
