#pragma once

// Per-worker statistics shards and their Prometheus text exposition.
//
// Threading: each worker owns one WorkerStats and is its only writer (plain integers, no atomics,
// no locks). The main thread never reads a live shard: it posts a copy request to every worker,
// each worker copies its shard into the reply, and the main thread merges the copies (merge())
// and renders them (renderWorkerMetrics()). So a scrape costs each worker one small copy and the
// request path pays nothing but an increment.
//
// Declaring a metric: add one line to FULCRUM_WORKER_COUNTERS or FULCRUM_WORKER_GAUGES; the
// struct field, the merge and the exposition follow from the table.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
    "Picks made over all endpoints because the healthy share was below panicThresholdPercent")

#define FULCRUM_WORKER_GAUGES(X)                                                                   \
  X(downstreamConnectionsActive, "fulcrum_downstream_connections_active",                          \
    "Client connections open")                                                                     \
  X(upstreamConnectionsActive, "fulcrum_upstream_connections_active",                              \
    "Upstream connections open (busy or idle)")                                                    \
  X(upstreamConnectionsIdle, "fulcrum_upstream_connections_idle",                                  \
    "Upstream connections idle in a pool")

// Responses by status class: 1xx..5xx, index 0..4.
struct RouteCounters {
  std::array<uint64_t, 5> byClass{};
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
  // Indexed by route stats slot (see RouteSlots); slot 0 counts requests without a route.
  std::vector<RouteCounters> routes;

  // Counts one response with `status` for the route in `slot`. `slot` < routes.size().
  void countResponse(uint32_t slot, uint16_t status) {
    if (status >= 100 && status < 600) {
      ++routes[slot].byClass[status / 100 - 1];
    }
  }

  // Adds `other` into this (the main thread's sum of the worker copies).
  void merge(const WorkerStats& other);
};

// Stable stats slots for route names: a route keeps its slot across config reloads so that its
// counters continue. Main thread only; append-only.
class RouteSlots {
public:
  static constexpr uint32_t kUnrouted = 0;
  RouteSlots() { names_.emplace_back(""); }
  uint32_t slotFor(std::string_view routeName);
  const std::vector<std::string>& names() const { return names_; }

private:
  std::vector<std::string> names_;
};

// Appends the exposition of the merged worker stats: every table metric, plus
// fulcrum_requests_total{route,code_class} and fulcrum_responses_flagged_total{flag}.
// Requests without a route are labelled route="".
void renderWorkerMetrics(const WorkerStats& sum, const std::vector<std::string>& routeNames,
                         std::string& out);

// Writes one `# HELP` / `# TYPE` pair.
void writeMetricHeader(std::string& out, std::string_view name, std::string_view type,
                       std::string_view help);
// Escapes a label value (backslash, quote, newline) per the text exposition format.
std::string escapeLabelValue(std::string_view value);

} // namespace fulcrum::stats
