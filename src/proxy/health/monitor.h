#pragma once

// HealthMonitor: the one owner of every endpoint's shared health state — active health checks
// (HTTP GET or TCP connect probes) and passive outlier ejection — on its own thread and
// io_context, never on a worker and never on the main thread's admin loop.
//
// Messages (DESIGN §4: no shared mutable state):
//   main   -> monitor  postConfig(snapshot)       after every applied config; state is kept for
//                                                 endpoints (by address) that stay
//   worker -> monitor  postOutlier(address, kind) a worker saw `consecutive5xx` or
//                                                 `consecutiveGatewayErrors` in a row
//   monitor -> workers Publish(EndpointStatus)    on every change of an endpoint's eligibility
//   main   -> monitor  postCollect(reply)         a copy of the state for /pools and /metrics
// Every post*() may be called from any thread; everything else runs on the monitor's thread.
//
// Identity: state is keyed by endpoint address ("ip:port"), like the workers' connection pools.
// An address listed in several pools is probed with the health check of the first pool (config
// order) that has one, and ejected under the outlierDetection of the first pool that has one.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/time_source.h"
#include "proxy/health/policy.h"
#include "proxy/lb/rng.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/exposition.h"

namespace fulcrum::health {

// What the workers need to know about one endpoint (a message from the monitor).
struct EndpointStatus {
  std::string address;
  bool healthy = true;          // active checks say so (always true without a health check)
  MonotonicTime ejectedUntil{}; // outlier ejection; the past when not ejected
};

enum class OutlierKind : uint8_t { Consecutive5xx, ConsecutiveGatewayErrors };
std::string_view toString(OutlierKind kind);

// One endpoint as /pools and /metrics show it (a copy made on the monitor's thread).
struct EndpointReport {
  std::string address;
  bool checked = false; // has an active health check
  HealthState state = HealthState::Healthy;
  std::string lastResult; // "success" | "failure" | "" (no probe yet)
  std::string lastReason; // e.g. "status 200", "connect: Connection refused", "timeout"
  std::optional<SystemTime> lastCheckAt;
  bool ejected = false;
  std::optional<SystemTime> ejectedUntil;
  std::string ejectionReason;
  uint32_t timesEjected = 0;
  uint64_t probes = 0;
  uint64_t transitions = 0; // health state changes
  uint64_t ejections = 0;
};

struct MonitorReport {
  std::vector<EndpointReport> endpoints;
  uint64_t ejectionsRefused = 0; // over maxEjectionPercent
};

class HealthMonitor {
public:
  using Publish = std::function<void(const EndpointStatus&)>; // runs on the monitor thread

  HealthMonitor(const TimeSource& time, Publish publish, uint64_t seed);
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;
  ~HealthMonitor();

  // Main thread.
  void start();
  void stop(); // closes every probe and joins the thread

  // Any thread.
  void postConfig(snapshot::SnapshotConstSharedPtr snapshot);
  void postOutlier(std::string address, OutlierKind kind);
  void postCollect(std::function<void(MonitorReport)> reply); // reply runs on the monitor thread

private:
  struct Endpoint;
  void applyConfig(snapshot::SnapshotConstSharedPtr snapshot);
  void onOutlier(const std::string& address, OutlierKind kind);
  void scheduleProbe(const std::shared_ptr<Endpoint>& ep, std::chrono::milliseconds delay);
  void probe(const std::shared_ptr<Endpoint>& ep);
  void finishProbe(const std::shared_ptr<Endpoint>& ep, bool success, std::string reason);
  void publish(const Endpoint& ep);
  double random01() { return static_cast<double>(rng_.next() >> 11) * 0x1.0p-53; }

  const TimeSource& time_;
  Publish publish_;
  lb::Rng rng_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  snapshot::SnapshotConstSharedPtr current_; // keeps the config the endpoints point into
  std::unordered_map<std::string, std::shared_ptr<Endpoint>> endpoints_;
  uint64_t ejectionsRefused_ = 0;
};

// Appends the monitor's per-endpoint series (fulcrum_endpoint_healthy, fulcrum_endpoint_ejected,
// fulcrum_health_transitions_total, fulcrum_outlier_ejections_total, ...) labelled
// {pool, endpoint} for every pool of `snapshot` (may be null).
void appendHealthFamilies(const MonitorReport& report, const snapshot::Snapshot* snapshot,
                          bool endpointSeries, std::vector<stats::Family>& families);

} // namespace fulcrum::health
