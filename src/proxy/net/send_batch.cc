#include "proxy/net/send_batch.h"

#include <liburing.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <boost/asio/post.hpp>

namespace fulcrum::net {

namespace {

// The queued messages of one pass share this many bytes; a message that does not fit is sent
// directly. Untouched pages cost no memory.
constexpr size_t kArenaBytes = size_t{1} << 20;

thread_local SendBatch* tCurrent = nullptr;

} // namespace

std::unique_ptr<SendBatch> SendBatch::create(boost::asio::io_context& io) {
  auto ring = std::make_unique<io_uring>();
  if (::io_uring_queue_init(kMaxSends, ring.get(), 0) != 0) {
    return nullptr;
  }
  return std::unique_ptr<SendBatch>(new SendBatch(io, std::move(ring)));
}

SendBatch::SendBatch(boost::asio::io_context& io, std::unique_ptr<io_uring> ring)
    : io_(io), ring_(std::move(ring)), arena_(std::make_unique_for_overwrite<char[]>(kArenaBytes)) {
  queued_.reserve(kMaxSends);
  finished_.reserve(kMaxSends);
  running_.reserve(kMaxSends);
}

SendBatch::~SendBatch() {
  uninstall();
  ::io_uring_queue_exit(ring_.get());
}

SendBatch* SendBatch::current() {
  return tCurrent;
}

void SendBatch::install() {
  tCurrent = this;
}

void SendBatch::uninstall() {
  if (tCurrent == this) {
    tCurrent = nullptr;
  }
}

bool SendBatch::queue(int fd, const std::array<boost::asio::const_buffer, 2>& buffers, Done done,
                      void* owner, uint32_t tag) {
  const size_t bytes = buffers[0].size() + buffers[1].size();
  if (broken_ || bytes == 0 || bytes > kMaxBytes || queued_.size() >= kMaxSends ||
      arenaUsed_ + bytes > kArenaBytes) {
    return false;
  }
  const size_t offset = arenaUsed_;
  for (const boost::asio::const_buffer& buffer : buffers) {
    if (buffer.size() != 0) {
      std::memcpy(arena_.get() + arenaUsed_, buffer.data(), buffer.size());
      arenaUsed_ += buffer.size();
    }
  }
  queued_.push_back(Entry{fd, offset, bytes, done, owner, tag, -EIO, false});
  return true;
}

void SendBatch::forget(int fd) {
  for (Entry& entry : queued_) {
    if (entry.fd == fd && !entry.cancelled) {
      entry.cancelled = true;
      entry.result = -ECANCELED;
    }
  }
}

bool SendBatch::flush() {
  if (queued_.empty()) {
    return false;
  }
  size_t live = 0;
  for (const Entry& entry : queued_) {
    live += entry.cancelled ? 0 : 1;
  }
  if (live == 1) {
    // One send: a plain sendto() is one syscall too, and cheaper than a ring round trip.
    for (Entry& entry : queued_) {
      if (!entry.cancelled) {
        const long n = ::syscall(SYS_sendto, entry.fd, arena_.get() + entry.offset, entry.bytes,
                                 MSG_DONTWAIT | MSG_NOSIGNAL, nullptr, 0);
        entry.result = n >= 0 ? static_cast<ssize_t>(n) : -errno;
        sent_ += n > 0 ? 1 : 0;
      }
    }
  } else if (live > 1) {
    submit();
  }
  for (Entry& entry : queued_) {
    finished_.push_back(entry);
  }
  queued_.clear();
  arenaUsed_ = 0;
  if (!deliveryPosted_) {
    deliveryPosted_ = true;
    boost::asio::post(io_, [this] { deliver(); });
  }
  return true;
}

void SendBatch::submit() {
  size_t prepared = 0;
  for (size_t i = 0; i < queued_.size(); ++i) {
    const Entry& entry = queued_[i];
    if (entry.cancelled) {
      continue;
    }
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get()); // room for kMaxSends: never null
    if (sqe == nullptr) {
      break;
    }
    ::io_uring_prep_send(sqe, entry.fd, arena_.get() + entry.offset, entry.bytes,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
    ::io_uring_sqe_set_data64(sqe, i);
    ++prepared;
  }
  int submitted = ::io_uring_submit(ring_.get());
  if (submitted >= 0 && static_cast<size_t>(submitted) < prepared) {
    const int more = ::io_uring_submit(ring_.get()); // the rest, once more
    submitted = more < 0 ? submitted : submitted + more;
  }
  // Sends with MSG_DONTWAIT complete inside io_uring_enter(): every submitted SQE has its CQE
  // now. Wait for stragglers if the kernel deferred any (it does not for sockets).
  size_t seen = 0;
  const size_t expected = submitted > 0 ? static_cast<size_t>(submitted) : 0;
  while (seen < expected) {
    io_uring_cqe* cqe = nullptr;
    if (::io_uring_peek_cqe(ring_.get(), &cqe) != 0 &&
        ::io_uring_wait_cqe(ring_.get(), &cqe) != 0) {
      break;
    }
    const uint64_t index = ::io_uring_cqe_get_data64(cqe);
    if (index < queued_.size()) {
      queued_[index].result = cqe->res;
      sent_ += cqe->res > 0 ? 1 : 0;
    }
    ::io_uring_cqe_seen(ring_.get(), cqe);
    ++seen;
  }
  if (seen < prepared) {
    // Submission failed (or the ring lost SQEs): never submit through this ring again, since
    // what it still holds could be sent later. The affected sends fail (-EIO, their initial
    // result) and later ones are sent directly.
    broken_ = true;
  }
}

void SendBatch::deliver() {
  deliveryPosted_ = false;
  running_.swap(finished_);
  for (const Entry& entry : running_) {
    entry.done(entry.owner, entry.tag, entry.result);
  }
  running_.clear();
}

} // namespace fulcrum::net

// The process's epoll_wait() and close(), in front of libc's (the executable's definitions win
// for every caller). On a thread without an installed batch they are the plain system calls.
// Every worker's event loop (Asio's epoll reactor) waits through epoll_wait(): that is where a
// pass ends, so that is where its sends go out. close() must forget a descriptor's queued sends
// before its number can be reused.
//
// A call that would wait (timeout != 0: Asio's reactor with nothing else to run) returns no events
// at once when the flush posted completions, without the syscall: the reactor comes back after
// running them, and whatever became ready meanwhile is reported then (a reactor pass that found
// nothing). A call that polls (timeout 0) polls as asked, so a caller that was told its
// descriptor is ready (the worker's parked-connection set) always gets its events.
extern "C" int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
  if (fulcrum::net::SendBatch* batch = fulcrum::net::SendBatch::current()) {
    if (batch->flush() && timeout != 0) {
      return 0;
    }
  }
  return static_cast<int>(::syscall(SYS_epoll_wait, epfd, events, maxevents, timeout));
}

extern "C" int close(int fd) {
  if (fulcrum::net::SendBatch* batch = fulcrum::net::SendBatch::current()) {
    batch->forget(fd);
  }
  return static_cast<int>(::syscall(SYS_close, fd));
}
