#pragma once

// The socket I/O of one event-loop pass in one io_uring_enter(): the small sends the pass queued
// and the receives from the sockets the next epoll_wait() reports readable.
//
// A keep-alive request costs a proxy two recv() and two send() at least. Where a syscall's entry
// and exit are expensive (page-table isolation in a paravirtualised guest: ~1 µs each on the
// benchmark machine, bench/net/syscall_bench), that fixed cost is a large share of the request.
// A worker that finds several sockets ready in one epoll_wait() sends several small messages in
// one pass of its event loop; queued here, they go to the kernel as io_uring SQEs, made by the
// epoll_wait() the loop calls next (io_batch.cc defines epoll_wait, recv and close for the
// process), before it waits; when that epoll_wait() only polls (the loop has other work), the
// receives for what it found go in the same io_uring_enter(). A pass with a single send and
// nothing to receive makes it with sendto(): the same one syscall, without the ring's overhead.
//
// Contract, per queued send:
//   - The bytes are copied at queue(): what goes on the wire is what the buffers held then, so
//     the caller's buffers are free at once. The caller still treats the write as outstanding
//     until its completion runs (it writes nothing else on that socket meanwhile).
//   - The send is non-blocking (MSG_DONTWAIT): the kernel takes all, part or none of it during
//     the io_uring_enter(). The completion receives what it took (bytes, or -errno; -EAGAIN when
//     the send buffer was full), so the caller continues exactly as after a direct sendmsg():
//     done, or the remainder through an ordinary asynchronous write.
//   - Completions run as one handler posted to the worker's io_context by that epoll_wait() (which
//     then returns at once), in queue order, before any readiness reported later.
//   - Closing a socket (close() on its descriptor, by anyone on the worker's thread) before the
//     flush turns its queued sends into no-ops: nothing is written to a descriptor number the
//     kernel may hand out again, and their completions receive -ECANCELED.
//   - queue() refuses (false: send directly) when io_uring is unavailable (old kernel, seccomp,
//     kernel.io_uring_disabled), for messages above kMaxBytes, or when the batch is full.
//
// Receives: the reactor (Asio's epoll reactor) learns from one epoll_wait() which sockets are
// readable and then calls recv() once per socket whose read is queued. A socket whose owner
// announced its read (expectRead(), right after async_read_some) is received from by the
// epoll_wait() that reports it readable, together with the other such sockets and the queued
// sends, as io_uring SQEs in one io_uring_enter(), into a slot of this batch; the reactor's
// recv() on that descriptor then takes the bytes from the slot.
// Contract, per received slot:
//   - It is made only for an event the reactor will process in this pass: the reactor's own
//     state for the descriptor (the event's data.ptr) is the one announced, still belongs to the
//     same descriptor and has a read queued. One receive alone (no other receive, no send) is
//     left to the reactor's recv().
//   - It asks for what the read asked for (at most kMaxReceive), with MSG_DONTWAIT, after the
//     epoll_wait(): a short receive means the kernel's queue was empty then, and no epoll_wait
//     ran since, exactly as for the reactor's own recv() (net/read_speculation.h relies on it).
//     A slot that is full was not short: its reader receives the rest of its read directly.
//   - The next recv() on the descriptor, by anyone on this thread, gets the slot first: its
//     bytes (what fits; the rest stays for the following recv(); MSG_PEEK leaves them), or its
//     end of stream or error. Nothing is ever lost or reordered.
//   - close() on the descriptor drops its slot (the bytes of a closed socket). A socket that
//     leaves the reactor without a close (socket.release(), parking) must not hold a slot:
//     holdsReceived() tells its owner (Session's park decision).
// Threading: one batch per worker thread, installed on that thread; every member runs there.

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

struct io_uring;

namespace fulcrum::net {

class IoBatch {
public:
  // What a completion is told: the send's result (bytes taken, or -errno).
  using Done = void (*)(void* owner, uint32_t tag, ssize_t result);

  static constexpr size_t kMaxBytes = size_t{16} << 10;   // larger messages are sent directly
  static constexpr size_t kMaxSends = 256;                // per pass
  static constexpr size_t kMaxReceive = size_t{16} << 10; // per slot
  static constexpr size_t kSlots = 128;                   // received, not yet taken

  struct Options {
    bool sends = true;    // queue() accepts sends
    bool receives = true; // expectRead() announces reads
  };

  // A batch for the calling thread's `io`, or null when io_uring cannot be used here.
  static std::unique_ptr<IoBatch> create(boost::asio::io_context& io, Options options);
  ~IoBatch();
  IoBatch(const IoBatch&) = delete;
  IoBatch& operator=(const IoBatch&) = delete;

  // The calling thread's batch (installed), or null.
  static IoBatch* current();
  // Makes this the calling thread's batch until uninstall() or destruction.
  void install();
  void uninstall();

  // Queues one send of `buffers` on `fd`; false (nothing queued, `done` never runs) when the
  // caller must send directly.
  bool queue(int fd, const std::array<boost::asio::const_buffer, 2>& buffers, Done done,
             void* owner, uint32_t tag);

  // The epoll_wait() of the installed thread (io_batch.cc's epoll_wait calls it). With sends
  // queued and a call that would wait, it submits the sends, posts their completions and returns
  // no events without waiting; with sends queued and a call that polls, it polls, then submits
  // the sends and the receives for the announced sockets among the events (if `epfd` is the
  // reactor's) in one io_uring_enter(). Without sends it waits as asked, then submits the
  // receives.
  int epollWait(int epfd, struct epoll_event* events, int maxevents, int timeout);

  // What epollWait() does with the `count` events an epoll_wait() on `epfd` returned: the queued
  // sends and the receives among the events, in one io_uring_enter() when they are two or more.
  void submitPass(int epfd, const struct epoll_event* events, int count);

  // Called by close(fd) on the installed thread: queued sends on `fd` become no-ops, and what was
  // received for `fd` is dropped.
  void forget(int fd);

  // Right after starting a read of `requested` bytes on `socket` (async_read_some): the next
  // epoll_wait that reports the socket readable may receive for it (at most kMaxReceive bytes,
  // then the rest directly). `requested` 0: this read is left to the reactor (bulk transfers,
  // where one recv() per read is already amortised over many bytes and a slot adds a copy).
  void expectRead(boost::asio::ip::tcp::socket& socket, size_t requested);

  // Whether bytes (or an end of stream, or an error) received for `fd` wait for its next recv().
  bool holdsReceived(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < slotOf_.size() && slotOf_[fd] >= 0;
  }

  // Called by recv() on the installed thread when holdsReceived(fd): recv()'s result and errno.
  ssize_t takeReceived(int fd, void* buffer, size_t size, int flags);

  // Sends this batch made (deferred to the end of a pass) since it was created.
  uint64_t sent() const { return sent_; }
  // Receives this batch made (ahead of the reactor's recv()) since it was created.
  uint64_t received() const { return received_; }

private:
  struct Entry {
    int fd;
    size_t offset; // of the bytes in the arena
    size_t bytes;
    Done done;
    void* owner;
    uint32_t tag;
    ssize_t result;
    bool cancelled; // closed before the flush: never sent
  };

  // An announced read: the reactor state it was started on, and its size.
  struct Expected {
    int fd;
    uint32_t bytes;
  };
  // What was received for one descriptor, until taken.
  struct Slot {
    int fd;
    int32_t result;  // bytes received, 0 (end of stream) or -errno
    uint32_t asked;  // bytes asked for
    uint32_t offset; // bytes already taken
  };

  IoBatch(boost::asio::io_context& io, std::unique_ptr<io_uring> ring, Options options);
  static constexpr uint64_t kReceiveTag = uint64_t{1} << 63; // a receive's user_data: tag | slot

  void collectReady(int epfd, const struct epoll_event* events, int count); // into ready_
  void submit(); // the live queued sends and the receives of ready_, in one io_uring_enter()
  void deliver();
  void releaseSlot(int fd);
  char* slotBytes(size_t slot) { return slotArena_.get() + slot * kMaxReceive; }

  boost::asio::io_context& io_;
  std::unique_ptr<io_uring> ring_;
  std::unique_ptr<char[]> arena_; // the queued messages' bytes (kArenaBytes)
  size_t arenaUsed_ = 0;
  std::vector<Entry> queued_;   // not yet submitted
  std::vector<Entry> finished_; // submitted, completions not yet run
  std::vector<Entry> running_;  // the completions being run (deliver())
  bool deliveryPosted_ = false;
  bool broken_ = false; // a submission failed: everything is sent directly from then on
  uint64_t sent_ = 0;

  Options options_;
  int reactorFd_;                                             // the epoll set of io_'s reactor
  boost::unordered_flat_map<const void*, Expected> expected_; // by reactor state
  std::vector<const void*> stateOf_;                          // by descriptor, for close()
  std::vector<int32_t> slotOf_;                               // by descriptor; -1: none
  std::vector<int32_t> freeSlots_;
  std::vector<Expected> ready_;       // the pass's receives (collectReady())
  std::unique_ptr<char[]> slotArena_; // kSlots * kMaxReceive; untouched pages cost no memory
  Slot slots_[kSlots]{};
  uint64_t received_ = 0;
};

} // namespace fulcrum::net
