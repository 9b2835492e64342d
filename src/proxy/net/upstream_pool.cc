#include "proxy/net/upstream_pool.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace fulcrum::net {

void EndpointPool::recordConnectFailure(MonotonicTime now) {
  ++consecutiveFailures_;
  const auto backoff =
      std::chrono::milliseconds(500 << std::min<uint32_t>(consecutiveFailures_ - 1, 6));
  ejectedUntil_ = now + std::min<std::chrono::milliseconds>(backoff, std::chrono::seconds(30));
}

bool EndpointPool::recordOutcome(Outcome outcome, uint32_t threshold5xx, uint32_t thresholdGateway,
                                 bool& gateway) {
  gateway = false;
  if (outcome == Outcome::Success) {
    consecutive5xx_ = 0;
    consecutiveGateway_ = 0;
    return false;
  }
  ++consecutive5xx_; // a gateway error is a 5xx too (a 502/503/504 the proxy would answer)
  if (outcome == Outcome::GatewayError) {
    ++consecutiveGateway_;
  }
  if (outcome == Outcome::GatewayError && thresholdGateway != 0 &&
      consecutiveGateway_ >= thresholdGateway) {
    gateway = true;
  } else if (threshold5xx == 0 || consecutive5xx_ < threshold5xx) {
    return false;
  }
  consecutive5xx_ = 0;
  consecutiveGateway_ = 0;
  return true;
}

EndpointPool* UpstreamPools::find(const std::string& address) {
  auto it = pools_.find(address);
  return it == pools_.end() ? nullptr : it->second.get();
}

UpstreamPools::~UpstreamPools() {
  for (auto& conn : all_) {
    conn->idleTimer.bind(nullptr, nullptr);
    TimerWheel::disarm(conn->idleTimer);
    boost::system::error_code ec;
    conn->socket.close(ec);
  }
}

EndpointPool& UpstreamPools::endpoint(const std::string& address,
                                      const boost::asio::ip::tcp::endpoint& ep) {
  auto it = pools_.find(address);
  if (it == pools_.end()) {
    it = pools_.emplace(address, std::make_unique<EndpointPool>(address, ep)).first;
  }
  return *it->second;
}

bool UpstreamPools::alive(UpstreamConnection& conn) {
  char byte;
  const ssize_t n = ::recv(conn.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

UpstreamConnection* UpstreamPools::takeIdle(EndpointPool& pool) {
  const MonotonicTime now = wheel_.now();
  while (!pool.idle_.empty()) {
    UpstreamConnection* conn = pool.idle_.back();
    pool.idle_.pop_back();
    --stats_.upstreamConnectionsIdle;
    TimerWheel::disarm(conn->idleTimer);
    conn->state = UpstreamConnection::State::Active;
    // EOF (the upstream closed it) or bytes nobody asked for: not reusable.
    if (now - conn->idleSince > kPeekAfterIdle && !alive(*conn)) {
      close(conn);
      continue;
    }
    return conn;
  }
  return nullptr;
}

UpstreamConnection* UpstreamPools::create(EndpointPool& pool) {
  UpstreamConnection* conn = nullptr;
  if (!free_.empty()) {
    conn = free_.back();
    free_.pop_back();
  } else {
    all_.push_back(std::make_unique<UpstreamConnection>(io_));
    conn = all_.back().get();
    conn->idleTimer.bind(&UpstreamPools::onIdleTimer, conn);
    conn->owner = this;
  }
  conn->pool = &pool;
  conn->state = UpstreamConnection::State::Active;
  conn->connected = false;
  conn->requests = 0;
  ++pool.open_;
  ++stats_.upstreamConnectionsActive;
  ++pool.open_;
  return conn;
}

void UpstreamPools::release(UpstreamConnection* conn, bool reusable, uint32_t maxIdle,
                            std::chrono::milliseconds idleTimeout) {
  EndpointPool& pool = *conn->pool;
  if (!reusable || !conn->connected || pool.idle_.size() >= maxIdle || !conn->socket.is_open()) {
    close(conn);
    return;
  }
  conn->state = UpstreamConnection::State::Idle;
  conn->idleSince = wheel_.now();
  pool.idle_.push_back(conn);
  ++stats_.upstreamConnectionsIdle;
  wheel_.armAfter(conn->idleTimer, idleTimeout);
}

void UpstreamPools::removeFromIdle(UpstreamConnection* conn) {
  auto& idle = conn->pool->idle_;
  auto it = std::find(idle.begin(), idle.end(), conn);
  if (it != idle.end()) {
    idle.erase(it);
    --stats_.upstreamConnectionsIdle;
  }
}

void UpstreamPools::close(UpstreamConnection* conn) {
  if (conn->state == UpstreamConnection::State::Closed) {
    return;
  }
  if (conn->state == UpstreamConnection::State::Idle) {
    removeFromIdle(conn);
  }
  TimerWheel::disarm(conn->idleTimer);
  conn->state = UpstreamConnection::State::Closed;
  boost::system::error_code ec;
  conn->socket.close(ec); // handlers of a session still pending on it complete as aborted
  --stats_.upstreamConnectionsActive;
  --conn->pool->open_;
  conn->pool = nullptr;
  free_.push_back(conn);
}

void UpstreamPools::closeIdle() {
  for (auto& [key, pool] : pools_) {
    while (!pool->idle_.empty()) {
      close(pool->idle_.back());
    }
  }
}

void UpstreamPools::onIdleTimer(void* context) {
  auto* conn = static_cast<UpstreamConnection*>(context);
  if (conn->state == UpstreamConnection::State::Idle) {
    conn->owner->close(conn);
  }
}

} // namespace fulcrum::net
