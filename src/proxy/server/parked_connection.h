#pragma once

// ParkedConnection: a keep-alive client connection that stayed idle for Worker::kParkAfter. It
// keeps only what the next request needs — the socket, its listener and the client's address —
// and no Session, buffers or handler memory, so that thousands of idle clients cost a few hundred
// bytes each (docs/performance.md, "memory per idle connection").
//
// Threading and ownership: owned by one Worker (Worker::parked_), pooled like sessions, touched
// only on that worker's thread. While parked, exactly one readiness wait is pending on the
// socket; the record is reused only after that wait has completed.

#include <cstdint>

#include <boost/asio/ip/tcp.hpp>

#include "common/time_source.h"
#include "config/schema.h"
#include "proxy/net/timer_wheel.h"

namespace fulcrum::server {

struct WorkerSnapshot;

struct ParkedConnection {
  explicit ParkedConnection(boost::asio::io_context& io) : socket(io) {}

  boost::asio::ip::tcp::socket socket;
  // Keeps *listener alive (the listener config belongs to the snapshot it came with).
  std::shared_ptr<WorkerSnapshot> snap;
  const config::Listener* listener = nullptr;
  net::Timer idle;           // the keep-alive idle deadline the session had
  uint32_t index = 0;        // position in Worker::parkedLive_
  uint32_t listenerSlot = 0; // stats slot of the listener
  bool closing = false;      // closed by the idle deadline, drain or stop: the wait ends aborted
  uint8_t clientIpLen = 0;
  char clientIp[47] = {0};
};

} // namespace fulcrum::server
