#include "proxy/server/parked_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>
#include <vector>

#include "common/time_source.h"
#include "proxy/server/worker.h"

namespace fulcrum::server {
namespace {

using namespace std::chrono_literals;

// Records what the set hands back; owns the descriptors it is given.
class Recorder final : public ParkedSet::Handler {
public:
  void onParkedReady(int fd, const ParkedOrigin& origin) override {
    ready.emplace_back(fd, origin.listener);
    slots.push_back(origin.listenerSlot);
    ::close(fd);
  }
  void onParkedClosed(const ParkedOrigin& origin) override {
    ++closed;
    slots.push_back(origin.listenerSlot);
  }
  std::vector<std::pair<int, const config::Listener*>> ready;
  std::vector<uint32_t> slots;
  int closed = 0;
};

class ParkedSetTest : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(set_.open()); }
  void TearDown() override {
    for (int fd : peers_) {
      ::close(fd);
    }
  }

  // A connected pair; parks one end (with `listener`) and returns the other.
  int parkPair(const config::Listener& listener, uint32_t slot = 0,
               std::chrono::milliseconds idle = 60s) {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    EXPECT_TRUE(set_.park(fds[0], snap_, listener, slot, time_.now + idle));
    peers_.push_back(fds[1]);
    return fds[1];
  }

  // Runs the io_context until `ready` handler calls were made (bounded).
  void runUntilReady(size_t ready) {
    for (int i = 0; i < 500 && recorder_.ready.size() < ready; ++i) {
      io_.restart();
      io_.run_one_for(10ms);
    }
  }

  ManualTimeSource time_;
  boost::asio::io_context io_;
  net::TimerWheel wheel_{io_, time_, 10ms, 64};
  Recorder recorder_;
  ParkedSet set_{io_, wheel_, recorder_};
  std::shared_ptr<WorkerSnapshot> snap_ = std::make_shared<WorkerSnapshot>();
  config::Listener web_;
  config::Listener api_;
  std::vector<int> peers_;
};

TEST_F(ParkedSetTest, RecordIsOneCacheLine) {
  EXPECT_EQ(sizeof(ParkedConnection), 64u);
}

TEST_F(ParkedSetTest, RevivesExactlyTheReadyConnectionsAcrossChunks) {
  constexpr int kCount = 300; // more than one chunk, several epoll_wait batches
  std::vector<int> peers;
  for (int i = 0; i < kCount; ++i) {
    peers.push_back(parkPair(i % 2 ? api_ : web_, i % 2 ? 7 : 3));
  }
  EXPECT_EQ(set_.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(set_.capacity(), 2 * ParkedSet::kChunk); // grows by whole chunks
  // Bytes on every odd connection (the api_ ones) wake exactly those.
  for (int i = 1; i < kCount; i += 2) {
    ASSERT_EQ(::write(peers[i], "G", 1), 1);
  }
  runUntilReady(kCount / 2);
  ASSERT_EQ(recorder_.ready.size(), static_cast<size_t>(kCount / 2));
  for (const auto& [fd, listener] : recorder_.ready) {
    EXPECT_EQ(listener, &api_);
  }
  EXPECT_TRUE(std::all_of(recorder_.slots.begin(), recorder_.slots.end(),
                          [](uint32_t s) { return s == 7; }));
  EXPECT_EQ(set_.size(), static_cast<size_t>(kCount / 2));
  // EOF wakes the rest (the session reads it and ends the connection).
  for (int i = 0; i < kCount; i += 2) {
    ::shutdown(peers[i], SHUT_WR);
  }
  runUntilReady(kCount);
  EXPECT_EQ(recorder_.ready.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_EQ(recorder_.closed, 0);
  EXPECT_TRUE(set_.trim());
  EXPECT_EQ(set_.capacity(), 0u);
}

TEST_F(ParkedSetTest, FreedRecordsAreReused) {
  const int a = parkPair(web_);
  ASSERT_EQ(::write(a, "G", 1), 1);
  runUntilReady(1);
  ASSERT_EQ(recorder_.ready.size(), 1u);
  for (int i = 0; i < 10; ++i) {
    parkPair(web_);
  }
  EXPECT_EQ(set_.capacity(), ParkedSet::kChunk);
  EXPECT_FALSE(set_.trim()); // connections are parked
}

TEST_F(ParkedSetTest, IdleDeadlineClosesTheConnection) {
  const int early = parkPair(web_, 1, 100ms);
  const int late = parkPair(web_, 1, 5s);
  wheel_.advance(time_.now + 200ms);
  EXPECT_EQ(recorder_.closed, 1);
  EXPECT_EQ(set_.size(), 1u);
  char byte = 0;
  EXPECT_EQ(::read(early, &byte, 1), 0); // the proxy's end was closed
  EXPECT_EQ(::read(late, &byte, 1), -1); // still open (EAGAIN)
  // Bytes after the deadline of the other one still revive it.
  ASSERT_EQ(::write(late, "G", 1), 1);
  runUntilReady(1);
  EXPECT_EQ(recorder_.ready.size(), 1u);
}

TEST_F(ParkedSetTest, CloseAllClosesEveryConnectionAndReleasesTheSnapshot) {
  std::vector<int> peers;
  for (int i = 0; i < 5; ++i) {
    peers.push_back(parkPair(i < 3 ? web_ : api_));
  }
  const std::weak_ptr<WorkerSnapshot> weak = snap_;
  snap_.reset(); // the parked connections keep the snapshot (and its listeners) alive
  EXPECT_FALSE(weak.expired());
  set_.closeAll();
  EXPECT_EQ(recorder_.closed, 5);
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_TRUE(weak.expired());
  char byte = 0;
  for (int peer : peers) {
    EXPECT_EQ(::read(peer, &byte, 1), 0);
  }
}

TEST_F(ParkedSetTest, ShutdownEndsThePendingWait) {
  parkPair(web_);
  set_.shutdown();
  EXPECT_EQ(recorder_.closed, 1);
  io_.restart();
  io_.run_for(1s); // returns at once: the aborted wait was the only work
  EXPECT_TRUE(io_.stopped());
  int fds[2] = {-1, -1};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EXPECT_FALSE(set_.park(fds[0], snap_, web_, 0, time_.now + 1s)); // refused, still ours
  ::close(fds[0]);
  ::close(fds[1]);
}

} // namespace
} // namespace fulcrum::server
