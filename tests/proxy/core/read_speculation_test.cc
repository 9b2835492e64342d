// net/read_speculation.h against the real epoll reactor over loopback TCP: a read on a socket
// marked drained is queued without a recv() and still completes when bytes arrive, also when
// their readiness edge was consumed before the read started.

#include "proxy/net/read_speculation.h"

#include <array>
#include <chrono>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace fulcrum::net {
namespace {

using boost::asio::ip::tcp;
using namespace std::chrono_literals;

class ReadSpeculationTest : public ::testing::Test {
protected:
  ReadSpeculationTest()
      : io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), guard_(io_.get_executor()), ours_(io_),
        peer_(io_) {
    tcp::acceptor acceptor(io_, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    peer_.connect(acceptor.local_endpoint());
    acceptor.accept(ours_);
  }

  // Starts a read on ours_; the result lands in n_ / ec_ / done_.
  void startRead(ReadTrust& trust) {
    done_ = false;
    ours_.async_read_some(boost::asio::buffer(buffer_),
                          [this](const boost::system::error_code& ec, size_t n) {
                            ec_ = ec;
                            n_ = n;
                            done_ = true;
                          });
    trust.begin(ours_, buffer_.size());
  }

  void send(std::string_view bytes) {
    boost::asio::write(peer_, boost::asio::buffer(bytes.data(), bytes.size()));
  }

  bool runUntilDone() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done_ && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(50ms);
    }
    return done_;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  tcp::socket ours_;
  tcp::socket peer_;
  std::array<char, 1024> buffer_{};
  boost::system::error_code ec_;
  size_t n_ = 0;
  bool done_ = false;
};

TEST_F(ReadSpeculationTest, QueuedShortReadIsTrustedAndDrainedReadWaitsForBytes) {
  ReadTrust trust;
  startRead(trust); // nothing there yet: the speculative recv() finds nothing, the read queues
  send("hello");
  ASSERT_TRUE(runUntilDone());
  ASSERT_FALSE(ec_);
  EXPECT_EQ(n_, 5u);
  ASSERT_TRUE(trust.drained(n_));
  markDrained(ours_);

  // Bytes that arrive after the mark raise an edge that a later epoll_wait reports; the read
  // started in between is queued without a recv() (begin() sees it queued although the bytes
  // are already there).
  send("world!");
  startRead(trust);
  EXPECT_TRUE(trust.drained(0));
  ASSERT_TRUE(runUntilDone());
  ASSERT_FALSE(ec_);
  EXPECT_EQ(n_, 6u);
}

TEST_F(ReadSpeculationTest, EdgeConsumedWithoutAReadTurnsSpeculationBackOn) {
  ReadTrust trust;
  startRead(trust);
  send("a");
  ASSERT_TRUE(runUntilDone());
  markDrained(ours_);
  send("bc");
  // The reactor consumes the edge while no read is pending: it re-enables the speculative recv().
  for (int i = 0; i < 5; ++i) {
    io_.poll();
  }
  startRead(trust);
  EXPECT_FALSE(trust.drained(0)); // completed by its speculative recv(): posted, not trusted
  ASSERT_TRUE(runUntilDone());
  ASSERT_FALSE(ec_);
  EXPECT_EQ(n_, 2u);
}

TEST_F(ReadSpeculationTest, FullReadOrWriteMeanwhileIsNotTrusted) {
  ReadTrust trust;
  startRead(trust);
  EXPECT_FALSE(trust.drained(buffer_.size())); // a full buffer may have left bytes behind
  EXPECT_TRUE(trust.drained(1));
  trust.onWrite();
  EXPECT_FALSE(trust.drained(1));
  send("x");
  ASSERT_TRUE(runUntilDone());
}

TEST_F(ReadSpeculationTest, PeerCloseAfterMarkIsSeen) {
  ReadTrust trust;
  startRead(trust);
  send("a");
  ASSERT_TRUE(runUntilDone());
  markDrained(ours_);
  startRead(trust);
  peer_.close();
  ASSERT_TRUE(runUntilDone());
  EXPECT_EQ(ec_, boost::asio::error::eof);
}

} // namespace
} // namespace fulcrum::net
