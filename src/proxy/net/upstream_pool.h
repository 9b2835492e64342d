#pragma once

// Per-worker upstream connection pools, keyed by endpoint address ("ip:port"), so that they
// outlive config snapshots: a reload that keeps an endpoint keeps its warm connections.
//
// Threading: one UpstreamPools per worker, used only on that worker's thread. No locks.
//
// Lifetimes: UpstreamConnection objects are recycled through a free list. A connection is either
//   Active  — owned by one session, which runs every I/O on it;
//   Idle    — in its EndpointPool's LIFO stack with an idle timer armed;
//   Closed  — socket closed and back on the free list.
// An idle connection has no I/O pending: keeping a read armed on it would cost an epoll_ctl per
// request (Asio re-arms non-speculative waits) plus a cancel on reuse. Instead takeIdle() checks
// a connection that sat idle for more than kPeekAfterIdle with one MSG_PEEK recv (an upstream
// that closed it shows EOF), and the session retries a bodiless request on a fresh connection
// when a reused one turns out dead before any response byte (docs/life_of_a_request.md).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/time_source.h"
#include "proxy/net/timer_wheel.h"
#include "proxy/stats/metrics.h"

namespace fulcrum::net {

class UpstreamPools;
class EndpointPool;

class UpstreamConnection {
public:
  enum class State : uint8_t { Active, Idle, Closed };

  explicit UpstreamConnection(boost::asio::io_context& io) : socket(io) {}

  boost::asio::ip::tcp::socket socket;
  EndpointPool* pool = nullptr;
  State state = State::Active;
  bool connected = false; // connect completed
  uint64_t requests = 0;  // requests sent on this connection
  UpstreamPools* owner = nullptr;
  MonotonicTime idleSince{};
  Timer idleTimer;
};

// Connections to one endpoint on one worker, plus its passive health (connect failures).
class EndpointPool {
public:
  EndpointPool(std::string address, boost::asio::ip::tcp::endpoint endpoint)
      : address_(std::move(address)), endpoint_(std::move(endpoint)) {}

  const std::string& address() const { return address_; }
  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  size_t idleCount() const { return idle_.size(); }
  // Connections open to this endpoint (Active or Idle), for the stats report.
  size_t openCount() const { return open_; }

  // Passive ejection after connect failures: exponential from 500 ms, capped at 30 s; any
  // successful connect clears it.
  bool ejected(MonotonicTime now) const { return now < ejectedUntil_; }
  void recordConnectFailure(MonotonicTime now);
  void recordConnectSuccess() {
    consecutiveFailures_ = 0;
    ejectedUntil_ = {};
  }
  uint32_t consecutiveFailures() const { return consecutiveFailures_; }

  // Shared health, as last told by the HealthMonitor (a message to this worker): active checks
  // and outlier ejection. `eligible` also honours the local connect-failure back-off; `shared`
  // only the monitor's state (what the panic threshold counts).
  void setSharedStatus(bool healthy, MonotonicTime outlierEjectedUntil) {
    healthy_ = healthy;
    outlierEjectedUntil_ = outlierEjectedUntil;
  }
  bool sharedHealthy(MonotonicTime now) const { return healthy_ && now >= outlierEjectedUntil_; }
  bool healthy() const { return healthy_; }
  MonotonicTime outlierEjectedUntil() const { return outlierEjectedUntil_; }

  // Passive outlier detection, counted on this worker: consecutive 5xx responses and consecutive
  // gateway errors (502/503/504, connect failure, reset, timeout). A success resets both.
  // Returns true when a count reaches its threshold (the count restarts: the caller reports to
  // the HealthMonitor, which decides the ejection for all workers).
  enum class Outcome : uint8_t { Success, Status5xx, GatewayError };
  bool recordOutcome(Outcome outcome, uint32_t threshold5xx, uint32_t thresholdGateway,
                     bool& gateway);

  // Upstream connections open to this endpoint on this worker (busy or idle): circuit breaker.
  uint32_t openConnections() const { return open_; }

private:
  friend class UpstreamPools;
  std::string address_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::vector<UpstreamConnection*> idle_; // LIFO: the warmest connection first
  uint32_t consecutiveFailures_ = 0;
  MonotonicTime ejectedUntil_{};
  bool healthy_ = true;
  MonotonicTime outlierEjectedUntil_{};
  uint32_t consecutive5xx_ = 0;
  uint32_t consecutiveGateway_ = 0;
  uint32_t open_ = 0;
};

class UpstreamPools {
public:
  UpstreamPools(boost::asio::io_context& io, TimerWheel& wheel, stats::WorkerStats& stats)
      : io_(io), wheel_(wheel), stats_(stats) {}
  UpstreamPools(const UpstreamPools&) = delete;
  UpstreamPools& operator=(const UpstreamPools&) = delete;
  ~UpstreamPools();

  // The pool for `address`, created on first use (allocates once per endpoint and worker).
  EndpointPool& endpoint(const std::string& address, const boost::asio::ip::tcp::endpoint& ep);
  // The pool for `address` if this worker has one, else nullptr.
  EndpointPool* find(const std::string& address);

  // An idle connection to `pool` (now Active), or nullptr.
  UpstreamConnection* takeIdle(EndpointPool& pool);
  // A fresh, unconnected connection to `pool` (Active). The caller connects its socket.
  UpstreamConnection* create(EndpointPool& pool);
  // Gives an Active connection back: kept Idle when `reusable` and the pool has room, else closed.
  void release(UpstreamConnection* conn, bool reusable, uint32_t maxIdle,
               std::chrono::milliseconds idleTimeout);
  // Closes an Active or Idle connection.
  void close(UpstreamConnection* conn);
  // Closes every idle connection (drain).
  void closeIdle();

  size_t endpointCount() const { return pools_.size(); }
  template <class F> void forEachEndpoint(F&& f) const {
    for (const auto& [key, pool] : pools_) {
      f(*pool);
    }
  }

  // Idle connections older than this are checked with a MSG_PEEK recv before reuse.
  static constexpr std::chrono::milliseconds kPeekAfterIdle{1000};

private:
  static bool alive(UpstreamConnection& conn);
  static void onIdleTimer(void* context);
  void removeFromIdle(UpstreamConnection* conn);

  boost::asio::io_context& io_;
  TimerWheel& wheel_;
  stats::WorkerStats& stats_;
  std::unordered_map<std::string, std::unique_ptr<EndpointPool>> pools_;
  std::vector<std::unique_ptr<UpstreamConnection>> all_;
  std::vector<UpstreamConnection*> free_;
};

} // namespace fulcrum::net
