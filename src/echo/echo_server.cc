#include "echo/echo_server.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <span>
#include <thread>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "echo/request_parser.h"
#include "proxy/http/forward.h"

namespace fulcrum::echo {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

// Completion token: results as a tuple with the error_code first, never an exception.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr size_t kInputBytes = kMaxHeadBytes; // a whole head must fit
constexpr size_t kPieceBytes = 64 * 1024;     // bytes=N bodies are written in pieces this big
constexpr uint64_t kMaxDelayMs = 3'600'000;
constexpr uint64_t kMaxBodyBytes = uint64_t{1} << 50;
constexpr size_t kMaxDrainBytes = 1 << 20; // read (and drop) at most this much before closing
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

// Body of a bytes=N response: byte i is 'a' + i % 26. A piece starting at offset o is read from
// pattern() + o % 26, so the buffer holds one piece plus one period.
const char* pattern() {
  static const std::array<char, kPieceBytes + 26> bytes = [] {
    std::array<char, kPieceBytes + 26> b{};
    for (size_t i = 0; i < b.size(); ++i) {
      b[i] = static_cast<char>('a' + i % 26);
    }
    return b;
  }();
  return bytes.data();
}

// The Date header value, formatted at most once per second per thread.
std::string_view httpDate() {
  thread_local time_t cachedSecond = 0;
  thread_local std::array<char, 64> text{};
  thread_local size_t length = 0;
  time_t now = std::time(nullptr);
  if (now != cachedSecond) {
    struct tm parts {};
    gmtime_r(&now, &parts);
    length = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    cachedSecond = now;
  }
  return {text.data(), length};
}

void appendUint(std::string& out, uint64_t value) {
  std::array<char, 24> digits{};
  auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  out.append(digits.data(), end);
}

// JSON string literal. Bytes >= 0x80 are written as \u00XX (read as Latin-1), so any input gives
// valid JSON and the original bytes can be recovered.
void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      out.append("\\u00");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

bool parseUint(std::string_view text, uint64_t max, uint64_t& out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) {
    return false;
  }
  out = value;
  return true;
}

bool parseFlag(std::string_view text, bool& out) {
  if (text == "1" || text == "true") {
    out = true;
  } else if (text.empty() || text == "0" || text == "false") {
    out = false;
  } else {
    return false;
  }
  return true;
}

enum class Resource { Plain, Echo, Health, HealthSet, Stats };

// What to answer, decided from the head before its body is read (the head's bytes may be gone
// by the time the answer is written).
struct Plan {
  Resource resource = Resource::Plain;
  int status = 0; // 0: the resource's own status
  uint64_t delayMs = 0;
  bool hasBytes = false;
  uint64_t bytes = 0;
  bool chunked = false;
  bool truncate = false;
  bool keepAlive = true;
  bool http11 = true;
  bool headRequest = false;
  int healthSet = 0;
};

// Splits an origin-form or absolute-form target into path and query.
void splitTarget(std::string_view target, std::string_view& path, std::string_view& query) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.substr(0, scheme.size()) == scheme) {
      target.remove_prefix(scheme.size());
      size_t start = target.find_first_of("/?");
      target = start == std::string_view::npos ? std::string_view("/") : target.substr(start);
      break;
    }
  }
  size_t question = target.find('?');
  path = target.substr(0, question);
  if (path.empty()) {
    path = "/";
  }
  query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
}

// Fills plan (and, for /echo, the JSON up to the body count) from a parsed head. Returns an
// error for the 400 answer, or an empty view.
std::string_view makePlan(const RequestHead& head, Plan& plan, std::string& echoJson) {
  std::string_view path;
  std::string_view query;
  splitTarget(head.target, path, query);
  plan.keepAlive = head.keepAlive;
  plan.http11 = head.http11;
  plan.headRequest = head.method == "HEAD";
  if (path == "/echo") {
    plan.resource = Resource::Echo;
  } else if (path == "/health") {
    plan.resource = Resource::Health;
  } else if (path == "/stats") {
    plan.resource = Resource::Stats;
  }

  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = param.find('=');
    std::string_view key = param.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    uint64_t number = 0;
    if (key == "delay") {
      if (!parseUint(value, kMaxDelayMs, number)) {
        return "invalid delay (milliseconds, at most 3600000)";
      }
      plan.delayMs = number;
    } else if (key == "status") {
      if (!parseUint(value, 599, number) || number < 200) {
        return "invalid status (200-599)";
      }
      plan.status = static_cast<int>(number);
    } else if (key == "bytes") {
      if (!parseUint(value, kMaxBodyBytes, number)) {
        return "invalid bytes";
      }
      plan.hasBytes = true;
      plan.bytes = number;
    } else if (key == "chunked") {
      if (!parseFlag(value, plan.chunked)) {
        return "invalid chunked (0 or 1)";
      }
    } else if (key == "close") {
      if (!parseFlag(value, plan.truncate)) {
        return "invalid close (0 or 1)";
      }
    } else if (key == "set" && plan.resource == Resource::Health) {
      if (!parseUint(value, 599, number) || number < 200) {
        return "invalid health status (200-599)";
      }
      plan.resource = Resource::HealthSet;
      plan.healthSet = static_cast<int>(number);
    }
  }

  if (plan.resource == Resource::Echo) {
    echoJson.clear();
    echoJson.append("{\"method\":");
    appendJsonString(echoJson, head.method);
    echoJson.append(",\"target\":");
    appendJsonString(echoJson, head.target);
    echoJson.append(",\"version\":");
    appendJsonString(echoJson, head.version);
    echoJson.append(",\"headers\":[");
    for (size_t i = 0; i < head.headers.size(); ++i) {
      echoJson.append(i == 0 ? "[" : ",[");
      appendJsonString(echoJson, head.headers[i].name);
      echoJson.push_back(',');
      appendJsonString(echoJson, head.headers[i].value);
      echoJson.push_back(']');
    }
    echoJson.append("],\"body_bytes\":");
  }
  return {};
}

// A response body: a small text owned by the session, or N pattern bytes.
struct BodySource {
  std::string_view text;
  bool usePattern = false;
  uint64_t patternBytes = 0;

  uint64_t size() const { return usePattern ? patternBytes : text.size(); }
  asio::const_buffer piece(uint64_t offset, size_t length) const {
    return usePattern ? asio::const_buffer(pattern() + offset % 26, length)
                      : asio::const_buffer(text.data() + offset, length);
  }
};

// One client connection, served by one coroutine on one worker. Reads a head, reads and drops
// its body, waits if asked, answers, and repeats; pipelined requests wait in the input buffer.
class Session {
public:
  Session(tcp::socket socket, EchoState& state)
      : socket_(std::move(socket)), state_(state), timer_(socket_.get_executor()),
        input_(new char[kInputBytes]) {
    state_.openConnections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { state_.openConnections.fetch_sub(1, std::memory_order_relaxed); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> run();

private:
  enum class BodyOutcome { Read, Closed, Malformed };
  struct BodyResult {
    BodyOutcome outcome;
    uint64_t bytes;
  };

  std::string_view input() const { return {input_.get() + inBegin_, inEnd_ - inBegin_}; }
  void consume(size_t n) {
    inBegin_ += n;
    if (inBegin_ == inEnd_) {
      inBegin_ = inEnd_ = 0;
    }
  }
  asio::awaitable<bool> readMore();
  asio::awaitable<BodyResult> discardBody(BodyFraming framing, uint64_t contentLength);
  asio::awaitable<bool> respond(const Plan& plan, uint64_t bodyBytes);
  asio::awaitable<bool> writeResponse(int status, std::string_view contentType, BodySource body,
                                      const Plan& plan);
  asio::awaitable<void> answerErrorAndClose(int status, std::string_view reason);
  asio::awaitable<void> closeGracefully();

  tcp::socket socket_;
  EchoState& state_;
  asio::steady_timer timer_;
  std::unique_ptr<char[]> input_; // [inBegin_, inEnd_) is received and not yet consumed
  size_t inBegin_ = 0;
  size_t inEnd_ = 0;
  RequestParser parser_;
  RequestHead head_;
  std::string echoJson_;
  std::string body_;
  std::string out_;
  std::array<char, 24> chunkHeader_{};
};

asio::awaitable<void> Session::run() {
  for (;;) {
    ParseResult parsed = parser_.parse(input(), head_);
    while (parsed.status == ParseStatus::Incomplete) {
      if (!co_await readMore()) {
        co_return;
      }
      parsed = parser_.parse(input(), head_);
    }
    if (parsed.status == ParseStatus::Error) {
      state_.requests.fetch_add(1, std::memory_order_relaxed);
      co_await answerErrorAndClose(parsed.errorStatus, parsed.reason);
      co_return;
    }

    Plan plan;
    std::string_view planError = makePlan(head_, plan, echoJson_);
    const BodyFraming framing = head_.framing;
    const uint64_t contentLength = head_.contentLength;
    const bool expectContinue = head_.expectContinue && head_.http11;
    const bool unknownExpectation = head_.unknownExpectation;
    consume(parsed.consumed); // head_ must not be used from here on
    if (plan.resource != Resource::Stats) {
      state_.requests.fetch_add(1, std::memory_order_relaxed);
    }
    if (!planError.empty()) {
      co_await answerErrorAndClose(400, planError);
      co_return;
    }
    if (unknownExpectation) {
      co_await answerErrorAndClose(417, "unsupported expectation");
      co_return;
    }

    bool hasBody = framing == BodyFraming::Chunked ||
                   (framing == BodyFraming::ContentLength && contentLength > 0);
    if (expectContinue && hasBody) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [error, n] = co_await asio::async_write(socket_, asio::buffer(kContinue), kNoThrow);
      if (error) {
        co_return;
      }
    }
    BodyResult body = co_await discardBody(framing, contentLength);
    if (body.outcome == BodyOutcome::Closed) {
      co_return;
    }
    if (body.outcome == BodyOutcome::Malformed) {
      co_await answerErrorAndClose(400, "malformed chunked body");
      co_return;
    }
    if (plan.delayMs > 0) {
      timer_.expires_after(std::chrono::milliseconds(plan.delayMs));
      auto [error] = co_await timer_.async_wait(kNoThrow);
      if (error) {
        co_return;
      }
    }
    if (!co_await respond(plan, body.bytes)) {
      co_return;
    }
    if (!plan.keepAlive || plan.truncate) {
      co_await closeGracefully();
      co_return;
    }
  }
}

asio::awaitable<bool> Session::readMore() {
  if (inBegin_ > 0) {
    std::memmove(input_.get(), input_.get() + inBegin_, inEnd_ - inBegin_);
    inEnd_ -= inBegin_;
    inBegin_ = 0;
  }
  if (inEnd_ == kInputBytes) {
    co_return false; // unreachable: the parser rejects heads that would fill the buffer
  }
  auto [error, n] = co_await socket_.async_read_some(
      asio::buffer(input_.get() + inEnd_, kInputBytes - inEnd_), kNoThrow);
  if (error) {
    co_return false;
  }
  inEnd_ += n;
  co_return true;
}

asio::awaitable<Session::BodyResult> Session::discardBody(BodyFraming framing,
                                                          uint64_t contentLength) {
  if (framing == BodyFraming::None) {
    co_return BodyResult{BodyOutcome::Read, 0};
  }
  if (framing == BodyFraming::ContentLength) {
    uint64_t left = contentLength;
    for (;;) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(left, inEnd_ - inBegin_));
      consume(take);
      left -= take;
      if (left == 0) {
        co_return BodyResult{BodyOutcome::Read, contentLength};
      }
      if (!co_await readMore()) {
        co_return BodyResult{BodyOutcome::Closed, 0};
      }
    }
  }
  ChunkedDecoder decoder;
  for (;;) {
    ChunkedDecoder::Step step = decoder.feed(input());
    consume(step.consumed);
    if (step.error) {
      co_return BodyResult{BodyOutcome::Malformed, 0};
    }
    if (step.done) {
      co_return BodyResult{BodyOutcome::Read, decoder.dataBytes()};
    }
    if (!co_await readMore()) {
      co_return BodyResult{BodyOutcome::Closed, 0};
    }
  }
}

asio::awaitable<bool> Session::respond(const Plan& plan, uint64_t bodyBytes) {
  const std::string& name = state_.name;
  int status = plan.status;
  std::string_view contentType = "text/plain; charset=utf-8";
  body_.clear();
  switch (plan.resource) {
  case Resource::Plain:
    body_.append(name).push_back('\n');
    break;
  case Resource::Echo:
    contentType = "application/json";
    body_.append(echoJson_);
    appendUint(body_, bodyBytes);
    body_.append(",\"backend\":");
    appendJsonString(body_, name);
    body_.append("}\n");
    break;
  case Resource::Health: {
    int health = state_.healthStatus.load(std::memory_order_relaxed);
    if (status == 0) {
      status = health;
    }
    body_.append(health < 400 ? "ok " : "unhealthy ").append(name).push_back('\n');
    break;
  }
  case Resource::HealthSet:
    state_.healthStatus.store(plan.healthSet, std::memory_order_relaxed);
    body_.append(name).append(" health ");
    appendUint(body_, static_cast<uint64_t>(plan.healthSet));
    body_.push_back('\n');
    break;
  case Resource::Stats:
    contentType = "application/json";
    body_.append("{\"name\":");
    appendJsonString(body_, name);
    body_.append(",\"connections\":");
    appendUint(body_, state_.connections.load(std::memory_order_relaxed));
    body_.append(",\"open_connections\":");
    appendUint(body_, state_.openConnections.load(std::memory_order_relaxed));
    body_.append(",\"requests\":");
    appendUint(body_, state_.requests.load(std::memory_order_relaxed));
    body_.append("}\n");
    break;
  }
  if (status == 0) {
    status = 200;
  }
  BodySource source{body_};
  if (plan.hasBytes) {
    contentType = "application/octet-stream";
    source = BodySource{{}, true, plan.bytes};
  }
  co_return co_await writeResponse(status, contentType, source, plan);
}

// Writes head and body with backpressure: each piece is written before the next is produced.
asio::awaitable<bool> Session::writeResponse(int status, std::string_view contentType,
                                             BodySource body, const Plan& plan) {
  const bool bodyless = status == 204 || status == 304;
  const uint64_t total = bodyless ? 0 : body.size();
  const bool chunked = plan.chunked && plan.http11 && !bodyless;

  out_.clear();
  out_.append("HTTP/1.1 ");
  appendUint(out_, static_cast<uint64_t>(status));
  out_.push_back(' ');
  out_.append(http::reasonPhrase(static_cast<uint16_t>(status)));
  out_.append("\r\nX-Backend: ").append(state_.name);
  out_.append("\r\nDate: ").append(httpDate());
  if (!bodyless) {
    out_.append("\r\nContent-Type: ").append(contentType);
    if (chunked) {
      out_.append("\r\nTransfer-Encoding: chunked");
    } else {
      out_.append("\r\nContent-Length: ");
      appendUint(out_, total);
    }
  }
  if (!plan.keepAlive) {
    out_.append("\r\nConnection: close");
  } else if (!plan.http11) {
    out_.append("\r\nConnection: keep-alive");
  }
  out_.append("\r\n\r\n");

  const uint64_t toSend = plan.headRequest ? 0 : plan.truncate ? total / 2 : total;
  bool headPending = true;
  bool lastChunkPending = chunked && !plan.headRequest && !plan.truncate;
  uint64_t sent = 0;
  while (headPending || sent < toSend || lastChunkPending) {
    std::array<asio::const_buffer, 4> buffers;
    size_t count = 0;
    if (headPending) {
      buffers[count++] = asio::buffer(out_);
      headPending = false;
    }
    auto length = static_cast<size_t>(std::min<uint64_t>(toSend - sent, kPieceBytes));
    if (length > 0) {
      if (chunked) {
        char* begin = chunkHeader_.data();
        auto [end, ec] = std::to_chars(begin, begin + chunkHeader_.size() - 2, length, 16);
        *end++ = '\r';
        *end++ = '\n';
        buffers[count++] = asio::buffer(begin, static_cast<size_t>(end - begin));
      }
      buffers[count++] = body.piece(sent, length);
      sent += length;
      if (chunked) {
        if (sent == toSend && lastChunkPending) {
          buffers[count++] = asio::buffer(std::string_view("\r\n0\r\n\r\n"));
          lastChunkPending = false;
        } else {
          buffers[count++] = asio::buffer(std::string_view("\r\n"));
        }
      }
    } else if (lastChunkPending) {
      buffers[count++] = asio::buffer(std::string_view("0\r\n\r\n"));
      lastChunkPending = false;
    }
    auto [error, n] = co_await asio::async_write(
        socket_, std::span<const asio::const_buffer>(buffers.data(), count), kNoThrow);
    if (error) {
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<void> Session::answerErrorAndClose(int status, std::string_view reason) {
  Plan plan;
  plan.keepAlive = false;
  body_.clear();
  body_.append(state_.name).append(": ").append(reason).push_back('\n');
  if (co_await writeResponse(status, "text/plain; charset=utf-8", BodySource{body_}, plan)) {
    co_await closeGracefully();
  }
}

// Half-closes, then reads and drops what the client still sends (bounded in bytes and time), so
// that the close does not turn into a reset that could destroy the answer in flight.
asio::awaitable<void> Session::closeGracefully() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  timer_.expires_after(kLingerTime);
  size_t drained = 0;
  while (drained < kMaxDrainBytes) {
    auto result =
        co_await (socket_.async_read_some(asio::buffer(input_.get(), kInputBytes), kNoThrow) ||
                  timer_.async_wait(kNoThrow));
    if (result.index() != 0) {
      break;
    }
    auto [error, n] = std::get<0>(result);
    if (error) {
      break;
    }
    drained += n;
  }
  socket_.close(ignored);
}

asio::awaitable<void> serveConnection(tcp::socket socket, EchoState& state) {
  Session session(std::move(socket), state);
  co_await session.run();
}

} // namespace

// A worker: one event loop on one thread. The work guard keeps run() going while idle.
struct Worker {
  asio::io_context context{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{context.get_executor()};
  std::thread thread;
};

struct EchoServer::Impl {
  EchoState state;
  EchoOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<tcp::acceptor> acceptor;   // on workers[0]
  std::optional<asio::signal_set> signals; // on workers[0]

  asio::awaitable<void> acceptLoop();
  void stop() {
    for (auto& worker : workers) {
      worker->context.stop();
    }
  }
};

asio::awaitable<void> EchoServer::Impl::acceptLoop() {
  size_t next = 0;
  asio::steady_timer backoff(acceptor->get_executor());
  for (;;) {
    Worker& worker = *workers[next];
    next = (next + 1) % workers.size();
    auto [error, socket] = co_await acceptor->async_accept(
        asio::any_io_executor(worker.context.get_executor()), kNoThrow);
    if (error == asio::error::operation_aborted) {
      co_return;
    }
    if (error) {
      // Out of descriptors and the like: wait a little instead of spinning on the error.
      std::cerr << "fulcrum-echo: accept: " << error.message() << std::endl;
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    state.connections.fetch_add(1, std::memory_order_relaxed);
    asio::any_io_executor executor = socket.get_executor();
    asio::co_spawn(executor, serveConnection(std::move(socket), state), asio::detached);
  }
}

EchoServer::EchoServer(EchoOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->state.name = options.name;
  int threads = std::max(1, options.threads);
  impl_->options = std::move(options);
  for (int i = 0; i < threads; ++i) {
    impl_->workers.push_back(std::make_unique<Worker>());
  }
}

EchoServer::~EchoServer() {
  stop();
  for (auto& worker : impl_->workers) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
  // Objects of an io_context go before it; worker 0's context (whose pending accept holds a
  // socket of another worker) before the other workers' contexts.
  impl_->signals.reset();
  impl_->acceptor.reset();
  for (auto& worker : impl_->workers) {
    worker.reset();
  }
}

Result<std::string> EchoServer::listen() {
  Impl& impl = *impl_;
  asio::io_context& context = impl.workers[0]->context;
  error_code error;
  auto address = asio::ip::make_address(impl.options.listen.host, error);
  if (error) {
    return Error{"invalid listen address " + impl.options.listen.host + ": " + error.message()};
  }
  tcp::endpoint endpoint(address, impl.options.listen.port);
  tcp::acceptor& acceptor = impl.acceptor.emplace(context);
  if (acceptor.open(endpoint.protocol(), error) ||
      acceptor.set_option(tcp::acceptor::reuse_address(true), error) ||
      acceptor.bind(endpoint, error) ||
      acceptor.listen(asio::socket_base::max_listen_connections, error)) {
    return Error{"cannot listen on " + impl.options.listen.toString() + ": " + error.message()};
  }
  tcp::endpoint bound = acceptor.local_endpoint(error);
  if (error) {
    return Error{"cannot read the bound address: " + error.message()};
  }
  asio::signal_set& signals = impl.signals.emplace(context, SIGINT, SIGTERM);
  signals.async_wait([&impl](const error_code& waitError, int) {
    if (!waitError) {
      impl.stop();
    }
  });
  asio::co_spawn(context, impl.acceptLoop(), asio::detached);

  SocketAddress result{bound.address().to_string(), bound.port(), bound.address().is_v6()};
  return result.toString();
}

void EchoServer::run() {
  for (size_t i = 1; i < impl_->workers.size(); ++i) {
    Worker* worker = impl_->workers[i].get();
    worker->thread = std::thread([worker] { worker->context.run(); });
  }
  impl_->workers[0]->context.run();
  impl_->stop();
  for (auto& worker : impl_->workers) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
}

void EchoServer::stop() {
  impl_->stop();
}

} // namespace fulcrum::echo
