#include "proxy/tracing/exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "proxy/tracing/otlp_json.h"

namespace fulcrum::tracing {
namespace {

using namespace std::chrono_literals;

TEST(CollectorUrl, Parses) {
  auto u = parseCollectorUrl("http://127.0.0.1:4318");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "4318");
  EXPECT_EQ(u->path, "/v1/traces");
  EXPECT_EQ(u->hostHeader, "127.0.0.1:4318");
  u = parseCollectorUrl("http://collector/otlp/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "collector");
  EXPECT_EQ(u->port, "4318");
  EXPECT_EQ(u->path, "/otlp/v1/traces");
  u = parseCollectorUrl("http://[::1]:9000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "9000");
  for (const char* bad : {"https://c:4318", "c:4318", "http://:4318", "http://c:0",
                          "http://c:99999", "http://c:x", "http://[::1", "http://c:4318/?q"}) {
    EXPECT_FALSE(parseCollectorUrl(bad)) << bad;
  }
}

// A one-thread HTTP server on 127.0.0.1:0 that records request bodies and answers `status`.
class FakeCollector {
public:
  explicit FakeCollector(int status) : status_(status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeCollector() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> bodies() {
    std::vector<std::string> out;
    for (int i = 0; i < count_.load(); ++i) {
      out.push_back(bodies_[i]);
    }
    return out;
  }
  std::string firstHead() const { return head_; }

private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) {
        return;
      }
      std::string data;
      char buf[4096];
      size_t bodyStart = std::string::npos;
      size_t length = 0;
      for (;;) {
        const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        data.append(buf, static_cast<size_t>(n));
        if (bodyStart == std::string::npos) {
          bodyStart = data.find("\r\n\r\n");
          if (bodyStart != std::string::npos) {
            bodyStart += 4;
            const size_t cl = data.find("Content-Length: ");
            length = std::stoul(data.substr(cl + 16));
          }
        }
        if (bodyStart != std::string::npos && data.size() >= bodyStart + length) {
          break;
        }
      }
      if (bodyStart != std::string::npos && count_ < 16) {
        if (count_ == 0) {
          head_ = data.substr(0, bodyStart);
        }
        bodies_[count_] = data.substr(bodyStart, length);
        ++count_;
      }
      const std::string reply =
          "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Length: 0\r\n\r\n";
      ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int status_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::string bodies_[16];
  std::string head_;
  std::atomic<int> count_{0};
  std::thread thread_;
};

std::string spanLine(uint64_t id) {
  SpanData s;
  s.traceId = traceIdFrom(1, id);
  s.spanId = spanIdFrom(id);
  s.method = "GET";
  s.status = 200;
  std::string out;
  appendSpanJson(s, out);
  out.push_back('\n');
  return out;
}

template <class Pred> bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(SpanExporter, BatchesBySizeAndPostsOtlpJson) {
  FakeCollector collector(200);
  ExporterOptions options;
  options.collector = collector.url();
  options.serviceName = "svc";
  options.instanceId = "i-1";
  options.maxBatchSpans = 3;
  options.flushInterval = std::chrono::hours(1); // only size triggers a batch here
  auto created = SpanExporter::create(options, 2, nullptr);
  ASSERT_TRUE(created) << created.error().message;
  SpanExporter& exporter = *created.value();
  exporter.start();
  ASSERT_TRUE(exporter.ring(0).push(spanLine(1)));
  ASSERT_TRUE(exporter.ring(1).push(spanLine(2)));
  ASSERT_TRUE(exporter.ring(0).push(spanLine(3)));
  ASSERT_TRUE(eventually([&] { return exporter.spansExported() == 3; }));
  ASSERT_TRUE(exporter.ring(1).push(spanLine(4)));
  exporter.stop(); // the rest goes out on stop
  EXPECT_EQ(exporter.spansExported(), 4u);
  const auto bodies = collector.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  const auto first = nlohmann::json::parse(bodies[0]);
  EXPECT_EQ(first["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), 3u);
  EXPECT_NE(collector.firstHead().find("POST /v1/traces HTTP/1.1\r\n"), std::string::npos);
  EXPECT_NE(collector.firstHead().find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(
      nlohmann::json::parse(bodies[1])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"],
      "0000000000000004");
}

TEST(SpanExporter, FailuresAreCountedAndReportedOnce) {
  FakeCollector collector(503);
  ExporterOptions options;
  options.collector = collector.url();
  options.flushInterval = 10ms;
  std::vector<std::string> notes;
  auto created =
      SpanExporter::create(options, 1, [&](const std::string& n) { notes.push_back(n); });
  ASSERT_TRUE(created);
  SpanExporter& exporter = *created.value();
  exporter.start();
  ASSERT_TRUE(exporter.ring(0).push(spanLine(1)));
  ASSERT_TRUE(eventually([&] { return exporter.spansFailed() == 1; }));
  ASSERT_TRUE(exporter.ring(0).push(spanLine(2)));
  ASSERT_TRUE(eventually([&] { return exporter.spansFailed() == 2; }));
  exporter.stop();
  EXPECT_EQ(exporter.batchesFailed(), 2u);
  EXPECT_EQ(exporter.spansExported(), 0u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("503"), std::string::npos) << notes[0];
}

} // namespace
} // namespace fulcrum::tracing
