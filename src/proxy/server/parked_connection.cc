#include "proxy/server/parked_connection.h"

#include <unistd.h>

#include <cerrno>

#include <boost/asio/post.hpp>

namespace fulcrum::server {

ParkedSet::ParkedSet(boost::asio::io_context& io, net::TimerWheel& wheel, Handler& handler)
    : io_(io), wheel_(wheel), handler_(handler), epoll_(io) {}

ParkedSet::~ParkedSet() {
  for (auto& chunk : chunks_) {
    for (uint32_t i = 0; i < kChunk; ++i) {
      if (chunk[i].fd >= 0) {
        ::close(chunk[i].fd);
        chunk[i].fd = -1;
      }
    }
  }
  boost::system::error_code ignored;
  epoll_.close(ignored);
}

bool ParkedSet::open() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  boost::system::error_code ec;
  epoll_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    errno = ec.value();
    return false;
  }
  return true;
}

uint32_t ParkedSet::acquireRecord() {
  if (freeHead_ == kNone) {
    // Grow by one chunk; chunks never move, so records (and their linked timers) stay put.
    const auto base = static_cast<uint32_t>(chunks_.size() * kChunk);
    auto chunk = std::make_unique<ParkedConnection[]>(kChunk);
    for (uint32_t i = 0; i < kChunk; ++i) {
      ParkedConnection& r = chunk[i];
      r.set = this;
      r.index = base + i;
      r.idle.bind(&ParkedSet::onIdle, &r);
      r.link = i + 1 < kChunk ? base + i + 1 : kNone;
    }
    chunks_.push_back(std::move(chunk));
    freeHead_ = base;
  }
  const uint32_t index = freeHead_;
  freeHead_ = record(index).link;
  return index;
}

void ParkedSet::releaseRecord(uint32_t index) {
  ParkedConnection& r = record(index);
  net::TimerWheel::disarm(r.idle);
  r.fd = -1;
  ++r.generation;
  r.link = freeHead_;
  freeHead_ = index;
}

uint32_t ParkedSet::acquireOrigin(const std::shared_ptr<WorkerSnapshot>& snap,
                                  const config::Listener& listener, uint32_t listenerSlot) {
  // Usually every connection parks with the same listener and snapshot: the last entry matches.
  if (lastOrigin_ < origins_.size()) {
    ParkedOrigin& o = origins_[lastOrigin_];
    if (o.refs != 0 && o.listener == &listener && o.snap == snap) {
      ++o.refs;
      return lastOrigin_;
    }
  }
  uint32_t freeEntry = kNone;
  for (uint32_t i = 0; i < origins_.size(); ++i) {
    ParkedOrigin& o = origins_[i];
    if (o.refs == 0) {
      freeEntry = freeEntry == kNone ? i : freeEntry;
    } else if (o.listener == &listener && o.snap == snap) {
      ++o.refs;
      lastOrigin_ = i;
      return i;
    }
  }
  if (freeEntry == kNone) {
    freeEntry = static_cast<uint32_t>(origins_.size());
    origins_.emplace_back();
  }
  ParkedOrigin& o = origins_[freeEntry];
  o.snap = snap;
  o.listener = &listener;
  o.listenerSlot = listenerSlot;
  o.refs = 1;
  lastOrigin_ = freeEntry;
  return freeEntry;
}

void ParkedSet::releaseOrigin(uint32_t index) {
  ParkedOrigin& o = origins_[index];
  if (--o.refs == 0) {
    o.snap.reset(); // the snapshot (and listener config) may die now
    o.listener = nullptr;
  }
}

bool ParkedSet::park(int fd, const std::shared_ptr<WorkerSnapshot>& snap,
                     const config::Listener& listener, uint32_t listenerSlot,
                     MonotonicTime deadline) {
  if (!epoll_.is_open()) {
    errno = EBADF;
    return false;
  }
  const uint32_t index = acquireRecord();
  ParkedConnection& r = record(index);
  epoll_event event{};
  // Level-triggered: bytes that arrived before the registration are reported too.
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.u64 = (static_cast<uint64_t>(r.generation) << 32) | index;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    releaseRecord(index);
    errno = error;
    return false;
  }
  r.fd = fd;
  r.link = acquireOrigin(snap, listener, listenerSlot);
  ++live_;
  wheel_.arm(r.idle, deadline);
  arm();
  return true;
}

// Closes a parked connection the set gave up on. close() alone removes it from the epoll set:
// the descriptor was never duplicated.
void ParkedSet::close(uint32_t index) {
  ParkedConnection& r = record(index);
  ::close(r.fd);
  const uint32_t origin = r.link;
  releaseRecord(index);
  --live_;
  handler_.onParkedClosed(origins_[origin]);
  releaseOrigin(origin);
}

void ParkedSet::onIdle(void* context) {
  auto* r = static_cast<ParkedConnection*>(context);
  r->set->close(r->index);
}

void ParkedSet::closeAll() {
  for (size_t c = 0; c < chunks_.size() && live_ != 0; ++c) {
    for (uint32_t i = 0; i < kChunk; ++i) {
      if (chunks_[c][i].fd >= 0) {
        close(chunks_[c][i].index);
      }
    }
  }
}

void ParkedSet::shutdown() {
  closeAll();
  boost::system::error_code ignored;
  epoll_.close(ignored); // the pending wait completes aborted
}

bool ParkedSet::trim() {
  if (live_ != 0 || chunks_.empty()) {
    return false;
  }
  chunks_.clear();
  chunks_.shrink_to_fit();
  freeHead_ = kNone;
  origins_.clear(); // every entry is free (refs 0) when nothing is parked
  origins_.shrink_to_fit();
  lastOrigin_ = 0;
  return true;
}

// One wait for the whole set. The io_context's reactor watches the epoll descriptor
// edge-triggered, so every wake-up drains the set's ready list (onReadable) before waiting again.
void ParkedSet::arm() {
  if (waiting_ || !epoll_.is_open()) {
    return;
  }
  waiting_ = true;
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      waiting_ = false;
                      if (!ec) {
                        onReadable();
                      }
                    });
}

void ParkedSet::onReadable() {
  epoll_event events[kBatch];
  int n = 0;
  do {
    n = ::epoll_wait(epoll_.native_handle(), events, kBatch, 0);
  } while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; ++i) {
    const auto index = static_cast<uint32_t>(events[i].data.u64);
    const auto generation = static_cast<uint32_t>(events[i].data.u64 >> 32);
    if (index / kChunk >= chunks_.size()) {
      continue;
    }
    ParkedConnection& r = record(index);
    if (r.fd < 0 || r.generation != generation) {
      continue; // closed or reused since the event was queued
    }
    const int fd = r.fd;
    epoll_event ignored{};
    ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, &ignored);
    const uint32_t origin = r.link;
    releaseRecord(index);
    --live_;
    handler_.onParkedReady(fd, origins_[origin]);
    releaseOrigin(origin);
  }
  if (n == kBatch) {
    // Maybe more are ready: continue after other work instead of waiting for an edge that the
    // reactor will not report again.
    waiting_ = true;
    boost::asio::post(io_, [this] {
      waiting_ = false;
      if (epoll_.is_open()) {
        onReadable();
      }
    });
    return;
  }
  if (live_ != 0) {
    arm();
  }
}

} // namespace fulcrum::server
