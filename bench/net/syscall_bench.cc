// The kernel entry as a cost of its own (issue 8, target 1).
//
// Every request through a proxy costs at least four socket syscalls (read the request, write it
// upstream, read the response, write it downstream) plus a share of epoll_wait. On a guest whose
// syscalls trap through the hypervisor (page-table isolation, a paravirtualised VM) the entry and
// exit alone can cost about a microsecond, as much as the TCP work of a small send. These
// benchmarks separate the two:
//   BM_NullSyscall      getppid(): entry and exit only.
//   BM_SendEach/N       N small sends to N loopback connections, one sendto() each.
//   BM_SendBatched/N    the same N sends as io_uring SQEs, submitted with one io_uring_enter().
//   BM_RecvEach/N       N small receives from N loopback connections, one recvfrom() each.
//   BM_RecvBatched/N    the same N receives as io_uring SQEs in one io_uring_enter().
// Only the send (receive) phase is timed (manual time); the other ends are drained (filled)
// untimed, so both variants leave the sockets in the same state. Loopback only; every socket is
// closed at the end.

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <vector>

#include <benchmark/benchmark.h>

namespace {

constexpr size_t kMessage = 100; // a small response head's size

// N connected loopback TCP pairs (writer `out[i]` → reader `in[i]`), closed on destruction.
class Pairs {
public:
  explicit Pairs(int count) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::listen(listener, count) != 0) {
      std::abort();
    }
    for (int i = 0; i < count; ++i) {
      const int out = ::socket(AF_INET, SOCK_STREAM, 0);
      if (out < 0 || ::connect(out, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        std::abort();
      }
      const int one = 1;
      ::setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      out_.push_back(out);
      in_.push_back(::accept(listener, nullptr, nullptr));
    }
    ::close(listener);
  }
  Pairs(const Pairs&) = delete;
  Pairs& operator=(const Pairs&) = delete;
  ~Pairs() {
    for (const int fd : out_) {
      ::close(fd);
    }
    for (const int fd : in_) {
      ::close(fd);
    }
  }
  int out(size_t i) const { return out_[i]; }
  int in(size_t i) const { return in_[i]; }
  // One message on every reader, waiting in its receive queue.
  void fill() {
    const std::array<char, kMessage> message{};
    for (const int fd : out_) {
      ::send(fd, message.data(), message.size(), MSG_NOSIGNAL);
    }
  }
  void drain() {
    std::array<char, 4096> buffer{};
    for (const int fd : in_) {
      ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    }
  }

private:
  std::vector<int> out_;
  std::vector<int> in_;
};

using Clock = std::chrono::steady_clock;

// A 64-entry io_uring for one benchmark, exited with it. When the kernel refuses one (io_uring
// disabled), the benchmark is skipped with the reason and ok() is false.
class Ring {
public:
  explicit Ring(benchmark::State& state) : ok_(::io_uring_queue_init(64, &ring_, 0) == 0) {
    if (!ok_) {
      state.SkipWithError("io_uring_queue_init failed (io_uring disabled?)");
    }
  }
  ~Ring() {
    if (ok_) {
      ::io_uring_queue_exit(&ring_);
    }
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  bool ok() const { return ok_; }
  io_uring& get() { return ring_; }

private:
  io_uring ring_{}; // before ok_: the constructor initializes it first
  bool ok_;
};

// Submits the `count` prepared SQEs and consumes their completions; false unless every one moved
// a whole message.
bool submitAndReap(io_uring& ring, int count) {
  ::io_uring_submit(&ring);
  bool whole = true;
  for (int done = 0; done < count; ++done) {
    io_uring_cqe* cqe = nullptr;
    if (::io_uring_peek_cqe(&ring, &cqe) != 0 && ::io_uring_wait_cqe(&ring, &cqe) != 0) {
      return false;
    }
    whole = whole && cqe->res == static_cast<int>(kMessage);
    ::io_uring_cqe_seen(&ring, cqe);
  }
  return whole;
}

void BM_NullSyscall(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(::syscall(SYS_getppid));
  }
}
BENCHMARK(BM_NullSyscall);

void BM_SendEach(benchmark::State& state) {
  const auto count = static_cast<int>(state.range(0));
  Pairs pairs(count);
  const std::array<char, kMessage> message{};
  for (auto _ : state) {
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
      benchmark::DoNotOptimize(::syscall(SYS_sendto, pairs.out(i), message.data(), message.size(),
                                         MSG_DONTWAIT | MSG_NOSIGNAL, nullptr, 0));
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    pairs.drain();
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_SendEach)->Arg(1)->Arg(4)->Arg(8)->UseManualTime();

void BM_SendBatched(benchmark::State& state) {
  const auto count = static_cast<int>(state.range(0));
  Pairs pairs(count);
  Ring ring(state);
  if (!ring.ok()) {
    return;
  }
  const std::array<char, kMessage> message{};
  for (auto _ : state) {
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring.get());
      ::io_uring_prep_send(sqe, pairs.out(i), message.data(), message.size(),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (!submitAndReap(ring.get(), count)) {
      state.SkipWithError("short or failed send");
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    pairs.drain();
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_SendBatched)->Arg(1)->Arg(4)->Arg(8)->UseManualTime();

void BM_RecvEach(benchmark::State& state) {
  const auto count = static_cast<int>(state.range(0));
  Pairs pairs(count);
  std::array<char, 4096> buffer{};
  for (auto _ : state) {
    pairs.fill();
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
      const long n = ::syscall(SYS_recvfrom, pairs.in(i), buffer.data(), buffer.size(),
                               MSG_DONTWAIT, nullptr, nullptr);
      if (n != static_cast<long>(kMessage)) {
        state.SkipWithError("short or failed receive");
      }
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_RecvEach)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->UseManualTime();

void BM_RecvBatched(benchmark::State& state) {
  const auto count = static_cast<int>(state.range(0));
  Pairs pairs(count);
  Ring ring(state);
  if (!ring.ok()) {
    return;
  }
  std::vector<std::array<char, 4096>> buffers(static_cast<size_t>(count));
  for (auto _ : state) {
    pairs.fill();
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring.get());
      ::io_uring_prep_recv(sqe, pairs.in(i), buffers[i].data(), buffers[i].size(), MSG_DONTWAIT);
    }
    if (!submitAndReap(ring.get(), count)) {
      state.SkipWithError("short or failed receive");
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_RecvBatched)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->UseManualTime();

} // namespace
