#include "proxy/net/io_batch.h"

#include "proxy/net/read_speculation.h"

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

thread_local IoBatch* tCurrent = nullptr;

} // namespace

std::unique_ptr<IoBatch> IoBatch::create(boost::asio::io_context& io, Options options) {
  auto ring = std::make_unique<io_uring>();
  if (::io_uring_queue_init(kMaxSends + kSlots, ring.get(), 0) != 0) {
    return nullptr;
  }
  return std::unique_ptr<IoBatch>(new IoBatch(io, std::move(ring), options));
}

IoBatch::IoBatch(boost::asio::io_context& io, std::unique_ptr<io_uring> ring, Options options)
    : io_(io), ring_(std::move(ring)), arena_(std::make_unique_for_overwrite<char[]>(kArenaBytes)),
      options_(options), reactorFd_(reactorEpollDescriptor(io)),
      slotArena_(
          std::make_unique_for_overwrite<char[]>(options.receives ? kSlots * kMaxReceive : 0)) {
  queued_.reserve(kMaxSends);
  finished_.reserve(kMaxSends);
  running_.reserve(kMaxSends);
  ready_.reserve(kSlots);
  freeSlots_.reserve(kSlots);
  for (size_t i = kSlots; i > 0; --i) {
    freeSlots_.push_back(static_cast<int32_t>(i - 1));
  }
}

IoBatch::~IoBatch() {
  uninstall();
  ::io_uring_queue_exit(ring_.get());
}

IoBatch* IoBatch::current() {
  return tCurrent;
}

void IoBatch::install() {
  tCurrent = this;
}

void IoBatch::uninstall() {
  if (tCurrent == this) {
    tCurrent = nullptr;
  }
}

bool IoBatch::queue(int fd, const std::array<boost::asio::const_buffer, 2>& buffers, Done done,
                    void* owner, uint32_t tag) {
  const size_t bytes = buffers[0].size() + buffers[1].size();
  if (!options_.sends || broken_ || bytes == 0 || bytes > kMaxBytes ||
      queued_.size() >= kMaxSends || arenaUsed_ + bytes > kArenaBytes) {
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

void IoBatch::forget(int fd) {
  for (Entry& entry : queued_) {
    if (entry.fd == fd && !entry.cancelled) {
      entry.cancelled = true;
      entry.result = -ECANCELED;
    }
  }
  if (fd >= 0 && static_cast<size_t>(fd) < stateOf_.size() && stateOf_[fd] != nullptr) {
    expected_.erase(stateOf_[fd]);
    stateOf_[fd] = nullptr;
  }
  if (holdsReceived(fd)) {
    releaseSlot(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Receives

void IoBatch::expectRead(boost::asio::ip::tcp::socket& socket, size_t requested) {
  if (!options_.receives || broken_) {
    return;
  }
  const void* state = reactorState(socket);
  const int fd = socket.native_handle();
  if (state == nullptr || fd < 0) {
    return;
  }
  const auto bytes = static_cast<uint32_t>(requested < kMaxReceive ? requested : kMaxReceive);
  expected_.insert_or_assign(state, Expected{fd, bytes});
  if (static_cast<size_t>(fd) >= stateOf_.size()) {
    stateOf_.resize(static_cast<size_t>(fd) + 1, nullptr);
    slotOf_.resize(static_cast<size_t>(fd) + 1, -1);
  }
  stateOf_[fd] = state;
}

// ---------------------------------------------------------------------------------------------
// The pass

int IoBatch::epollWait(int epfd, epoll_event* events, int maxevents, int timeout) {
  if (!queued_.empty() && timeout != 0) {
    // The reactor would wait: the sends go now, their completions are posted, and the reactor
    // comes back after running them to wait (or find what became ready meanwhile). Polling here
    // first would put receives in the same io_uring_enter(), but it costs a syscall whenever
    // nothing is ready, which is the common case for a worker that has caught up.
    submitPass(epfd, events, 0);
    return 0;
  }
  if (!queued_.empty()) {
    // The reactor polls (it has other work): the receives for what is ready go in the same
    // io_uring_enter() as the sends.
    const int count = static_cast<int>(::syscall(SYS_epoll_wait, epfd, events, maxevents, 0));
    const int error = errno;
    submitPass(epfd, events, count > 0 ? count : 0);
    errno = error;
    return count;
  }
  const int count = static_cast<int>(::syscall(SYS_epoll_wait, epfd, events, maxevents, timeout));
  if (count > 1) {
    const int error = errno;
    submitPass(epfd, events, count);
    errno = error;
  }
  return count;
}

void IoBatch::collectReady(int epfd, const epoll_event* events, int count) {
  ready_.clear();
  if (epfd != reactorFd_ || expected_.empty() || broken_) {
    return;
  }
  for (int i = 0; i < count && ready_.size() < freeSlots_.size(); ++i) {
    if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) {
      continue;
    }
    const auto it = expected_.find(events[i].data.ptr);
    if (it == expected_.end() || it->second.bytes == 0 || holdsReceived(it->second.fd) ||
        !readQueuedOn(it->first, it->second.fd)) {
      continue;
    }
    ready_.push_back(it->second);
  }
}

void IoBatch::submitPass(int epfd, const epoll_event* events, int count) {
  collectReady(epfd, events, count);
  size_t liveSends = 0;
  for (const Entry& entry : queued_) {
    liveSends += entry.cancelled ? 0 : 1;
  }
  if (liveSends + ready_.size() >= 2) {
    submit();
  } else if (liveSends == 1) {
    // One send: a plain sendto() is one syscall too, and cheaper than a ring round trip. (One
    // receive alone is left to the reactor's recv() the same way.)
    for (Entry& entry : queued_) {
      if (!entry.cancelled) {
        const long n = ::syscall(SYS_sendto, entry.fd, arena_.get() + entry.offset, entry.bytes,
                                 MSG_DONTWAIT | MSG_NOSIGNAL, nullptr, 0);
        entry.result = n >= 0 ? static_cast<ssize_t>(n) : -errno;
        sent_ += n > 0 ? 1 : 0;
      }
    }
  }
  if (queued_.empty()) {
    return;
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
}

// The live queued sends, then the receives of ready_, as SQEs in one io_uring_enter(). Sends and
// receives with MSG_DONTWAIT complete inside it: every submitted SQE has its CQE when it returns.
void IoBatch::submit() {
  size_t prepared = 0;
  for (size_t i = 0; i < queued_.size(); ++i) {
    const Entry& entry = queued_[i];
    if (entry.cancelled) {
      continue;
    }
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get()); // room for kMaxSends + kSlots
    if (sqe == nullptr) {
      break;
    }
    ::io_uring_prep_send(sqe, entry.fd, arena_.get() + entry.offset, entry.bytes,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
    ::io_uring_sqe_set_data64(sqe, i);
    ++prepared;
  }
  for (const Expected& read : ready_) {
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) {
      break;
    }
    const int32_t slot = freeSlots_.back(); // collectReady() took no more than are free
    freeSlots_.pop_back();
    slots_[slot] = Slot{read.fd, -EIO, read.bytes, 0};
    slotOf_[read.fd] = slot;
    ::io_uring_prep_recv(sqe, read.fd, slotBytes(static_cast<size_t>(slot)), read.bytes,
                         MSG_DONTWAIT);
    ::io_uring_sqe_set_data64(sqe, kReceiveTag | static_cast<uint64_t>(slot));
    ++prepared;
  }
  int submitted = ::io_uring_submit(ring_.get());
  if (submitted >= 0 && static_cast<size_t>(submitted) < prepared) {
    const int more = ::io_uring_submit(ring_.get()); // the rest, once more
    submitted = more < 0 ? submitted : submitted + more;
  }
  // Wait for stragglers if the kernel deferred any (it does not for sockets).
  size_t seen = 0;
  const size_t expected = submitted > 0 ? static_cast<size_t>(submitted) : 0;
  while (seen < expected) {
    io_uring_cqe* cqe = nullptr;
    if (::io_uring_peek_cqe(ring_.get(), &cqe) != 0 &&
        ::io_uring_wait_cqe(ring_.get(), &cqe) != 0) {
      break;
    }
    const uint64_t data = ::io_uring_cqe_get_data64(cqe);
    if ((data & kReceiveTag) != 0) {
      const uint64_t slot = data & ~kReceiveTag;
      if (slot < kSlots) {
        slots_[slot].result = cqe->res;
        received_ += cqe->res > 0 ? 1 : 0;
      }
    } else if (data < queued_.size()) {
      queued_[data].result = cqe->res;
      sent_ += cqe->res > 0 ? 1 : 0;
    }
    ::io_uring_cqe_seen(ring_.get(), cqe);
    ++seen;
  }
  if (seen < prepared) {
    // Submission failed (or the ring lost SQEs): never submit through this ring again, since
    // what it still holds could be sent later. The affected sends fail (-EIO, their initial
    // result) and later ones are sent directly; a slot whose receive did not complete says -EIO,
    // which its reader gets as the socket's error (the connection ends, nothing is reordered).
    broken_ = true;
  }
}

ssize_t IoBatch::takeReceived(int fd, void* buffer, size_t size, int flags) {
  Slot& slot = slots_[slotOf_[fd]];
  if (slot.result <= 0) {
    const int32_t result = slot.result;
    if ((flags & MSG_PEEK) == 0) {
      releaseSlot(fd);
    }
    if (result < 0) {
      errno = -result;
      return -1;
    }
    return 0;
  }
  const size_t available = static_cast<size_t>(slot.result) - slot.offset;
  size_t taken = available < size ? available : size;
  std::memcpy(buffer, slotBytes(static_cast<size_t>(slotOf_[fd])) + slot.offset, taken);
  if ((flags & MSG_PEEK) != 0) {
    return static_cast<ssize_t>(taken);
  }
  slot.offset += static_cast<uint32_t>(taken);
  if (slot.offset < static_cast<uint32_t>(slot.result)) {
    return static_cast<ssize_t>(taken);
  }
  const bool filled = static_cast<uint32_t>(slot.result) == slot.asked;
  releaseSlot(fd);
  if (filled && taken < size) {
    // The slot stopped at its size, not at the end of what the kernel held: read on, so that a
    // short result still means "drained".
    const long more = ::syscall(SYS_recvfrom, fd, static_cast<char*>(buffer) + taken, size - taken,
                                flags | MSG_DONTWAIT, nullptr, nullptr);
    taken += more > 0 ? static_cast<size_t>(more) : 0;
  }
  return static_cast<ssize_t>(taken);
}

void IoBatch::releaseSlot(int fd) {
  freeSlots_.push_back(slotOf_[fd]);
  slotOf_[fd] = -1;
}

void IoBatch::deliver() {
  deliveryPosted_ = false;
  running_.swap(finished_);
  for (const Entry& entry : running_) {
    entry.done(entry.owner, entry.tag, entry.result);
  }
  running_.clear();
}

} // namespace fulcrum::net

// The process's epoll_wait(), recv() and close(), in front of libc's (the executable's
// definitions win for every caller). On a thread without an installed batch they are the plain
// system calls. Every worker's event loop (Asio's epoll reactor) waits through epoll_wait(): that
// is where a pass ends, so that is where its sends go out, and where the next pass learns which
// sockets to receive from. recv() takes what was received ahead of it. close() must forget a
// descriptor's queued sends and received bytes before its number can be reused.
//
// A call that would wait (timeout != 0) while sends are queued returns no events at once, without
// the syscall: the sends' completions are posted, the reactor comes back after running them, and
// what became ready meanwhile is reported then. A call that polls (timeout 0) polls as asked, so
// a caller that was told its descriptor is ready (the worker's parked-connection set) always gets
// its events.
extern "C" int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
  if (fulcrum::net::IoBatch* batch = fulcrum::net::IoBatch::current()) {
    return batch->epollWait(epfd, events, maxevents, timeout);
  }
  return static_cast<int>(::syscall(SYS_epoll_wait, epfd, events, maxevents, timeout));
}

extern "C" ssize_t recv(int fd, void* buffer, size_t size, int flags) {
  if (fulcrum::net::IoBatch* batch = fulcrum::net::IoBatch::current();
      batch != nullptr && batch->holdsReceived(fd)) {
    return batch->takeReceived(fd, buffer, size, flags);
  }
  return static_cast<ssize_t>(::syscall(SYS_recvfrom, fd, buffer, size, flags, nullptr, nullptr));
}

extern "C" int close(int fd) {
  if (fulcrum::net::IoBatch* batch = fulcrum::net::IoBatch::current()) {
    batch->forget(fd);
  }
  return static_cast<int>(::syscall(SYS_close, fd));
}
