#pragma once

// Server: the main thread of fulcrum-proxy. Owns config loading and reload (file watch, SIGHUP),
// the listener sockets' lifecycle, the admin server, signals and drain; talks to the workers only
// by posting messages (Worker::post*), and hands them immutable snapshots (RCU).
//
// Threading: every method runs on the main thread's io_context.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/time_source.h"
#include "proxy/access_log/writer.h"
#include "proxy/admin/admin_server.h"
#include "proxy/health/monitor.h"
#include "proxy/server/config_source.h"
#include "proxy/server/worker.h"
#include "proxy/snapshot/reclaimer.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/exposition.h"
#include "proxy/stats/metrics.h"
#include "proxy/tracing/exporter.h"

namespace fulcrum::server {

struct ServerOptions {
  std::string configPath;           // used when `configSource` is not set: a FileConfigSource
  ConfigSourceFactory configSource; // where config comes from (file, store); see config_source.h
  std::string adminAddress = "127.0.0.1:9901";
  uint32_t workers = 1;
  // Nice value the main thread takes once the workers run (Linux: per thread). Loading,
  // validating and compiling a revision is the main thread's CPU work; at 19 it gets ~1.5 % of
  // a core the workers keep busy (10: about a tenth) and all of an idle one (ADR 0018). 0 = the
  // workers' priority.
  int configNice = 19;
  bool configSchedIdle = false; // the main thread SCHED_IDLE instead (configNice unused)
  // Config work on the main thread yields its CPU after running this long, so that a worker
  // woken on the same CPU goes first (common/cooperative_yield.h). 0 = never yields.
  std::chrono::microseconds configYield{200};
  // CPU-seconds per second the main thread may spend on revisions that keep coming (file changes,
  // store watch events), in (0, 1]: beyond it, the newest waits (ConfigPacer). 1 = unpaced.
  double configCpuBudget = 0.05;
  std::string id; // empty: HOSTNAME-ADMINPORT (stable across restarts, unique per host)
  std::chrono::milliseconds drainTimeout = std::chrono::seconds(30);
  // Metrics cardinality: per-endpoint series on/off, and the most label values per dimension
  // (listener, route, pool, endpoint) before new ones fold into "__overflow__".
  bool metricsEndpointSeries = true;
  size_t metricsMaxSeries = stats::SlotTable::kDefaultMaxSeries;
  // Workers batch their small sends, and their receives from sockets found ready together,
  // through io_uring (net/io_batch.h).
  bool sendBatching = true;
  bool recvBatching = true;
  access_log::AccessLogOptions accessLog; // path empty: no access log
  tracing::ExporterOptions tracing;       // collector empty: spans are not exported
  double traceSampleRatio = 1.0;          // new traces; an incoming sampled flag is honoured
};

class Server {
public:
  Server(ServerOptions options, const TimeSource& time);
  ~Server();

  // Runs until drained (SIGTERM/SIGINT) and returns the process exit code.
  int run();

private:
  struct ActiveListener {
    std::string name;
    std::string address; // as configured
    SocketAddress bound; // with the real port
  };

  // Applies or refuses a candidate from the config source: compile (here, off the workers),
  // listeners, publish; tells the source the outcome.
  void apply(ConfigCandidate candidate);
  void refuse(const ConfigCandidate& candidate, const std::vector<std::string>& errors);
  struct OpenedListener {
    std::string name;
    std::string address;
    SocketAddress bound;
    std::vector<int> fds; // one per worker
  };
  // Opens one socket per worker for each listener new in `snap` (nothing changes on failure,
  // and the error names the listener); commitListeners hands them to the workers and closes the
  // listeners `snap` no longer has (their connections stay).
  Result<std::vector<OpenedListener>> openListeners(const snapshot::Snapshot& snap);
  void commitListeners(const snapshot::Snapshot& snap, std::vector<OpenedListener> opened);
  Result<bool> startObservability();
  void stopObservability();
  void startDrain(std::string_view why);
  void finish();
  void handleAdmin(const admin::AdminRequest& request, const admin::Reply& reply);
  void collect(std::function<void(std::vector<WorkerReport>)> done);
  // collect() plus a copy of the HealthMonitor's state (both replies arrive on the main thread).
  void
  collectWithHealth(std::function<void(std::vector<WorkerReport>, health::MonitorReport)> done);
  // Every metric family: the merged worker shards, health state, config state, process metrics.
  std::vector<stats::Family> buildFamilies(const std::vector<WorkerReport>& reports,
                                           const health::MonitorReport& health) const;
  std::string renderPools(const std::vector<WorkerReport>& reports,
                          const health::MonitorReport& health) const;
  std::string renderConfig() const;
  bool ready() const { return current_ != nullptr && !draining_; }

  ServerOptions options_;
  const TimeSource& time_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drainTimer_;
  // Declared before workers_: the workers push into their rings until they are destroyed.
  std::unique_ptr<access_log::AccessLogWriter> accessLog_;
  std::unique_ptr<tracing::SpanExporter> exporter_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<admin::AdminServer> admin_;
  // Declared after workers_: destroyed (and its thread joined) before them.
  std::unique_ptr<health::HealthMonitor> monitor_;
  // Declared before source_ (which holds a pointer to it).
  ConfigPacer pacer_;
  std::unique_ptr<ConfigSource> source_;
  stats::StatsSlots statsSlots_;
  snapshot::SnapshotConstSharedPtr current_;
  // Frees replaced snapshots on this thread, whichever thread (usually a worker) drops the last
  // reference: a 10k-route snapshot's free storm stays off the data plane.
  std::shared_ptr<snapshot::SnapshotReclaimer> reclaimer_;
  std::vector<ActiveListener> listeners_;
  uint64_t generation_ = 0;
  uint64_t reloadsSucceeded_ = 0;
  uint64_t reloadsFailed_ = 0;
  SystemTime lastReloadAttempt_{};
  std::string lastError_;
  uint64_t appliedRevision_ = 0; // the store revision current_ came from (0: a file)
  bool appliedFromCache_ = false;
  uint64_t refusedRevision_ = 0; // the last store revision refused
  bool draining_ = false;
  size_t drainedWorkers_ = 0;
  bool finished_ = false;
  int exitCode_ = 0;
};

} // namespace fulcrum::server
