#pragma once

// A small HTTP/1.1 server (Boost.Beast, C++20 coroutines) that hands each request to one
// handler. The control plane's handlers block on store I/O, so the io_context is run by several
// threads (see app.cc); each connection is one coroutine, served strictly in order.
//
// Thread-safety: construct and listen() before running the io_context; the handler is called on
// whichever io_context thread runs the connection, possibly concurrently for different
// connections.

#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/address.h"
#include "common/result.h"
#include "control/rest_api.h"

namespace fulcrum::control {

class HttpServer {
public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(boost::asio::io_context& io, Handler handler, size_t bodyLimit)
      : io_(io), handler_(std::move(handler)), bodyLimit_(bodyLimit) {}

  // Binds and starts accepting; returns the bound address (port 0 resolved).
  Result<SocketAddress> listen(const SocketAddress& address);

private:
  boost::asio::io_context& io_;
  Handler handler_;
  size_t bodyLimit_;
};

} // namespace fulcrum::control
