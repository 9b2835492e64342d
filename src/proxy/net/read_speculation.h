#pragma once

// Skipping Asio's speculative read where it is known to find nothing.
//
// Asio's epoll reactor (sockets registered EPOLLIN|EPOLLET once, at assign/connect) starts every
// read with a recv() and queues the operation only when that returns EAGAIN. A keep-alive proxy
// mostly reads right after writing: the upstream's response right after sending the request, the
// client's next request right after sending the response. Those reads almost always return
// EAGAIN (about 1.8 wasted recvfrom per request). Waiting instead (async_wait) re-arms the
// descriptor with EPOLL_CTL_MOD, which costs more than the wasted read.
//
// The reactor skips the speculative recv() when the descriptor's try_speculative_[read_op] is
// false and then queues the read for free; the next readiness edge sets it true again and
// performs the queued read. Clearing it is correct exactly when the socket's receive queue is
// empty and no readiness edge for it has been consumed by epoll_wait since it was seen empty:
// then every byte that arrives later raises an edge that a later epoll_wait reports.
//
// A read that returned fewer bytes than asked for has drained the receive queue at the moment of
// the recv() (TCP's recvmsg copies everything queued, including the backlog). If that read's
// completion handler runs directly from the reactor's perform_io (the read was queued, not
// completed speculatively, and it was the only operation the reactor completed on the socket),
// no epoll_wait ran between the recv() and the handler, so the handler may clear the flag
// (markDrained). A read that was completed speculatively, or that shared its reactor wake-up
// with a queued write on the same socket, is posted and may run after another epoll_wait: it is
// not trusted (ReadTrust::begin/onWrite below).
//
// Threading: the socket's io_context runs on one thread (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
// the caller's.
//
// This reaches into Asio's epoll reactor state, so it is pinned to the Boost version the project
// builds with (like net/accepted_socket.h): an upgrade must re-check epoll_reactor.ipp
// (start_op, descriptor_state::perform_io) and scheduler.ipp (immediate completion of the first
// operation perform_io returns).

#include <cstddef>

#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>

static_assert(BOOST_VERSION == 108100, "re-check net/read_speculation.h against this Asio");

namespace fulcrum::net {

namespace speculation_detail {

using Reactor = boost::asio::detail::reactor;
using DescriptorState = Reactor::descriptor_state;
static_assert(std::is_same_v<Reactor, boost::asio::detail::epoll_reactor>,
              "net/read_speculation.h knows only the epoll reactor");

using TrySpeculative = bool[Reactor::max_ops];
using OpQueues = boost::asio::detail::op_queue<boost::asio::detail::reactor_op>[Reactor::max_ops];

// Pointers to descriptor_state's private members, taken through an explicit instantiation (where
// access checking does not apply).
struct TrySpeculativeTag {
  using Type = TrySpeculative DescriptorState::*;
  friend Type member(TrySpeculativeTag);
};
struct OpQueuesTag {
  using Type = OpQueues DescriptorState::*;
  friend Type member(OpQueuesTag);
};
struct DescriptorTag {
  using Type = int DescriptorState::*;
  friend Type member(DescriptorTag);
};
template <typename Tag, typename Tag::Type Member> struct Expose {
  friend typename Tag::Type member(Tag) { return Member; }
};
template struct Expose<TrySpeculativeTag, &DescriptorState::try_speculative_>;
template struct Expose<OpQueuesTag, &DescriptorState::op_queue_>;
template struct Expose<DescriptorTag, &DescriptorState::descriptor_>;
struct EpollFdTag {
  using Type = int Reactor::*;
  friend Type member(EpollFdTag);
};
template struct Expose<EpollFdTag, &Reactor::epoll_fd_>;

class SocketAccess : private boost::asio::ip::tcp::socket {
public:
  static DescriptorState* state(boost::asio::ip::tcp::socket& socket) {
    return (socket.*(&SocketAccess::impl_)).get_implementation().reactor_data_;
  }
};

} // namespace speculation_detail

// The reactor's state of `socket` (what its epoll events carry in data.ptr), or null when the
// socket is not open.
inline const void* reactorState(boost::asio::ip::tcp::socket& socket) {
  return speculation_detail::SocketAccess::state(socket);
}

// The epoll descriptor of `io`'s reactor (whose events carry reactor states).
inline int reactorEpollDescriptor(boost::asio::io_context& io) {
  using namespace speculation_detail;
  return boost::asio::use_service<Reactor>(io).*member(EpollFdTag{});
}

// For the reactor state `state` that an epoll event of the reactor's set carried: whether it
// still belongs to descriptor `fd` and has a read (or wait for readability) queued, which the
// reactor performs when it processes that event.
inline bool readQueuedOn(const void* state, int fd) {
  using namespace speculation_detail;
  const auto* descriptor = static_cast<const DescriptorState*>(state);
  return descriptor->*member(DescriptorTag{}) == fd &&
         !(descriptor->*member(OpQueuesTag{}))[Reactor::read_op].empty();
}

// The socket's last read drained it and its completion runs directly from the reactor (see
// above): the next read on it waits for readiness without a recv() first.
inline void markDrained(boost::asio::ip::tcp::socket& socket) {
  using namespace speculation_detail;
  if (DescriptorState* state = SocketAccess::state(socket)) {
    (state->*member(TrySpeculativeTag{}))[Reactor::read_op] = false;
  }
}

// A send on the socket just wrote less than it was given (the send buffer is full): the next
// write waits for writability without a sendmsg() first, as Asio does itself after a partial
// write (net/send_now.h).
inline void markSendBlocked(boost::asio::ip::tcp::socket& socket) {
  using namespace speculation_detail;
  if (DescriptorState* state = SocketAccess::state(socket)) {
    (state->*member(TrySpeculativeTag{}))[Reactor::write_op] = false;
  }
}

// Whether a read's completion may be trusted to run directly from the reactor, per socket and
// read: begin() right after starting the read, onWrite() right after starting a write on the
// same socket while the read may be pending, trusted() in the read's completion handler.
class ReadTrust {
public:
  // The read just started on `socket` asked for `requested` bytes.
  void begin(boost::asio::ip::tcp::socket& socket, size_t requested) {
    using namespace speculation_detail;
    requested_ = requested;
    DescriptorState* state = SocketAccess::state(socket);
    if (state == nullptr) {
      trusted_ = false;
      return;
    }
    // Queued (not completed by its speculative recv), and no write queued or about to be queued
    // (a partial write leaves try_speculative_[write_op] false) that could complete in the same
    // reactor wake-up and push the read's completion behind the next epoll_wait.
    const OpQueues& queues = state->*member(OpQueuesTag{});
    trusted_ = !queues[Reactor::read_op].empty() && queues[Reactor::write_op].empty() &&
               (state->*member(TrySpeculativeTag{}))[Reactor::write_op];
  }

  void onWrite() { trusted_ = false; }

  // In the read's completion handler (success, `n` bytes): whether the socket may be marked
  // drained.
  bool drained(size_t n) const { return trusted_ && n < requested_; }

private:
  size_t requested_ = 0;
  bool trusted_ = false;
};

} // namespace fulcrum::net
