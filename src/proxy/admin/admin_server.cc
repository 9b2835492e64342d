#include "proxy/admin/admin_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

namespace fulcrum::admin {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

// One admin connection: read a request, let the handler answer (possibly later), write, repeat.
class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
public:
  AdminConnection(tcp::socket socket, AdminHandler& handler, std::shared_ptr<bool> alive)
      : stream_(std::move(socket)), handler_(handler), alive_(std::move(alive)) {}

  void start() { read(); }

private:
  void read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec || !*self->alive_) {
                         return;
                       }
                       self->handle();
                     });
  }

  void handle() {
    AdminRequest req;
    req.method = std::string(request_.method_string());
    const std::string_view target = request_.target();
    const size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    req.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
    if (auto it = request_.find(http::field::accept); it != request_.end()) {
      req.accept = std::string(it->value());
    }
    keepAlive_ = request_.keep_alive();
    version_ = request_.version();
    handler_(req, [self = shared_from_this()](AdminResponse response) {
      if (!*self->alive_) {
        return;
      }
      self->write(std::move(response));
    });
  }

  void write(AdminResponse r) {
    response_ = {};
    response_.version(version_);
    response_.result(r.status);
    response_.set(http::field::content_type, r.contentType);
    response_.set(http::field::cache_control, "no-store");
    response_.keep_alive(keepAlive_);
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !*self->alive_) {
                          return;
                        }
                        if (!self->keepAlive_) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  AdminHandler& handler_;
  std::shared_ptr<bool> alive_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  bool keepAlive_ = true;
  unsigned version_ = 11;
};

} // namespace

AdminServer::AdminServer(boost::asio::io_context& io, AdminHandler handler)
    : handler_(std::move(handler)), acceptor_(io), alive_(std::make_shared<bool>(true)) {}

AdminServer::~AdminServer() {
  *alive_ = false;
  stop();
}

Result<uint16_t> AdminServer::listen(const SocketAddress& address) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address.host, ec);
  if (ec) {
    return Error{fmt::format("admin address {}: {}", address.toString(), ec.message())};
  }
  const tcp::endpoint endpoint(ip, address.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor_.listen(64, ec);
  }
  if (ec) {
    return Error{fmt::format("admin listener {}: {}", address.toString(), ec.message())};
  }
  const uint16_t port = acceptor_.local_endpoint(ec).port();
  accept();
  return port;
}

void AdminServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void AdminServer::accept() {
  acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, tcp::socket socket) {
    if (!*alive || ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) {
      return;
    }
    if (!ec) {
      std::make_shared<AdminConnection>(std::move(socket), handler_, alive_)->start();
    }
    accept();
  });
}

} // namespace fulcrum::admin
