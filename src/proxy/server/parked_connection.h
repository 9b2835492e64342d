#pragma once

// ParkedSet: the keep-alive client connections of one worker that stayed idle for
// Worker::kParkAfter, held outside Asio's reactor (ADR 0006, docs/performance.md, "Idle
// connections").
//
// A parked connection is a bare descriptor in a worker-owned epoll set (level-triggered,
// EPOLLIN | EPOLLRDHUP) plus one 64-byte ParkedConnection record: no Session, no buffers, no Asio
// socket (so no Asio descriptor state and no pending operation). Only the epoll set's own
// descriptor is watched by the worker's io_context, with one pending async_wait for all parked
// connections. When it fires, ready connections are taken out of the set (EPOLL_CTL_DEL) in
// batches of kBatch and handed to the Handler, which wraps each descriptor into a fresh socket and
// session (Worker::onParkedReady).
//
// Records live in chunks of kChunk that never move while any connection is parked (each record's
// idle timer is linked into the timer wheel by address); free records form an intrusive list, so
// parking allocates nothing once a chunk exists. The chunks are released when no connection is
// parked (trim()). epoll data carries (generation << 32 | index), so a stale event can never
// revive a record that was reused.
//
// Where a connection came from (its listener config, the snapshot that owns it, its stats slot)
// is shared by every parked connection of that listener and snapshot: one ParkedOrigin,
// refcounted, referenced by index.
//
// Threading and ownership: owned by one Worker and touched only on its thread. A parked
// descriptor belongs to the set from park() until it is handed to Handler::onParkedReady (which
// then owns it) or closed by the set (idle deadline, closeAll, destructor).

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/time_source.h"
#include "config/schema.h"
#include "proxy/net/timer_wheel.h"

namespace fulcrum::server {

struct WorkerSnapshot;
class ParkedSet;

// Where parked connections came from: shared by every parked connection of one listener config.
struct ParkedOrigin {
  std::shared_ptr<WorkerSnapshot> snap; // owns *listener
  const config::Listener* listener = nullptr;
  uint32_t listenerSlot = 0; // stats slot of the listener
  uint32_t refs = 0;         // parked connections referring to it; 0: free entry
};

// One parked connection (or a free record while fd == -1).
struct ParkedConnection {
  net::Timer idle;          // the keep-alive idle deadline the session had
  ParkedSet* set = nullptr; // for the idle timer's callback
  int fd = -1;
  uint32_t index = 0;      // own position in the set (fixed)
  uint32_t generation = 0; // bumped whenever the record is freed
  uint32_t link = 0;       // parked: index into ParkedSet's origins; free: next free record
};
static_assert(sizeof(ParkedConnection) <= 64, "a parked connection costs one cache line");

class ParkedSet {
public:
  // Called on the worker thread, never from inside park().
  class Handler {
  public:
    // The client sent bytes or EOF, or its socket has an error: `fd` (non-blocking, in no epoll
    // set) now belongs to the handler. `origin` is valid during the call only; the handler must
    // not call park() from here.
    virtual void onParkedReady(int fd, const ParkedOrigin& origin) = 0;
    // The set closed a parked connection (idle deadline or closeAll()).
    virtual void onParkedClosed(const ParkedOrigin& origin) = 0;

  protected:
    ~Handler() = default;
  };

  static constexpr uint32_t kChunk = 256; // records per chunk (16 KiB)
  static constexpr int kBatch = 64;       // ready connections revived per epoll_wait

  ParkedSet(boost::asio::io_context& io, net::TimerWheel& wheel, Handler& handler);
  ParkedSet(const ParkedSet&) = delete;
  ParkedSet& operator=(const ParkedSet&) = delete;
  // Closes the descriptors still parked (without Handler calls). The io_context must not run
  // the set's pending wait afterwards (call shutdown() first, or destroy the io_context's work).
  ~ParkedSet();

  // Creates the epoll set; false (errno set) if that fails, and park() then refuses.
  bool open();
  // Takes over `fd` (a connected, non-blocking socket in no epoll set) until `deadline`. False
  // if it cannot be registered: the descriptor stays the caller's.
  bool park(int fd, const std::shared_ptr<WorkerSnapshot>& snap, const config::Listener& listener,
            uint32_t listenerSlot, MonotonicTime deadline);
  // Closes every parked connection now (Handler::onParkedClosed for each).
  void closeAll();
  // closeAll(), then closes the epoll set: its pending wait completes aborted.
  void shutdown();
  // Frees the chunks and origins if nothing is parked; true if memory was released.
  bool trim();

  size_t size() const { return live_; }
  size_t capacity() const { return chunks_.size() * kChunk; }

private:
  static constexpr uint32_t kNone = UINT32_MAX;

  ParkedConnection& record(uint32_t index) { return chunks_[index / kChunk][index % kChunk]; }
  uint32_t acquireRecord();
  void releaseRecord(uint32_t index);
  uint32_t acquireOrigin(const std::shared_ptr<WorkerSnapshot>& snap,
                         const config::Listener& listener, uint32_t listenerSlot);
  void releaseOrigin(uint32_t index);
  void close(uint32_t index);
  void arm();
  void onReadable();
  static void onIdle(void* context);

  boost::asio::io_context& io_;
  net::TimerWheel& wheel_;
  Handler& handler_;
  boost::asio::posix::stream_descriptor epoll_; // the epoll set, watched by the io_context
  bool waiting_ = false;                        // a wait (or posted continuation) is pending
  std::vector<std::unique_ptr<ParkedConnection[]>> chunks_;
  uint32_t freeHead_ = kNone;
  size_t live_ = 0;
  std::vector<ParkedOrigin> origins_;
  uint32_t lastOrigin_ = 0; // where the last park() found its origin (usually the next one's)
};

} // namespace fulcrum::server
