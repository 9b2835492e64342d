#pragma once

// A small synchronous HTTP/1.1 client (Boost.Beast) for fulcrumctl: one request per connection,
// every step bounded by one deadline. Plain http:// only: fulcrum-control serves HTTP, on loopback
// unless told otherwise.
//
// Thread-safety: an HttpClient is used by one thread at a time; each send() owns its own
// io_context, socket and buffers. Failures to talk to the server throw CliError with
// kExitUnreachable and the message `cannot reach URL: REASON` (e.g. `connection refused`).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fulcrum::cli {

// A parsed server URL: `http://HOST[:PORT][/BASE]`, or `HOST:PORT` (http assumed).
struct ServerUrl {
  std::string host;     // without brackets for IPv6 literals
  std::string port;     // "80" when the URL names none
  std::string basePath; // "" or "/prefix" (no trailing slash): prepended to every target
  std::string text;     // the URL as shown in messages: `http://HOST:PORT[/BASE]`
};

// Parses `url`; std::nullopt with `error` set when it is not an http URL we can use.
std::optional<ServerUrl> parseServerUrl(std::string_view url, std::string& error);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // The first value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

class HttpClient {
public:
  // `timeout` bounds one whole exchange (resolve, connect, write, read).
  HttpClient(ServerUrl server, std::chrono::milliseconds timeout)
      : server_(std::move(server)), timeout_(timeout) {}

  // Sends METHOD basePath+target with `headers` (Host, User-Agent, Content-Length and
  // Connection: close are added) and returns the complete reply, whatever its status.
  // Throws CliError(kExitUnreachable) when no reply could be had.
  HttpReply send(std::string_view method, std::string_view target, const HttpHeaders& headers,
                 std::string body) const;

  const ServerUrl& server() const { return server_; }

private:
  ServerUrl server_;
  std::chrono::milliseconds timeout_;
};

} // namespace fulcrum::cli
