#pragma once

// AdminServer: the admin HTTP listener (/livez, /readyz, /metrics, /config, /pools), on the main
// thread's io_context — never on a worker. Beast does the HTTP; the server (server/server.cc)
// supplies one handler that may answer later (e.g. after collecting stats from the workers).
//
// Threading: main thread only. Connections are few (probes, scrapes, operators).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/address.h"
#include "common/result.h"

namespace fulcrum::admin {

struct AdminRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?'
  std::string accept; // the Accept header (content negotiation of /metrics)
};

struct AdminResponse {
  unsigned status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

using Reply = std::function<void(AdminResponse)>;
using AdminHandler = std::function<void(const AdminRequest&, Reply)>;

class AdminServer {
public:
  AdminServer(boost::asio::io_context& io, AdminHandler handler);
  ~AdminServer();

  // Binds and starts accepting; returns the bound port (for port 0).
  Result<uint16_t> listen(const SocketAddress& address);
  void stop();

private:
  void accept();

  AdminHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_;
};

} // namespace fulcrum::admin
