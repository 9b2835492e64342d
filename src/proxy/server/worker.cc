#include "proxy/server/worker.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <boost/asio/post.hpp>

#include "proxy/net/accepted_socket.h"
#include "proxy/net/read_speculation.h"
#include "proxy/server/session.h"

namespace fulcrum::server {

using boost::asio::ip::tcp;

namespace {
// The wheel's resolution: every deadline of the data plane fires within one tick of its time.
constexpr std::chrono::milliseconds kTick{10};
} // namespace

Worker::Worker(uint32_t index, const TimeSource& time)
    : index_(index), time_(time), io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      guard_(boost::asio::make_work_guard(io_)), wheel_(io_, time, kTick),
      upstreams_(io_, wheel_, stats_),
      rng_(0x9e3779b97f4a7c15ULL * (index + 1) ^
           static_cast<uint64_t>(time.systemTime().time_since_epoch().count())),
      parked_(io_, wheel_, *this) {}

Worker::~Worker() {
  join();
  // Sessions close their sockets in their destructors; the thread has ended, so this is safe.
  sessions_.clear();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
  // "worker-N" in ps, top and perf (at most 15 bytes).
  (void)::pthread_setname_np(thread_.native_handle(), ("worker-" + std::to_string(index_)).c_str());
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::run() {
  wheel_.start();
  maintenance_.bind(&Worker::onMaintenance, this);
  wheel_.armAfter(maintenance_, std::chrono::seconds(1));
  // Without an epoll set (EMFILE, ENOMEM at start), park() closes idle keep-alive connections
  // instead of parking them.
  (void)parked_.open();
  if (batching_.sends || batching_.receives) {
    // Null without io_uring: sends go out directly, the reactor receives.
    ioBatch_ = net::IoBatch::create(io_, batching_);
    if (ioBatch_) {
      ioBatch_->install();
    }
  }
  io_.run();
  if (ioBatch_) {
    ioBatch_->uninstall();
  }
  exited_.store(true, std::memory_order_release);
}

bool Worker::joinFor(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_.load(std::memory_order_acquire)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  join();
  return true;
}

void Worker::postSnapshot(snapshot::SnapshotConstSharedPtr snapshot) {
  boost::asio::post(
      io_, [this, snapshot = std::move(snapshot)]() mutable { adopt(std::move(snapshot)); });
}

void Worker::adopt(snapshot::SnapshotConstSharedPtr snapshot) {
  auto local = std::make_shared<WorkerSnapshot>();
  local->pools.reserve(snapshot->pools.size());
  for (const auto& pool : snapshot->pools) {
    WorkerSnapshot::Pool p;
    p.balancer = pool.balancer->create(rng_.next());
    for (const auto& ep : pool.endpoints) {
      const bool known = upstreams_.find(ep.address) != nullptr;
      net::EndpointPool& endpoint = upstreams_.endpoint(ep.address, ep.endpoint);
      if (!known && pool.pool->healthCheck && !pool.pool->healthCheck->startHealthy) {
        // New and not trusted before its first probes; the HealthMonitor confirms or corrects.
        endpoint.setSharedStatus(false, {});
      }
      p.endpoints.push_back(&endpoint);
    }
    p.active.assign(p.endpoints.size(), 0);
    local->pools.push_back(std::move(p));
  }
  stats_.reserveSlots(snapshot->routeSlotCount, snapshot->listenerSlotCount,
                      snapshot->poolSlotCount, snapshot->endpointSlotCount);
  local->snapshot = std::move(snapshot);
  recountHealthy(*local);
  current_ = std::move(local); // sessions pick it up at their next request
  ++stats_.configApplied;
}

void Worker::postAddListener(std::string name, int fd, bool ipv6) {
  boost::asio::post(io_, [this, name = std::move(name), fd, ipv6]() mutable {
    auto listener = std::make_shared<Listener>(io_, std::move(name));
    listener->worker = this;
    listener->self = listener;
    boost::system::error_code ec;
    listener->acceptor.assign(ipv6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec || draining_) {
      ::close(fd);
      return;
    }
    listeners_.push_back(listener);
    accept(listener);
  });
}

void Worker::postRemoveListener(std::string name) {
  boost::asio::post(io_, [this, name = std::move(name)] {
    for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
      if ((*it)->name == name) {
        (*it)->open = false;
        boost::system::error_code ec;
        (*it)->acceptor.close(ec);
        listeners_.erase(it);
        return;
      }
    }
  });
}

void Worker::accept(const std::shared_ptr<Listener>& listener) {
  // One readiness wait per batch of connections; accept4 makes each socket non-blocking and
  // AcceptedSocket spares Asio's per-connection ioctl and EPOLL_CTL_DEL (net/accepted_socket.h).
  listener->acceptor.async_wait(tcp::acceptor::wait_read,
                                [this, listener](const boost::system::error_code& ec) {
                                  if (ec || !listener->open || draining_) {
                                    return;
                                  }
                                  acceptBatch(listener);
                                });
}

void Worker::acceptBatch(const std::shared_ptr<Listener>& listener) {
  constexpr int kBatch = 64; // then let other work run before accepting more
  const int listenFd = listener->acceptor.native_handle();
  for (int i = 0; i < kBatch; ++i) {
    sockaddr_storage storage{};
    socklen_t length = sizeof(storage);
    const int fd = ::accept4(listenFd, reinterpret_cast<sockaddr*>(&storage), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        accept(listener);
        return;
      }
      // EMFILE, ENFILE, ENOBUFS, ENOMEM: the backlog stays readable, so waiting for readiness
      // would spin. Try again a little later.
      ++stats_.downstreamAcceptErrors;
      listener->retry.bind(&Worker::onAcceptRetry, listener.get());
      wheel_.armAfter(listener->retry, std::chrono::milliseconds(100));
      return;
    }
    tcp::endpoint peer;
    const size_t peerLength = std::min<size_t>(length, peer.capacity());
    std::memcpy(peer.data(), &storage, peerLength);
    peer.resize(peerLength);
    onAccepted(*listener, fd, peer);
    if (!listener->open || draining_) {
      return;
    }
  }
  boost::asio::post(io_, [this, listener] {
    if (listener->open && !draining_) {
      acceptBatch(listener);
    }
  });
}

void Worker::onAcceptRetry(void* context) {
  auto* listener = static_cast<Listener*>(context);
  if (listener->open && !listener->worker->draining_) {
    listener->worker->accept(listener->self.lock());
  }
}

void Worker::onAccepted(Listener& listener, int fd, const tcp::endpoint& peer) {
  const snapshot::ListenerInfo* info =
      current_ ? current_->snapshot->findListener(listener.name) : nullptr;
  if (info == nullptr) {
    ::close(fd); // the listener was removed by a config that is still being applied
    return;
  }
  const config::Listener& config = *info->listener;
  if (config.limits.maxConnections != 0 &&
      static_cast<uint64_t>(stats_.downstreamConnectionsActive) >= config.limits.maxConnections) {
    ++stats_.downstreamConnectionsRejected;
    ++stats_.listeners[info->statsSlot].connectionsRejected;
    ::close(fd);
    return;
  }
  tcp::socket socket(io_);
  boost::system::error_code ec;
  socket.assign(peer.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return;
  }
  net::AcceptedSocket::adopt(socket);
  // assign() registered the socket (EPOLL_CTL_ADD), which queues a readiness edge if the request
  // is already there, and no epoll_wait ran since: the first read waits for that edge instead of
  // a recv() that usually finds nothing (net/read_speculation.h).
  net::markDrained(socket);
  ++stats_.downstreamConnectionsTotal;
  ++stats_.downstreamConnectionsActive;
  ++stats_.listeners[info->statsSlot].connectionsTotal;
  ++stats_.listeners[info->statsSlot].connectionsActive;
  Session* session = acquireSession();
  session->listenerSlot = info->statsSlot;
  session->start(std::move(socket), peer, config);
}

Session* Worker::acquireSession() {
  Session* session = nullptr;
  if (!free_.empty()) {
    session = free_.back();
    free_.pop_back();
  } else {
    sessions_.push_back(std::make_unique<Session>(*this));
    session = sessions_.back().get();
    session->ownerIndex = sessions_.size() - 1;
  }
  session->liveIndex = live_.size();
  live_.push_back(session);
  return session;
}

void Worker::releaseSession(Session* session, bool connectionClosed) {
  Session* last = live_.back();
  live_[session->liveIndex] = last;
  last->liveIndex = session->liveIndex;
  live_.pop_back();
  free_.push_back(session);
  if (connectionClosed) {
    --stats_.downstreamConnectionsActive;
    --stats_.listeners[session->listenerSlot].connectionsActive;
  }
  maybeDrained();
}

// ---------------------------------------------------------------------------------------------
// Parked connections

// `listenerSnap` by value: the session hands its reference over (it holds none after this).
void Worker::park(tcp::socket socket,
                  WorkerSnapshotPtr listenerSnap, // NOLINT(performance-unnecessary-value-param)
                  const config::Listener& listener, uint32_t listenerSlot,
                  MonotonicTime idleDeadline) {
  boost::system::error_code ec;
  int fd = -1;
  if (!draining_) {
    // release() takes the descriptor out of the reactor (EPOLL_CTL_DEL) without closing it and
    // returns Asio's descriptor state to its pool; no operation is pending on it.
    fd = socket.release(ec);
  }
  if (fd >= 0 && !ec && parked_.park(fd, listenerSnap, listener, listenerSlot, idleDeadline)) {
    ++stats_.downstreamConnectionsParked;
    return;
  }
  if (fd >= 0) {
    ::close(fd);
  }
  socket.close(ec);
  --stats_.downstreamConnectionsActive;
  --stats_.listeners[listenerSlot].connectionsActive;
}

void Worker::onParkedReady(int fd, const ParkedOrigin& origin) {
  --stats_.downstreamConnectionsParked;
  // Bytes (or EOF, or an error) arrived: a session reads them as the next request (or ends the
  // connection). The client's address is read again (not kept while parked); a connection reset
  // meanwhile has none and ends here, as its session would have ended it.
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  tcp::socket socket(io_);
  boost::system::error_code ec;
  tcp::endpoint peer;
  if (draining_ || ::getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    ec = boost::asio::error::not_connected;
  } else {
    const size_t peerLength = std::min<size_t>(length, peer.capacity());
    std::memcpy(peer.data(), &storage, peerLength);
    peer.resize(peerLength);
    socket.assign(peer.protocol(), fd, ec);
  }
  if (ec) {
    ::close(fd);
    --stats_.downstreamConnectionsActive;
    --stats_.listeners[origin.listenerSlot].connectionsActive;
    maybeDrained();
    return;
  }
  // Accepted with accept4(SOCK_NONBLOCK) and never duplicated: spare Asio's ioctl and
  // EPOLL_CTL_DEL as for a new connection (net/accepted_socket.h). The read speculates: the
  // bytes are there.
  net::AcceptedSocket::adopt(socket);
  Session* session = acquireSession();
  session->listenerSlot = origin.listenerSlot;
  session->resume(std::move(socket), peer, origin.snap, *origin.listener);
}

void Worker::onParkedClosed(const ParkedOrigin& origin) {
  --stats_.downstreamConnectionsParked;
  --stats_.downstreamConnectionsActive;
  --stats_.listeners[origin.listenerSlot].connectionsActive;
  maybeDrained();
}

void Worker::onMaintenance(void* context) {
  auto* self = static_cast<Worker*>(context);
  self->trimSessions();
  if (!self->draining_) {
    self->wheel_.armAfter(self->maintenance_, std::chrono::seconds(1));
  }
}

void Worker::trimSessions() {
  // Parked records: released when nothing is parked (after a burst of idle clients left).
  const bool parkedTrimmed = parked_.trim();
  if (free_.size() <= kFreeSessionsKept) {
    if (parkedTrimmed) {
      ::malloc_trim(0);
    }
    return;
  }
  while (free_.size() > kFreeSessionsKept) {
    Session* session = free_.back();
    free_.pop_back();
    const size_t index = session->ownerIndex;
    std::swap(sessions_[index], sessions_.back());
    sessions_[index]->ownerIndex = index;
    sessions_.pop_back(); // destroys it: a free session has no pending operation
  }
  // Freed buffers sit inside the heap; give their pages back (rare: after a burst).
  ::malloc_trim(0);
}

void Worker::postDrain(std::function<void()> done) {
  boost::asio::post(io_, [this, done = std::move(done)]() mutable {
    draining_ = true;
    drained_ = std::move(done);
    for (auto& listener : listeners_) {
      listener->open = false;
      boost::system::error_code ec;
      listener->acceptor.close(ec);
    }
    listeners_.clear();
    upstreams_.closeIdle();
    const std::vector<Session*> live = live_; // onDrain may release sessions
    for (Session* session : live) {
      session->onDrain();
    }
    parked_.closeAll();
    maybeDrained();
  });
}

void Worker::maybeDrained() {
  if (draining_ && live_.empty() && parked_.size() == 0 && drained_) {
    auto done = std::move(drained_);
    drained_ = nullptr;
    done();
  }
}

void Worker::postCollect(std::function<void(WorkerReport)> reply) {
  boost::asio::post(io_, [this, reply = std::move(reply)] {
    WorkerReport report;
    report.worker = index_;
    report.stats = stats_;
    report.stats.sendsBatched = ioBatch_ ? ioBatch_->sent() : 0;
    report.stats.receivesBatched = ioBatch_ ? ioBatch_->received() : 0;
    const MonotonicTime now = wheel_.now();
    upstreams_.forEachEndpoint([&](const net::EndpointPool& pool) {
      report.endpoints.push_back(WorkerReport::Endpoint{
          pool.address(), pool.idleCount(), pool.consecutiveFailures(), pool.ejected(now)});
    });
    // Open connections per pool and endpoint of the current config, into the copy only.
    if (current_) {
      const auto& pools = current_->snapshot->pools;
      for (size_t p = 0; p < pools.size() && p < current_->pools.size(); ++p) {
        const auto& endpoints = current_->pools[p].endpoints;
        for (size_t e = 0; e < endpoints.size() && e < pools[p].endpoints.size(); ++e) {
          const auto open = static_cast<int64_t>(endpoints[e]->openCount());
          report.stats.pools[pools[p].statsSlot].connectionsActive += open;
          report.stats.endpoints[pools[p].endpoints[e].statsSlot].connectionsActive += open;
        }
      }
    }
    reply(std::move(report));
  });
}

void Worker::recountHealthy(WorkerSnapshot& local) {
  const MonotonicTime now = wheel_.now();
  for (WorkerSnapshot::Pool& pool : local.pools) {
    pool.healthy = 0;
    for (const net::EndpointPool* endpoint : pool.endpoints) {
      pool.healthy += endpoint->sharedHealthy(now) ? 1 : 0;
    }
  }
}

void Worker::postEndpointStatus(health::EndpointStatus status) {
  boost::asio::post(io_, [this, status = std::move(status)] {
    net::EndpointPool* endpoint = upstreams_.find(status.address);
    if (endpoint == nullptr) {
      return; // not in any snapshot this worker adopted
    }
    wheel_.refreshNow();
    endpoint->setSharedStatus(status.healthy, status.ejectedUntil);
    if (current_) {
      recountHealthy(*current_);
    }
  });
}

void Worker::reportOutlier(const std::string& address, health::OutlierKind kind) {
  ++stats_.outlierReports;
  if (outlierSink_) {
    outlierSink_(address, kind);
  }
}

void Worker::postStop() {
  boost::asio::post(io_, [this] {
    // Close everything so that every pending operation completes (as aborted) and run() returns
    // on its own: sessions' operation memory must not outlive them (see ~Worker).
    draining_ = true;
    drained_ = nullptr;
    for (auto& listener : listeners_) {
      listener->open = false;
      boost::system::error_code ec;
      listener->acceptor.close(ec);
    }
    listeners_.clear();
    const std::vector<Session*> live = live_;
    for (Session* session : live) {
      session->shutdown();
    }
    parked_.shutdown();
    upstreams_.closeIdle();
    wheel_.stop();
    guard_.reset();
  });
}

} // namespace fulcrum::server
