// net/io_batch.h against the real kernel over loopback TCP: queued sends leave at the event
// loop's next epoll_wait, carry the bytes they were queued with, report what the kernel took, and
// a socket closed before the flush sends nothing (not even to a socket that reuses its number).
// Sockets the reactor finds readable together are received from in one batch, and their reads
// get exactly the bytes, end of stream or error they would have got from recv().

#include "proxy/net/io_batch.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "proxy/net/read_speculation.h"

namespace fulcrum::net {
namespace {

using boost::asio::ip::tcp;
using namespace std::chrono_literals;

struct Completion {
  uint32_t tag;
  ssize_t result;
};

class IoBatchTest : public ::testing::Test {
protected:
  IoBatchTest()
      : io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), guard_(io_.get_executor()),
        acceptor_(io_, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)) {}

  void SetUp() override {
    batch_ = IoBatch::create(io_, {});
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
    static_cast<IoBatchTest*>(self)->completions_.push_back({tag, result});
  }

  bool queue(tcp::socket& socket, std::string_view bytes, uint32_t tag) {
    const std::array<boost::asio::const_buffer, 2> buffers{
        boost::asio::buffer(bytes.data(), bytes.size()), boost::asio::const_buffer()};
    return batch_->queue(socket.native_handle(), buffers, &IoBatchTest::record, this, tag);
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

  // A read of up to `size` bytes started on `socket` (queued in the reactor: nothing is there
  // yet) and announced to the batch; its result lands in `read`.
  struct Read {
    std::vector<char> buffer;
    boost::system::error_code ec;
    size_t bytes = 0;
    bool done = false;
    std::string text() const { return {buffer.data(), bytes}; }
  };
  void startRead(tcp::socket& socket, Read& read, size_t size) {
    read.buffer.assign(size, 0);
    socket.async_read_some(boost::asio::buffer(read.buffer),
                           [&read](const boost::system::error_code& ec, size_t n) {
                             read.ec = ec;
                             read.bytes = n;
                             read.done = true;
                           });
    batch_->expectRead(socket, size);
  }
  bool runUntilRead(const std::vector<Read*>& reads) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    auto all = [&] {
      for (const Read* read : reads) {
        if (!read->done) {
          return false;
        }
      }
      return true;
    };
    while (!all() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(50ms);
    }
    return all();
  }
  // A connection whose `ours` side has an announced read of up to `size` bytes queued in the
  // reactor (nothing has arrived yet). Heap-allocated: the read's handler points into it.
  struct Reading {
    Pair pair;
    Read read;
  };
  std::unique_ptr<Reading> reading(size_t size) {
    auto r = std::make_unique<Reading>(Reading{connect(), {}});
    startRead(r->pair.ours, r->read, size);
    io_.poll(); // the read tries once and waits in the reactor
    return r;
  }
  // The peer sends `text`; true once it has arrived at `ours` (nothing takes it).
  static bool deliver(Pair& pair, std::string_view text) {
    boost::asio::write(pair.peer, boost::asio::buffer(text));
    return arrived(pair.ours, text.size());
  }
  // Cancels the pending reads (a closed socket's is cancelled already) and runs their aborted
  // completions.
  void abandon(std::initializer_list<Reading*> readings) {
    std::vector<Read*> reads;
    for (Reading* r : readings) {
      boost::system::error_code ignored;
      r->pair.ours.cancel(ignored);
      reads.push_back(&r->read);
    }
    ASSERT_TRUE(runUntilRead(reads));
  }
  // Everything readable on `socket` now, through recv() (which takes a slot first).
  static std::string takeAll(tcp::socket& socket) {
    std::string all;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(socket.native_handle(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) {
        return all;
      }
      all.append(buffer, static_cast<size_t>(n));
    }
  }

  // Waits until the kernel holds `size` bytes for `socket` (without taking them).
  static bool arrived(tcp::socket& socket, size_t size) {
    std::vector<char> peek(size);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = ::recv(socket.native_handle(), peek.data(), size, MSG_PEEK | MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(size)) {
        return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }
  // The pass an epoll_wait of the reactor's set that reported `sockets` readable would make.
  void passWithReady(std::initializer_list<tcp::socket*> sockets) {
    std::vector<epoll_event> events;
    for (tcp::socket* socket : sockets) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.ptr = const_cast<void*>(reactorState(*socket));
      events.push_back(event);
    }
    batch_->submitPass(reactorEpollDescriptor(io_), events.data(), static_cast<int>(events.size()));
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  tcp::acceptor acceptor_;
  std::unique_ptr<IoBatch> batch_;
  std::vector<Completion> completions_;
};

TEST_F(IoBatchTest, QueuedSendsLeaveAtTheNextWaitAndCompleteInQueueOrder) {
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

TEST_F(IoBatchTest, TheBytesAreThoseOfTheMomentOfQueueing) {
  Pair a = connect();
  std::string message = "GET / HTTP/1.1\r\n\r\n";
  const std::string original = message;
  std::array<boost::asio::const_buffer, 2> buffers{
      boost::asio::buffer(message.data(), 4),
      boost::asio::buffer(message.data() + 4, message.size() - 4)};
  ASSERT_TRUE(batch_->queue(a.ours.native_handle(), buffers, &IoBatchTest::record, this, 1));
  message.assign(message.size(), 'X'); // the caller reuses its buffer before the flush
  ASSERT_TRUE(runUntil(1));
  EXPECT_EQ(completions_[0].result, static_cast<ssize_t>(original.size()));
  EXPECT_EQ(receive(a.peer, original.size()), original);
}

TEST_F(IoBatchTest, ASocketClosedBeforeTheFlushSendsNothingEvenIfItsNumberIsReused) {
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

TEST_F(IoBatchTest, AFullSendBufferReportsWhatTheKernelTook) {
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
  const std::string message(IoBatch::kMaxBytes, 'm');
  ASSERT_TRUE(queue(a.ours, message, 3));
  ASSERT_TRUE(runUntil(1));
  const ssize_t result = completions_[0].result;
  EXPECT_TRUE(result == -EAGAIN || (result >= 0 && result < static_cast<ssize_t>(message.size())))
      << "result " << result << " after " << filled << " bytes";
}

TEST_F(IoBatchTest, MessagesAboveTheLimitAreLeftToTheCaller) {
  Pair a = connect();
  const std::string big(IoBatch::kMaxBytes + 1, 'b');
  EXPECT_FALSE(queue(a.ours, big, 1));
  EXPECT_FALSE(queue(a.ours, "", 2));
  io_.run_for(50ms);
  EXPECT_TRUE(completions_.empty());
  EXPECT_EQ(received(a.peer), "");
}

// Receives

TEST_F(IoBatchTest, SocketsReadyTogetherAreReceivedInOneBatchAndReadsGetTheirBytes) {
  auto a = reading(1024);
  auto b = reading(1024);
  const std::string_view headA = "GET /a HTTP/1.1\r\n\r\n";
  const std::string_view headB = "GET /b HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(deliver(a->pair, headA));
  ASSERT_TRUE(deliver(b->pair, headB));
  ASSERT_TRUE(runUntilRead({&a->read, &b->read}));
  EXPECT_FALSE(a->read.ec);
  EXPECT_FALSE(b->read.ec);
  EXPECT_EQ(a->read.text(), headA);
  EXPECT_EQ(b->read.text(), headB);
  EXPECT_EQ(batch_->received(), 2u) << "both reads should have come from one batch";
  EXPECT_FALSE(batch_->holdsReceived(a->pair.ours.native_handle()));
  EXPECT_FALSE(batch_->holdsReceived(b->pair.ours.native_handle()));
}

TEST_F(IoBatchTest, ASocketReadyAloneIsLeftToTheReactor) {
  auto a = reading(1024);
  ASSERT_TRUE(deliver(a->pair, "alone"));
  ASSERT_TRUE(runUntilRead({&a->read}));
  EXPECT_EQ(a->read.text(), "alone");
  EXPECT_EQ(batch_->received(), 0u);
}

TEST_F(IoBatchTest, AReadLargerThanASlotGetsEverythingTheKernelHeld) {
  auto a = reading(65536);
  auto b = reading(65536);
  const std::string big(40000, 'x'); // more than a slot (IoBatch::kMaxReceive)
  ASSERT_TRUE(deliver(a->pair, big));
  ASSERT_TRUE(deliver(b->pair, "small"));
  ASSERT_TRUE(runUntilRead({&a->read, &b->read}));
  // A read shorter than asked means the kernel's queue was drained (net/read_speculation.h):
  // the slot's 16 KiB must be followed by the rest.
  EXPECT_EQ(a->read.bytes, big.size());
  EXPECT_EQ(a->read.text(), big);
  EXPECT_EQ(b->read.text(), "small");
  EXPECT_EQ(batch_->received(), 2u);
}

TEST_F(IoBatchTest, ReceivedBytesAreTakenInOrderPeekLeavesThemAndEndOfStreamFollows) {
  auto a = reading(1024);
  auto b = reading(1024);
  a->pair.peer.write_some(boost::asio::buffer(std::string_view("hello world")));
  a->pair.peer.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(arrived(a->pair.ours, 11));
  ASSERT_TRUE(deliver(b->pair, "b"));
  passWithReady({&a->pair.ours, &b->pair.ours}); // what the epoll_wait reporting both would do
  abandon({a.get(), b.get()});                   // the recv() calls below are the readers now
  EXPECT_EQ(a->read.ec, boost::asio::error::operation_aborted);

  const int fd = a->pair.ours.native_handle();
  ASSERT_TRUE(batch_->holdsReceived(fd));
  char buffer[16] = {};
  EXPECT_EQ(::recv(fd, buffer, 5, MSG_PEEK), 5);
  EXPECT_EQ(std::string_view(buffer, 5), "hello");
  EXPECT_EQ(::recv(fd, buffer, 6, 0), 6);
  EXPECT_EQ(std::string_view(buffer, 6), "hello ");
  EXPECT_EQ(::recv(fd, buffer, sizeof buffer, 0), 5);
  EXPECT_EQ(std::string_view(buffer, 5), "world");
  EXPECT_FALSE(batch_->holdsReceived(fd));
  // The end of stream came after the bytes: the socket reports it itself.
  EXPECT_EQ(::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT), 0);
  EXPECT_EQ(takeAll(b->pair.ours), "b");
}

TEST_F(IoBatchTest, AnEndOfStreamOrErrorIsReceivedAsSuch) {
  auto a = reading(1024);
  auto b = reading(1024);
  a->pair.peer.shutdown(tcp::socket::shutdown_send);
  const linger reset{1, 0};
  ::setsockopt(b->pair.peer.native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  b->pair.peer.close(); // RST (loopback delivers the FIN and the RST before these calls return)
  ASSERT_TRUE(runUntilRead({&a->read, &b->read}));
  EXPECT_EQ(a->read.ec, boost::asio::error::eof);
  EXPECT_EQ(b->read.ec, boost::asio::error::connection_reset);
}

TEST_F(IoBatchTest, ClosingASocketDropsWhatWasReceivedForIt) {
  auto a = reading(1024);
  auto b = reading(1024);
  ASSERT_TRUE(deliver(a->pair, "stale bytes"));
  ASSERT_TRUE(deliver(b->pair, "b"));
  passWithReady({&a->pair.ours, &b->pair.ours});
  const int number = a->pair.ours.native_handle();
  ASSERT_TRUE(batch_->holdsReceived(number));
  a->pair.ours.close(); // close(2) on this thread
  EXPECT_FALSE(batch_->holdsReceived(number));
  abandon({a.get(), b.get()});

  // A new connection likely reuses the number: it reads only its own bytes.
  auto c = reading(1024);
  auto d = reading(1024);
  ASSERT_TRUE(deliver(c->pair, "fresh"));
  ASSERT_TRUE(deliver(d->pair, "d"));
  ASSERT_TRUE(runUntilRead({&c->read, &d->read}));
  const bool reused =
      c->pair.ours.native_handle() == number || d->pair.ours.native_handle() == number;
  EXPECT_EQ(c->read.text(), "fresh") << "descriptor " << number << " reused: " << reused;
  EXPECT_EQ(d->read.text(), "d");
  EXPECT_EQ(takeAll(b->pair.ours), "b");
}

TEST_F(IoBatchTest, APassSendsAndReceivesInOneSubmission) {
  auto a = reading(1024);
  Pair b = connect();
  ASSERT_TRUE(deliver(a->pair, "request"));
  ASSERT_TRUE(queue(b.ours, "response", 5));
  // One send and one receive: together they are worth a ring submission (either alone is not).
  passWithReady({&a->pair.ours});
  EXPECT_EQ(batch_->sent(), 1u);
  EXPECT_EQ(batch_->received(), 1u);
  EXPECT_TRUE(batch_->holdsReceived(a->pair.ours.native_handle()));
  EXPECT_EQ(receive(b.peer, 8), "response");
  ASSERT_TRUE(runUntil(1));
  EXPECT_EQ(completions_[0].tag, 5u);
  EXPECT_EQ(completions_[0].result, 8);
  abandon({a.get()});
  EXPECT_EQ(takeAll(a->pair.ours), "request");
}

TEST_F(IoBatchTest, EventsOfAnotherEpollSetAreIgnored) {
  auto a = reading(1024);
  auto b = reading(1024);
  ASSERT_TRUE(deliver(a->pair, "a"));
  ASSERT_TRUE(deliver(b->pair, "b"));
  epoll_event events[2] = {};
  events[0].events = events[1].events = EPOLLIN;
  events[0].data.ptr = const_cast<void*>(reactorState(a->pair.ours));
  events[1].data.ptr = const_cast<void*>(reactorState(b->pair.ours));
  batch_->submitPass(reactorEpollDescriptor(io_) + 1000, events, 2);
  EXPECT_FALSE(batch_->holdsReceived(a->pair.ours.native_handle()));
  ASSERT_TRUE(runUntilRead({&a->read, &b->read}));
  EXPECT_EQ(a->read.text(), "a");
  EXPECT_EQ(b->read.text(), "b");
}

} // namespace
} // namespace fulcrum::net
