#include "cli/http_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/error.h"

#ifndef FULCRUM_VERSION
#define FULCRUM_VERSION "dev"
#endif

namespace fulcrum::cli {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr uint64_t kMaxReplyBytes = uint64_t{256} << 20;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string seconds(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) {
    return fmt::format("{}s", timeout.count() / 1000);
  }
  return fmt::format("{}ms", timeout.count());
}

// Why an exchange failed, in words for people: `cannot reach URL: <this>`.
std::string describe(const beast::error_code& ec, const ServerUrl& server,
                     std::chrono::milliseconds timeout) {
  if (ec == net::error::connection_refused) {
    return "connection refused";
  }
  if (ec == beast::error::timeout || ec == net::error::timed_out) {
    return fmt::format("no answer within {} (--timeout)", seconds(timeout));
  }
  if (ec == net::error::host_not_found || ec == net::error::host_not_found_try_again ||
      ec == net::error::no_data) {
    return fmt::format("unknown host \"{}\"", server.host);
  }
  if (ec == net::error::network_unreachable || ec == net::error::host_unreachable) {
    return "network unreachable";
  }
  if (ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::broken_pipe ||
      ec == http::error::partial_message) {
    return "the server closed the connection without a complete answer";
  }
  if (ec == http::error::body_limit) {
    return fmt::format("the answer is larger than {} MiB", kMaxReplyBytes >> 20);
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return fmt::format("not an HTTP server ({})", ec.message());
  }
  std::string text = ec.message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

// Starts one asynchronous operation and runs the io_context until it completes; the stream's
// expiry guarantees completion (the operation then fails with beast::error::timeout).
template <class Start> beast::error_code runOne(net::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

} // namespace

std::optional<ServerUrl> parseServerUrl(std::string_view url, std::string& error) {
  ServerUrl server;
  std::string_view rest = url;
  size_t scheme = rest.find("://");
  if (scheme != std::string_view::npos) {
    std::string_view name = rest.substr(0, scheme);
    if (equalsIgnoreCase(name, "https")) {
      error = fmt::format("{}: https is not supported; fulcrum-control serves plain HTTP (use "
                          "http://, and an SSH tunnel or a TLS proxy across machines)",
                          url);
      return std::nullopt;
    }
    if (!equalsIgnoreCase(name, "http")) {
      error = fmt::format("{}: expected an http:// URL", url);
      return std::nullopt;
    }
    rest.remove_prefix(scheme + 3);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    error = fmt::format("{}: the server URL takes no query or fragment", url);
    return std::nullopt;
  }
  if (authority.find('@') != std::string_view::npos) {
    error = fmt::format("{}: pass credentials with --token, not in the URL", url);
    return std::nullopt;
  }
  std::string_view port;
  if (authority.substr(0, 1) == "[") {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = fmt::format("{}: unterminated IPv6 address", url);
      return std::nullopt;
    }
    server.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        error = fmt::format("{}: expected :PORT after the IPv6 address", url);
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    server.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
  }
  if (server.host.empty()) {
    error = fmt::format("{}: no host", url);
    return std::nullopt;
  }
  unsigned number = 80;
  if (!port.empty() || authority.find(':') != std::string_view::npos) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
      error = fmt::format("{}: the port must be a number from 1 to 65535", url);
      return std::nullopt;
    }
  }
  server.port = std::to_string(number);
  server.basePath = std::string(path);
  server.text = fmt::format("http://{}{}", authority, server.basePath);
  return server;
}

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) {
      return value;
    }
  }
  return {};
}

HttpReply HttpClient::send(std::string_view method, std::string_view target,
                           const HttpHeaders& headers, std::string body) const {
  auto fail = [&](const beast::error_code& ec) {
    return CliError(kExitUnreachable, fmt::format("cannot reach {}: {}", server_.text,
                                                  describe(ec, server_, timeout_)));
  };
  net::io_context ioc;
  // Name resolution is synchronous (getaddrinfo cannot be cancelled anyway), bounded by the
  // system resolver's own timeouts; numeric hosts resolve at once.
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(server_.host, server_.port, ec);
  if (ec) {
    throw fail(ec);
  }

  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout_); // one deadline for connect, write and read together
  ec = runOne(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
  if (ec) {
    throw fail(ec);
  }

  http::request<http::string_body> request;
  request.method_string(beast::string_view(method.data(), method.size()));
  request.target(fmt::format("{}{}", server_.basePath, target));
  request.version(11);
  bool v6 = server_.host.find(':') != std::string::npos;
  request.set(http::field::host, v6 ? fmt::format("[{}]:{}", server_.host, server_.port)
                                    : fmt::format("{}:{}", server_.host, server_.port));
  request.set(http::field::user_agent, "fulcrumctl/" FULCRUM_VERSION);
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  request.keep_alive(false);
  request.body() = std::move(body);
  request.prepare_payload();
  ec = runOne(ioc, [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
  if (ec) {
    throw fail(ec);
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  ec = runOne(ioc,
              [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) {
    throw fail(ec);
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  auto& response = parser.get();
  HttpReply reply;
  reply.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  reply.body = std::move(response.body());
  return reply;
}

} // namespace fulcrum::cli
