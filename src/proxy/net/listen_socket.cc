#include "proxy/net/listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace fulcrum::net {

namespace {

Error sysError(std::string_view what, const SocketAddress& address) {
  return Error{fmt::format("{} {}: {}", what, address.toString(), std::strerror(errno))};
}

} // namespace

Result<int> openListenSocket(const SocketAddress& address, int backlog) {
  const int family = address.ipv6 ? AF_INET6 : AF_INET;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return sysError("socket", address);
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    auto err = sysError("SO_REUSEPORT", address);
    ::close(fd);
    return err;
  }
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (address.ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(address.port);
    ::inet_pton(AF_INET6, address.host.c_str(), &sin6->sin6_addr);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(address.port);
    ::inet_pton(AF_INET, address.host.c_str(), &sin->sin_addr);
    len = sizeof(sockaddr_in);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    auto err = sysError("bind", address);
    ::close(fd);
    return err;
  }
  if (::listen(fd, backlog) != 0) {
    auto err = sysError("listen", address);
    ::close(fd);
    return err;
  }
  return fd;
}

Result<uint16_t> boundPort(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return Error{fmt::format("getsockname: {}", std::strerror(errno))};
  }
  if (storage.ss_family == AF_INET6) {
    return static_cast<uint16_t>(ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port));
  }
  return static_cast<uint16_t>(ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port));
}

} // namespace fulcrum::net
