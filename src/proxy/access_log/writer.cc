#include "proxy/access_log/writer.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fulcrum::access_log {

namespace {

Result<int> openPath(const std::string& path) {
  if (path == "-") {
    return STDOUT_FILENO;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{"access log " + path + ": " + std::strerror(errno)};
  }
  return fd;
}

} // namespace

Result<std::unique_ptr<AccessLogWriter>> AccessLogWriter::open(AccessLogOptions options,
                                                               size_t workers, Note note) {
  auto fd = openPath(options.path);
  if (!fd) {
    return fd.error();
  }
  return std::unique_ptr<AccessLogWriter>(
      new AccessLogWriter(std::move(options), fd.value(), workers, std::move(note)));
}

AccessLogWriter::AccessLogWriter(AccessLogOptions options, int fd, size_t workers, Note note)
    : options_(std::move(options)), fd_(fd), note_(std::move(note)) {
  rings_.reserve(workers);
  for (size_t i = 0; i < workers; ++i) {
    rings_.push_back(std::make_unique<SpscByteRing>(options_.ringBytes));
  }
}

AccessLogWriter::~AccessLogWriter() {
  stop();
}

void AccessLogWriter::start() {
  thread_ = std::thread([this] { run(); });
  (void)::pthread_setname_np(thread_.native_handle(), "access-log");
}

void AccessLogWriter::stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) {
    thread_.join();
  }
  if (fd_ >= 0) {
    drainOnce();
    if (fd_ != STDOUT_FILENO) {
      ::close(fd_);
    }
    fd_ = -1;
  }
}

uint64_t AccessLogWriter::linesDropped() const {
  uint64_t n = 0;
  for (const auto& ring : rings_) {
    n += ring->dropped();
  }
  return n;
}

void AccessLogWriter::run() {
  while (!stop_.load(std::memory_order_acquire)) {
    if (reopen_.exchange(false, std::memory_order_acq_rel)) {
      reopen();
    }
    if (drainOnce() == 0) {
      std::this_thread::sleep_for(options_.idleSleep);
    }
  }
}

void AccessLogWriter::reopen() {
  // Lines already taken from the rings went to the old file; everything after goes to the new.
  drainOnce();
  auto fd = openPath(options_.path);
  if (!fd) {
    ++writeErrors_;
    if (note_) {
      note_(fd.error().message + " (reopen failed; still writing to the old file)");
    }
    return;
  }
  if (fd_ >= 0 && fd_ != STDOUT_FILENO && fd_ != fd.value()) {
    ::close(fd_);
  }
  fd_ = fd.value();
  reopens_.fetch_add(1, std::memory_order_relaxed);
  failing_ = false;
  if (note_) {
    note_("access log reopened " + options_.path);
  }
}

size_t AccessLogWriter::drainOnce() {
  size_t total = 0;
  for (auto& ring : rings_) {
    std::string_view a;
    std::string_view b;
    const size_t n = ring->peek(a, b);
    if (n == 0) {
      continue;
    }
    writeAll(a, b);
    // Written or not (a failing disk), the bytes are released: the workers must not wait.
    ring->consume(n);
    total += n;
  }
  return total;
}

bool AccessLogWriter::writeAll(std::string_view a, std::string_view b) {
  iovec iov[2] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
  int first = 0;
  const int count = b.empty() ? 1 : 2;
  while (first < count) {
    const ssize_t n = ::writev(fd_, iov + first, count - first);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      writeErrors_.fetch_add(1, std::memory_order_relaxed);
      if (!failing_ && note_) {
        note_("access log " + options_.path + ": write failed: " + std::strerror(errno) +
              " (lines are dropped until writing works again)");
      }
      failing_ = true;
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  failing_ = false;
  return true;
}

} // namespace fulcrum::access_log
