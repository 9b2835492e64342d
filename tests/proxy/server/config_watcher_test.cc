#include "proxy/server/config_watcher.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace fulcrum::server {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "fulcrum-watch-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

void writeAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

// A file rewritten more often than the debounce interval is still reported while the writes go
// on (at most maxDelay after the first unreported write), not only once they stop.
TEST(ConfigWatcher, SteadyRewritesAreReportedWhileTheyContinue) {
  TempDir dir;
  const std::string file = dir.path() + "/config.json";
  writeAtomically(file, "{}");
  boost::asio::io_context io;
  // The stream's last write: once the writer has stopped, a callback must see it. (Counting
  // callbacks after the writer's flag flips would race: the report of the last write may fire
  // in the moment between that write and the flag.)
  const std::string last = "{\"v\": \"last\"}";
  std::atomic<bool> writing{true};
  std::atomic<int> callsWhileWriting{0};
  bool sawLast = false; // the loop's thread only
  ConfigWatcher watcher(
      io, file,
      [&] {
        if (writing) {
          ++callsWhileWriting;
        }
        std::ifstream in(file);
        sawLast = sawLast || std::string(std::istreambuf_iterator<char>(in), {}) == last;
      },
      std::chrono::milliseconds(100), std::chrono::milliseconds(250));
  ASSERT_TRUE(watcher.start().ok());
  std::thread writer([&] {
    // Every 20 ms for 2 s: always inside the 100 ms quiet period of the previous write.
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
      writeAtomically(file, "{\"v\": " + std::to_string(i) + "}");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    writeAtomically(file, last);
    writing = false;
  });
  // Run the loop until the writer is done and the last burst has been reported.
  boost::asio::steady_timer poll(io);
  std::function<void()> check = [&] {
    if (!writing && sawLast) {
      watcher.stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(10));
    poll.async_wait([&](const boost::system::error_code&) { check(); });
  };
  check();
  io.run_for(std::chrono::seconds(30));
  writer.join();
  EXPECT_GE(callsWhileWriting.load(), 2) << "a steady stream of writes must not starve reloads";
  EXPECT_TRUE(sawLast) << "the last write is reported";
}

// A single write is reported once, after the quiet period.
TEST(ConfigWatcher, OneWriteOneCallback) {
  TempDir dir;
  const std::string file = dir.path() + "/config.yaml";
  writeAtomically(file, "a: 1");
  boost::asio::io_context io;
  int calls = 0;
  ConfigWatcher watcher(io, file, [&] { ++calls; });
  ASSERT_TRUE(watcher.start().ok());
  boost::asio::steady_timer trigger(io);
  trigger.expires_after(std::chrono::milliseconds(10));
  trigger.async_wait([&](const boost::system::error_code&) { writeAtomically(file, "a: 2"); });
  boost::asio::steady_timer poll(io);
  std::function<void()> check = [&] {
    if (calls > 0) {
      // Give a second (wrong) callback the chance to come: twice the quiet period.
      poll.expires_after(std::chrono::milliseconds(300));
      poll.async_wait([&](const boost::system::error_code&) { watcher.stop(); });
      return;
    }
    poll.expires_after(std::chrono::milliseconds(10));
    poll.async_wait([&](const boost::system::error_code&) { check(); });
  };
  check();
  io.run_for(std::chrono::seconds(30));
  EXPECT_EQ(calls, 1);
}

} // namespace
} // namespace fulcrum::server
