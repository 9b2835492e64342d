#include "control/http_server.h"

#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace fulcrum::control {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(60);

HttpResponse tooLarge(unsigned version, size_t limit) {
  HttpResponse response(http::status::payload_too_large, version);
  response.set(http::field::content_type, "application/problem+json");
  response.body() = fmt::format(R"({{"type":"about:blank","title":"Payload too large",)"
                                R"("status":413,"detail":"the body exceeds {} bytes"}})",
                                limit) +
                    "\n";
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

asio::awaitable<void> serve(tcp::socket socket, const HttpServer::Handler& handler,
                            size_t bodyLimit) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  try {
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(bodyLimit);
      parser.header_limit(64 * 1024);
      stream.expires_after(kIdleTimeout);
      beast::error_code ec;
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::body_limit) {
        auto response = tooLarge(parser.get().version(), bodyLimit);
        co_await http::async_write(stream, response, asio::use_awaitable);
        break;
      }
      if (ec) {
        break; // closed, timed out or malformed: nothing useful to answer
      }
      const auto& request = parser.get();
      stream.expires_never(); // the handler may take a while (store I/O)
      HttpResponse response = handler(request);
      bool keepAlive = response.keep_alive() && request.keep_alive();
      response.keep_alive(keepAlive);
      stream.expires_after(kIdleTimeout);
      co_await http::async_write(stream, response, asio::use_awaitable);
      if (!keepAlive) {
        break;
      }
    }
  } catch (const std::exception&) {
    // The connection failed mid-write; nothing to tell anyone.
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> acceptLoop(std::shared_ptr<tcp::acceptor> acceptor,
                                 const HttpServer::Handler& handler, size_t bodyLimit) {
  while (true) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      continue; // e.g. EMFILE: keep serving the connections we have
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve(std::move(socket), handler, bodyLimit), asio::detached);
  }
}

} // namespace

Result<SocketAddress> HttpServer::listen(const SocketAddress& address) {
  beast::error_code ec;
  auto ip = asio::ip::make_address(address.host, ec);
  if (ec) {
    return Error{fmt::format("bad address {}: {}", address.toString(), ec.message())};
  }
  tcp::endpoint endpoint(ip, address.port);
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Error{fmt::format("cannot listen on {}: {}", address.toString(), ec.message())};
  }
  auto bound = acceptor->local_endpoint();
  SocketAddress result{bound.address().to_string(), bound.port(), bound.address().is_v6()};
  asio::co_spawn(io_, acceptLoop(acceptor, handler_, bodyLimit_), asio::detached);
  return result;
}

} // namespace fulcrum::control
