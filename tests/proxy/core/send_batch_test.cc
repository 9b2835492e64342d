// net/send_batch.h against the real kernel over loopback TCP: queued sends leave at the event
// loop's next epoll_wait, carry the bytes they were queued with, report what the kernel took, and
// a socket closed before the flush sends nothing (not even to a socket that reuses its number).

#include "proxy/net/send_batch.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

namespace fulcrum::net {
namespace {

using boost::asio::ip::tcp;
using namespace std::chrono_literals;

struct Completion {
  uint32_t tag;
  ssize_t result;
};

class SendBatchTest : public ::testing::Test {
protected:
  SendBatchTest()
      : io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), guard_(io_.get_executor()),
        acceptor_(io_, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)) {}

  void SetUp() override {
    batch_ = SendBatch::create(io_);
    if (!batch_) {
      GTEST_SKIP() << "io_uring is not available here (kernel.io_uring_disabled or seccomp)";
    }
    batch_->install();
  }

  // A connected pair: `ours` sends, `peer` receives.
  struct Pair {
    tcp::socket ours;
    tcp::socket peer;
  };
  Pair connect() {
    Pair pair{tcp::socket(io_), tcp::socket(io_)};
    pair.peer.connect(acceptor_.local_endpoint());
    acceptor_.accept(pair.ours);
    pair.peer.non_blocking(true);
    pair.ours.non_blocking(true);
    return pair;
  }

  static void record(void* self, uint32_t tag, ssize_t result) {
    static_cast<SendBatchTest*>(self)->completions_.push_back({tag, result});
  }

  bool queue(tcp::socket& socket, std::string_view bytes, uint32_t tag) {
    const std::array<boost::asio::const_buffer, 2> buffers{
        boost::asio::buffer(bytes.data(), bytes.size()), boost::asio::const_buffer()};
    return batch_->queue(socket.native_handle(), buffers, &SendBatchTest::record, this, tag);
  }

  // Runs the loop (its epoll_wait flushes the batch) until `count` completions have run.
  bool runUntil(size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (completions_.size() < count && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(50ms);
    }
    return completions_.size() >= count;
  }

  // What `peer` has received so far (non-blocking).
  static std::string received(tcp::socket& peer) {
    std::string all;
    std::array<char, 65536> buffer{};
    for (;;) {
      boost::system::error_code ec;
      const size_t n = peer.read_some(boost::asio::buffer(buffer), ec);
      if (ec || n == 0) {
        return all;
      }
      all.append(buffer.data(), n);
    }
  }

  // Waits until `peer` has `size` bytes, or 5 s.
  static std::string receive(tcp::socket& peer, size_t size) {
    std::string all;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (all.size() < size && std::chrono::steady_clock::now() < deadline) {
      all += received(peer);
    }
    return all;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  tcp::acceptor acceptor_;
  std::unique_ptr<SendBatch> batch_;
  std::vector<Completion> completions_;
};

TEST_F(SendBatchTest, QueuedSendsLeaveAtTheNextWaitAndCompleteInQueueOrder) {
  Pair a = connect();
  Pair b = connect();
  ASSERT_TRUE(queue(a.ours, "first", 1));
  ASSERT_TRUE(queue(b.ours, "second!", 2));
  EXPECT_EQ(received(a.peer), "") << "a queued send must wait for the loop's epoll_wait";
  EXPECT_TRUE(completions_.empty());

  ASSERT_TRUE(runUntil(2));
  ASSERT_EQ(completions_.size(), 2u);
  EXPECT_EQ(completions_[0].tag, 1u);
  EXPECT_EQ(completions_[0].result, 5);
  EXPECT_EQ(completions_[1].tag, 2u);
  EXPECT_EQ(completions_[1].result, 7);
  EXPECT_EQ(receive(a.peer, 5), "first");
  EXPECT_EQ(receive(b.peer, 7), "second!");
  EXPECT_EQ(batch_->sent(), 2u);
}

TEST_F(SendBatchTest, TheBytesAreThoseOfTheMomentOfQueueing) {
  Pair a = connect();
  std::string message = "GET / HTTP/1.1\r\n\r\n";
  const std::string original = message;
  std::array<boost::asio::const_buffer, 2> buffers{
      boost::asio::buffer(message.data(), 4),
      boost::asio::buffer(message.data() + 4, message.size() - 4)};
  ASSERT_TRUE(batch_->queue(a.ours.native_handle(), buffers, &SendBatchTest::record, this, 1));
  message.assign(message.size(), 'X'); // the caller reuses its buffer before the flush
  ASSERT_TRUE(runUntil(1));
  EXPECT_EQ(completions_[0].result, static_cast<ssize_t>(original.size()));
  EXPECT_EQ(receive(a.peer, original.size()), original);
}

TEST_F(SendBatchTest, ASocketClosedBeforeTheFlushSendsNothingEvenIfItsNumberIsReused) {
  Pair a = connect();
  const int number = a.ours.native_handle();
  ASSERT_TRUE(queue(a.ours, "stale bytes", 7));
  a.ours.close(); // close(2) on this thread: the queued send is forgotten

  // A new connection made before the flush very likely gets the same descriptor number.
  Pair b = connect();
  ASSERT_TRUE(queue(b.ours, "fresh", 8));
  ASSERT_TRUE(runUntil(2));
  EXPECT_EQ(completions_[0].tag, 7u);
  EXPECT_EQ(completions_[0].result, -ECANCELED);
  EXPECT_EQ(completions_[1].tag, 8u);
  EXPECT_EQ(completions_[1].result, 5);
  EXPECT_EQ(receive(b.peer, 5), "fresh");
  io_.run_for(50ms);
  const bool reused = b.ours.native_handle() == number || b.peer.native_handle() == number;
  EXPECT_EQ(received(b.peer), "") << "descriptor " << number << " reused: " << reused;
  EXPECT_EQ(received(b.ours), "") << "descriptor " << number << " reused: " << reused;
  EXPECT_EQ(batch_->sent(), 1u);
}

TEST_F(SendBatchTest, AFullSendBufferReportsWhatTheKernelTook) {
  Pair a = connect();
  const int small = 4096;
  ::setsockopt(a.ours.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(a.peer.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // Fill the path until the kernel takes nothing more.
  const std::string chunk(4096, 'f');
  size_t filled = 0;
  for (int i = 0; i < 100000; ++i) {
    boost::system::error_code ec;
    const size_t n = a.ours.write_some(boost::asio::buffer(chunk), ec);
    if (ec == boost::asio::error::would_block) {
      break;
    }
    ASSERT_FALSE(ec) << ec.message();
    filled += n;
  }
  const std::string message(SendBatch::kMaxBytes, 'm');
  ASSERT_TRUE(queue(a.ours, message, 3));
  ASSERT_TRUE(runUntil(1));
  const ssize_t result = completions_[0].result;
  EXPECT_TRUE(result == -EAGAIN || (result >= 0 && result < static_cast<ssize_t>(message.size())))
      << "result " << result << " after " << filled << " bytes";
}

TEST_F(SendBatchTest, MessagesAboveTheLimitAreLeftToTheCaller) {
  Pair a = connect();
  const std::string big(SendBatch::kMaxBytes + 1, 'b');
  EXPECT_FALSE(queue(a.ours, big, 1));
  EXPECT_FALSE(queue(a.ours, "", 2));
  io_.run_for(50ms);
  EXPECT_TRUE(completions_.empty());
  EXPECT_EQ(received(a.peer), "");
}

} // namespace
} // namespace fulcrum::net
