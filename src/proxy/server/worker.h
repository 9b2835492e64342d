#pragma once

// Worker: one thread, one io_context (concurrency hint 1), and everything a connection needs
// without ever leaving the thread: its SO_REUSEPORT acceptors, its sessions (pooled), its upstream
// connection pools, its load balancers (built from the snapshot's factories) and its stats shard.
//
// Threading contract: the public post*() methods are called by the main thread and only post a
// message to the worker; every other method runs on the worker's own thread. Nothing here is
// shared with another thread except through those messages and the immutable Snapshot.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/time_source.h"
#include "proxy/health/monitor.h"
#include "proxy/lb/load_balancer.h"
#include "proxy/lb/rng.h"
#include "proxy/net/io_batch.h"
#include "proxy/net/timer_wheel.h"
#include "proxy/net/upstream_pool.h"
#include "proxy/server/observability.h"
#include "proxy/server/parked_connection.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/metrics.h"

namespace fulcrum::server {

class Session;

// The worker's view of one snapshot: the snapshot itself plus the worker-local state compiled
// from it (balancers with their own RR position/RNG, endpoint pools resolved once). Sessions hold
// a shared_ptr for the duration of a request (RCU: the previous one dies with its last request).
struct WorkerSnapshot {
  struct Pool {
    std::unique_ptr<lb::LoadBalancer> balancer;
    std::vector<net::EndpointPool*> endpoints; // owned by the worker's UpstreamPools
    // Requests of this worker in flight to each endpoint (least_request), indexed like
    // endpoints. Counted per snapshot: a session holds its WorkerSnapshot until its request
    // ends, so its decrement always lands in the vector it incremented.
    std::vector<uint32_t> active;
    // Circuit breaker and retry budget counts of this worker (limits are per worker, see
    // docs/config.md#circuitbreaker): requests in flight, requests waiting for a connection,
    // retries in flight. Same lifetime rule as `active`.
    uint32_t requests = 0;
    uint32_t pending = 0;
    uint32_t retries = 0;
    // Endpoints the HealthMonitor last called healthy and not ejected (the panic threshold),
    // recounted on every status message for the current snapshot.
    uint32_t healthy = 0;
  };
  snapshot::SnapshotConstSharedPtr snapshot;
  std::vector<Pool> pools; // indexed like snapshot->pools
};
using WorkerSnapshotPtr = std::shared_ptr<WorkerSnapshot>;

// What a worker reports to the admin server: a copy of its stats and its endpoints' state.
struct WorkerReport {
  struct Endpoint {
    std::string address;
    size_t idleConnections = 0;
    uint32_t consecutiveConnectFailures = 0;
    bool ejected = false;
  };
  uint32_t worker = 0;
  stats::WorkerStats stats;
  std::vector<Endpoint> endpoints;
};

class Worker : private ParkedSet::Handler {
public:
  Worker(uint32_t index, const TimeSource& time);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Main thread.
  // Whether sends and receives are batched through io_uring (net/io_batch.h; default both);
  // before start().
  void setIoBatching(net::IoBatch::Options options) { batching_ = options; }
  void start();
  void join();
  // Joins if the thread ends within `timeout`; false if it is still running.
  bool joinFor(std::chrono::milliseconds timeout);
  void postSnapshot(snapshot::SnapshotConstSharedPtr snapshot);
  // Takes ownership of a listening socket `fd` (SO_REUSEPORT member) for listener `name`.
  void postAddListener(std::string name, int fd, bool ipv6);
  void postRemoveListener(std::string name);
  // Stops accepting, closes idle connections, and calls `done` (on the worker thread) once the
  // last session has ended.
  void postDrain(std::function<void()> done);
  // Calls `reply` on the worker thread with a copy of the worker's report.
  void postCollect(std::function<void(WorkerReport)> reply);
  // Closes every connection and listener; the thread ends once the aborted operations have
  // completed.
  void postStop();
  // An endpoint's shared health changed (sent by the HealthMonitor's thread).
  void postEndpointStatus(health::EndpointStatus status);
  // Where outlier reports go (a HealthMonitor's postOutlier). Set before start().
  void setOutlierSink(std::function<void(std::string, health::OutlierKind)> sink) {
    outlierSink_ = std::move(sink);
  }

  // Worker thread.
  boost::asio::io_context& io() { return io_; }
  net::TimerWheel& wheel() { return wheel_; }
  net::UpstreamPools& upstreams() { return upstreams_; }
  // The worker thread's I/O batch, or null (both off, or io_uring unavailable): sessions queue
  // their small sends here instead of calling sendmsg(), and announce their reads
  // (net/io_batch.h).
  net::IoBatch* ioBatch() { return ioBatch_.get(); }
  stats::WorkerStats& stats() { return stats_; }
  const WorkerSnapshotPtr& current() const { return current_; }
  bool draining() const { return draining_; }
  lb::Rng& rng() { return rng_; }
  const TimeSource& time() const { return time_; }
  // Access-log and tracing settings and scratch. Set up by the main thread before start().
  WorkerObservability& observability() { return observability_; }
  uint32_t index() const { return index_; }
  // Returns a session to the pool; `connectionClosed` is false when its connection lives on as
  // a parked connection (see park()).
  void releaseSession(Session* session, bool connectionClosed = true);
  // Takes over an idle keep-alive connection from a session that is about to be released: takes
  // its descriptor out of Asio's reactor into the worker's ParkedSet, waits for the client's next
  // bytes without a session, then hands the connection to a fresh one (Session::resume). Closes
  // it at `idleDeadline`, on drain and on stop. `listenerSnap` owns `listener`.
  void park(boost::asio::ip::tcp::socket socket, WorkerSnapshotPtr listenerSnap,
            const config::Listener& listener, uint32_t listenerSlot, MonotonicTime idleDeadline);
  size_t parkedCount() const { return parked_.size(); }

  // A keep-alive connection idle for this long gives its session (and buffers) back. Shorter
  // costs a cancel, a session hand-over and about six syscalls (four epoll_ctl, a getpeername, a
  // share of an epoll_wait) per idle period for clients that pause longer between requests;
  // longer holds two buffers per idle client.
  // Free sessions kept for reuse beyond this are destroyed once a second (with their buffers),
  // and the heap is trimmed, so that a burst of connections does not pin its peak memory.
  static constexpr size_t kFreeSessionsKept = 64;
  static constexpr std::chrono::milliseconds kParkAfter{100};
  // A session saw an endpoint cross an outlier threshold: one message to the HealthMonitor.
  void reportOutlier(const std::string& address, health::OutlierKind kind);

private:
  struct Listener {
    std::string name;
    boost::asio::ip::tcp::acceptor acceptor;
    bool open = true;
    Worker* worker = nullptr;
    std::weak_ptr<Listener> self;
    net::Timer retry; // accepting again after EMFILE and friends
    explicit Listener(boost::asio::io_context& io, std::string n)
        : name(std::move(n)), acceptor(io) {}
  };

  void run();
  void adopt(snapshot::SnapshotConstSharedPtr snapshot);
  void accept(const std::shared_ptr<Listener>& listener);
  void acceptBatch(const std::shared_ptr<Listener>& listener);
  void onAccepted(Listener& listener, int fd, const boost::asio::ip::tcp::endpoint& peer);
  static void onAcceptRetry(void* context);
  Session* acquireSession();
  void maybeDrained();
  // ParkedSet::Handler.
  void onParkedReady(int fd, const ParkedOrigin& origin) override;
  void onParkedClosed(const ParkedOrigin& origin) override;
  static void onMaintenance(void* context);
  void trimSessions();
  void recountHealthy(WorkerSnapshot& local);

  uint32_t index_;
  const TimeSource& time_;
  WorkerObservability observability_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  net::TimerWheel wheel_;
  stats::WorkerStats stats_;
  net::UpstreamPools upstreams_;
  lb::Rng rng_;
  WorkerSnapshotPtr current_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<Session>> sessions_; // every session ever created (pooled)
  std::vector<Session*> free_;
  net::Timer maintenance_;     // once a second: trimSessions()
  std::vector<Session*> live_; // started and not yet released; Session::liveIndex_ points here
  ParkedSet parked_;           // idle keep-alive connections (after wheel_: their timers are in it)
  bool draining_ = false;
  std::function<void()> drained_;
  std::function<void(std::string, health::OutlierKind)> outlierSink_;
  std::atomic<bool> exited_{false};
  std::thread thread_;
  net::IoBatch::Options batching_;
  std::unique_ptr<net::IoBatch> ioBatch_; // created and installed on the worker thread
};

} // namespace fulcrum::server
