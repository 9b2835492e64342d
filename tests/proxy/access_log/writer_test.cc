#include "proxy/access_log/writer.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace fulcrum::access_log {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
public:
  TempDir() {
    char name[] = "/tmp/fulcrum-access-log-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }

private:
  std::string path_;
};

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class Pred> bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(SpscByteRing, WholeRecordsOrNothing) {
  SpscByteRing ring(4096);
  EXPECT_EQ(ring.capacity(), 4096u);
  const std::string record(1000, 'x');
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(ring.push(record));
  }
  EXPECT_FALSE(ring.push(record)); // 96 bytes left
  EXPECT_EQ(ring.dropped(), 1u);
  EXPECT_TRUE(ring.push(std::string(96, 'y')));
  std::string_view a;
  std::string_view b;
  EXPECT_EQ(ring.peek(a, b), 4096u);
  ring.consume(2000);
  // Wraps around the end.
  EXPECT_TRUE(ring.push(std::string(1500, 'z')));
  EXPECT_EQ(ring.peek(a, b), 4096u - 2000 + 1500);
  EXPECT_EQ(a.size(), 4096u - 2000);
  EXPECT_EQ(b, std::string(1500, 'z'));
}

TEST(SpscByteRing, ConcurrentProducerAndConsumerKeepOrder) {
  SpscByteRing ring(8192);
  constexpr int kLines = 200000;
  std::thread producer([&] {
    for (int i = 0; i < kLines;) {
      const std::string line = std::to_string(i) + "\n";
      if (ring.push(line)) {
        ++i;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::string got;
  int expected = 0;
  while (expected < kLines) {
    std::string_view a;
    std::string_view b;
    const size_t n = ring.peek(a, b);
    got.append(a);
    got.append(b);
    ring.consume(n);
    size_t nl;
    while ((nl = got.find('\n')) != std::string::npos) {
      ASSERT_EQ(got.substr(0, nl), std::to_string(expected));
      ++expected;
      got.erase(0, nl + 1);
    }
  }
  producer.join();
}

TEST(AccessLogWriter, WritesEveryWorkersLinesAndReopens) {
  TempDir dir;
  AccessLogOptions options;
  options.path = dir.file("access.log");
  options.ringBytes = 64 * 1024;
  options.idleSleep = 1ms;
  std::vector<std::string> notes;
  auto opened =
      AccessLogWriter::open(options, 2, [&](const std::string& n) { notes.push_back(n); });
  ASSERT_TRUE(opened) << opened.error().message;
  auto& writer = *opened.value();
  writer.start();
  ASSERT_TRUE(writer.ring(0).push("w0 a\n"));
  ASSERT_TRUE(writer.ring(1).push("w1 a\n"));
  ASSERT_TRUE(eventually([&] { return readAll(options.path).size() == 10; }));

  // logrotate: rename, then reopen; lines pushed after the reopen land in the new file.
  fs::rename(options.path, dir.file("access.log.1"));
  ASSERT_TRUE(writer.ring(0).push("w0 b\n"));
  writer.requestReopen();
  ASSERT_TRUE(eventually([&] { return writer.reopens() == 1; }));
  ASSERT_TRUE(writer.ring(1).push("w1 c\n"));
  writer.stop();
  const std::string old = readAll(dir.file("access.log.1"));
  const std::string now = readAll(options.path);
  EXPECT_EQ(old.size() + now.size(), 20u) << old << "|" << now;
  EXPECT_NE(now.find("w1 c\n"), std::string::npos);
  EXPECT_EQ(writer.linesDropped(), 0u);
  EXPECT_EQ(writer.writeErrors(), 0u);
}

TEST(AccessLogWriter, AFullRingDropsInsteadOfWaiting) {
  TempDir dir;
  AccessLogOptions options;
  options.path = dir.file("access.log");
  options.ringBytes = 4096;
  auto opened = AccessLogWriter::open(options, 1, nullptr);
  ASSERT_TRUE(opened);
  auto& writer = *opened.value();
  // Not started: nobody drains, like a writer stuck on a slow disk.
  const std::string line(100, 'x');
  int accepted = 0;
  for (int i = 0; i < 100; ++i) {
    accepted += writer.ring(0).push(line) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 40);
  EXPECT_EQ(writer.linesDropped(), 60u);
  writer.stop(); // still writes what was buffered
  EXPECT_EQ(readAll(options.path).size(), 4000u);
}

TEST(AccessLogWriter, OpenFailsWithThePath) {
  AccessLogOptions options;
  options.path = "/nonexistent-dir/access.log";
  auto opened = AccessLogWriter::open(options, 1, nullptr);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("/nonexistent-dir/access.log"), std::string::npos);
}

TEST(AccessLogWriter, SampleThreshold) {
  EXPECT_EQ(sampleThreshold(1.0), UINT64_MAX);
  EXPECT_EQ(sampleThreshold(0.0), 0u);
  EXPECT_TRUE(sampled(sampleThreshold(1.0), UINT64_MAX));
  EXPECT_FALSE(sampled(sampleThreshold(0.0), 0));
  const uint64_t half = sampleThreshold(0.5);
  EXPECT_TRUE(sampled(half, half - 1));
  EXPECT_FALSE(sampled(half, half));
}

} // namespace
} // namespace fulcrum::access_log
