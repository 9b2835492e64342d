#include "proxy/tracing/exporter.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "proxy/tracing/otlp_json.h"

namespace fulcrum::tracing {

namespace {

constexpr std::chrono::milliseconds kPollInterval{50};

class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

} // namespace

Result<CollectorUrl> parseCollectorUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Error{"collector URL must start with http:// (https is not supported): " +
                 std::string(url)};
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  if (prefix.find_first_of("?# ") != std::string_view::npos) {
    return Error{"collector URL must not have a query or fragment: " + std::string(url)};
  }
  CollectorUrl out;
  out.hostHeader = std::string(authority);
  std::string_view host = authority;
  std::string_view port = "4318";
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error{"collector URL: unterminated IPv6 address: " + std::string(url)};
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return Error{"collector URL: bad authority: " + std::string(url)};
      }
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  uint32_t portNumber = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), portNumber);
  if (host.empty() || ec != std::errc() || ptr != port.data() + port.size() || portNumber == 0 ||
      portNumber > 65535) {
    return Error{"collector URL needs a host and a port 1..65535: " + std::string(url)};
  }
  out.host = std::string(host);
  out.port = std::string(port);
  out.path = std::string(prefix) + "/v1/traces";
  return out;
}

Result<std::unique_ptr<SpanExporter>> SpanExporter::create(ExporterOptions options, size_t workers,
                                                           Note note) {
  auto url = parseCollectorUrl(options.collector);
  if (!url) {
    return url.error();
  }
  return std::unique_ptr<SpanExporter>(
      new SpanExporter(std::move(options), std::move(url.value()), workers, std::move(note)));
}

SpanExporter::SpanExporter(ExporterOptions options, CollectorUrl url, size_t workers, Note note)
    : options_(std::move(options)), url_(std::move(url)), note_(std::move(note)) {
  for (size_t i = 0; i < workers; ++i) {
    rings_.push_back(std::make_unique<access_log::SpscByteRing>(options_.ringBytes));
  }
}

SpanExporter::~SpanExporter() {
  stop();
}

void SpanExporter::start() {
  thread_ = std::thread([this] { run(); });
  (void)::pthread_setname_np(thread_.native_handle(), "span-exporter");
}

void SpanExporter::stop() {
  if (stop_.exchange(true)) {
    return;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  collect();
  flush();
}

uint64_t SpanExporter::spansDropped() const {
  uint64_t n = 0;
  for (const auto& ring : rings_) {
    n += ring->dropped();
  }
  return n;
}

void SpanExporter::run() {
  while (!stop_.load(std::memory_order_acquire)) {
    collect();
    if (batchCount_ > 0 &&
        std::chrono::steady_clock::now() - batchStart_ >= options_.flushInterval) {
      flush();
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void SpanExporter::collect() {
  for (auto& ring : rings_) {
    std::string_view a;
    std::string_view b;
    const size_t n = ring->peek(a, b);
    if (n == 0) {
      continue;
    }
    // Each record is one span object followed by '\n' (JSON text never holds a raw newline).
    for (std::string_view part : {a, b}) {
      size_t start = 0;
      while (start < part.size()) {
        const size_t nl = part.find('\n', start);
        const size_t end = nl == std::string_view::npos ? part.size() : nl;
        if (end > start) {
          if (batchCount_ > 0 && !spans_.empty() && spans_.back() != ',') {
            spans_.push_back(',');
          }
          if (batchCount_ == 0 && spans_.empty()) {
            batchStart_ = std::chrono::steady_clock::now();
          }
          spans_.append(part.substr(start, end - start));
        }
        if (nl == std::string_view::npos) {
          break; // a record that wraps continues in `b`
        }
        ++batchCount_;
        start = nl + 1;
      }
    }
    ring->consume(n);
    if (batchCount_ >= options_.maxBatchSpans) {
      flush();
    }
  }
}

void SpanExporter::flush() {
  if (batchCount_ == 0) {
    return;
  }
  body_.clear();
  appendExportRequest(options_.serviceName, options_.instanceId, spans_, body_);
  const size_t count = batchCount_;
  spans_.clear();
  batchCount_ = 0;
  auto sent = post(body_);
  if (sent) {
    exported_.fetch_add(count, std::memory_order_relaxed);
    if (failing_ && note_) {
      note_("tracing: export to " + options_.collector + " works again");
    }
    failing_ = false;
    return;
  }
  failed_.fetch_add(count, std::memory_order_relaxed);
  batchesFailed_.fetch_add(1, std::memory_order_relaxed);
  if (!failing_ && note_) {
    note_("tracing: export to " + options_.collector + " failed: " + sent.error().message +
          " (spans are dropped, not retried; reported again after a success)");
  }
  failing_ = true;
}

Result<bool> SpanExporter::post(const std::string& body) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &found); rc != 0) {
    return Error{std::string("resolve ") + url_.host + ": " + ::gai_strerror(rc)};
  }
  std::string lastError = "no address";
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      lastError = std::strerror(errno);
      continue;
    }
    timeval tv{};
    tv.tv_sec = options_.timeout.count() / 1000;
    tv.tv_usec = (options_.timeout.count() % 1000) * 1000;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      break;
    }
    lastError = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return Error{lastError};
  }
  Fd socket(fd);
  std::string head =
      "POST " + url_.path + " HTTP/1.1\r\nHost: " + url_.hostHeader +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  for (const std::string* part : {static_cast<const std::string*>(&head), &body}) {
    size_t off = 0;
    while (off < part->size()) {
      const ssize_t n = ::send(fd, part->data() + off, part->size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Error{std::string("send: ") + std::strerror(errno)};
      }
      off += static_cast<size_t>(n);
    }
  }
  // The status line is enough: "HTTP/1.x NNN".
  char buf[512];
  size_t got = 0;
  while (got < 12) {
    const ssize_t n = ::recv(fd, buf + got, sizeof(buf) - got, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{n == 0 ? std::string("connection closed before a response")
                          : std::string("receive: ") + std::strerror(errno)};
    }
    got += static_cast<size_t>(n);
  }
  const std::string_view line(buf, got);
  if (line.substr(0, 5) != "HTTP/" || line.size() < 12) {
    return Error{"not an HTTP response"};
  }
  const std::string_view status = line.substr(9, 3);
  if (status[0] != '2') {
    return Error{"collector answered " + std::string(status)};
  }
  return true;
}

} // namespace fulcrum::tracing
