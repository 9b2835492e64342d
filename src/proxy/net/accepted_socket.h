#pragma once

// Adopting a socket the worker accepted itself (accept4 with SOCK_NONBLOCK) into Asio without the
// two syscalls Asio would otherwise spend per connection:
//  - Asio marks every assign()ed descriptor "possibly duplicated" and therefore removes it from
//    epoll with EPOLL_CTL_DEL before closing it; an accepted socket is never duplicated, and
//    close() alone removes it from epoll.
//  - Asio switches a socket to non-blocking with an ioctl before its first operation; accept4
//    already made it non-blocking.
// This reaches into Asio's socket implementation state, so it is pinned to the Boost version the
// project builds with (DESIGN §6): an upgrade must re-check reactive_socket_service_base.

#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>

static_assert(BOOST_VERSION == 108100, "re-check net/accepted_socket.h against this Asio");

namespace fulcrum::net {

class AcceptedSocket : private boost::asio::ip::tcp::socket {
public:
  // `socket` was just assign()ed a descriptor from accept4(SOCK_NONBLOCK) that nothing else
  // refers to.
  static void adopt(boost::asio::ip::tcp::socket& socket) {
    namespace ops = boost::asio::detail::socket_ops;
    auto& impl = (socket.*(&AcceptedSocket::impl_)).get_implementation();
    impl.state_ &= static_cast<ops::state_type>(~ops::possible_dup);
    impl.state_ |= ops::internal_non_blocking;
  }
};

} // namespace fulcrum::net
