#pragma once

// Writing without an Asio operation when the socket takes everything at once.
//
// An Asio async_write whose first sendmsg() completes still costs an operation: the reactor's
// start_op, a posted completion and a trip through the scheduler's queue before the handler
// runs. On the request path nearly every write completes at once (a head, or a head and the
// body bytes buffered with it, into an empty socket buffer), so the session tries one
// sendmsg(MSG_DONTWAIT) itself and continues synchronously; only the remainder, if any, goes to
// async_write (which also reports the errors: a failed direct attempt writes nothing).
//
// Contract: no other write may be pending on the socket (the session writes each socket
// sequentially). The socket is non-blocking (accept4(SOCK_NONBLOCK), or Asio's own after its
// first operation; MSG_DONTWAIT covers a socket Asio has not switched yet).
// Threading: the socket's owner thread.
//
// The call goes through syscall(SYS_sendmsg) rather than libc's sendmsg(): in a multi-threaded
// process that wrapper brackets the trap with __pthread_enable/disable_asynccancel (sendmsg is a
// cancellation point), ~60 instructions per call that buy nothing here, since the proxy never
// cancels threads. Same kernel entry, same result and errno.

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstddef>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace fulcrum::net {

// One sendmsg of `buffers`; the bytes written (0 on EAGAIN or an error).
inline size_t sendNow(boost::asio::ip::tcp::socket& socket,
                      const std::array<boost::asio::const_buffer, 2>& buffers) {
  std::array<iovec, 2> iov{};
  size_t count = 0;
  for (const boost::asio::const_buffer& buffer : buffers) {
    if (buffer.size() != 0) {
      iov[count].iov_base = const_cast<void*>(buffer.data());
      iov[count].iov_len = buffer.size();
      ++count;
    }
  }
  if (count == 0) {
    return 0;
  }
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = count;
  const long n =
      ::syscall(SYS_sendmsg, socket.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

// `buffers` without their first `written` bytes.
inline std::array<boost::asio::const_buffer, 2>
remainderOf(const std::array<boost::asio::const_buffer, 2>& buffers, size_t written) {
  if (written < buffers[0].size()) {
    return {buffers[0] + written, buffers[1]};
  }
  return {buffers[1] + (written - buffers[0].size()), boost::asio::const_buffer()};
}

inline size_t totalSize(const std::array<boost::asio::const_buffer, 2>& buffers) {
  return buffers[0].size() + buffers[1].size();
}

} // namespace fulcrum::net
