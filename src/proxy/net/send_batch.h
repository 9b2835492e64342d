#pragma once

// The sends of one event-loop pass, made with one io_uring_enter() right before the worker waits.
//
// A keep-alive request costs a proxy two recv() and two send() at least. Where a syscall's entry
// and exit are expensive (page-table isolation in a paravirtualised guest: ~1 µs each on the
// benchmark machine, bench/net/syscall_bench), that fixed cost is a large share of the request.
// A worker that finds several sockets ready in one epoll_wait() sends several small messages in
// one pass of its event loop; queued here, they go to the kernel as io_uring SQEs in one
// io_uring_enter(), made by the epoll_wait() the loop calls next (send_batch.cc defines
// epoll_wait and close for the process). A pass with a single send makes it with sendto(): the
// same one syscall, without the ring's overhead.
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
// Threading: one batch per worker thread, installed on that thread; every member runs there.

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>

struct io_uring;

namespace fulcrum::net {

class SendBatch {
public:
  // What a completion is told: the send's result (bytes taken, or -errno).
  using Done = void (*)(void* owner, uint32_t tag, ssize_t result);

  static constexpr size_t kMaxBytes = size_t{16} << 10; // larger messages are sent directly
  static constexpr size_t kMaxSends = 256;              // per pass

  // A batch for the calling thread's `io`, or null when io_uring cannot be used here.
  static std::unique_ptr<SendBatch> create(boost::asio::io_context& io);
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // The calling thread's batch (installed), or null.
  static SendBatch* current();
  // Makes this the calling thread's batch until uninstall() or destruction.
  void install();
  void uninstall();

  // Queues one send of `buffers` on `fd`; false (nothing queued, `done` never runs) when the
  // caller must send directly.
  bool queue(int fd, const std::array<boost::asio::const_buffer, 2>& buffers, Done done,
             void* owner, uint32_t tag);

  // Called by epoll_wait() on the installed thread: submits what is queued, collects the results
  // and posts their completions; true when it posted (epoll_wait must then not block).
  bool flush();

  // Called by close(fd) on the installed thread: queued sends on `fd` become no-ops.
  void forget(int fd);

  // Sends this batch made (deferred to the end of a pass) since it was created.
  uint64_t sent() const { return sent_; }

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

  SendBatch(boost::asio::io_context& io, std::unique_ptr<io_uring> ring);
  void submit(); // the live queued sends as SQEs, in one io_uring_enter()
  void deliver();

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
};

} // namespace fulcrum::net
