#pragma once

// AccessLogWriter: the one thread that writes access-log lines to the file, off the request path.
//
// Each worker formats its lines itself and pushes them into its own SpscByteRing (ring(i)); the
// writer thread drains every ring with write(2) and sleeps a few milliseconds when there was
// nothing to write. A slow or full disk therefore slows only the writer: a worker's ring fills up,
// further lines are refused and counted by the worker (fulcrum_access_log_lines_dropped_total),
// and the worker never waits. Lines from one worker stay in order; lines of different workers
// interleave line by line.
//
// Rotation: requestReopen() (SIGUSR1 on the main thread) makes the writer reopen the path at its
// next turn; what the rings hold then goes to the new file. The writer reports each reopen and
// each write error (once until writing works again) through the `note` callback, from its thread.
//
// Threading: construct, start(), requestReopen() and stop() on the main thread; ring(i)'s
// producer side on worker i. stop() must run after the workers have stopped pushing.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "proxy/access_log/formatter.h"
#include "proxy/access_log/spsc_ring.h"

namespace fulcrum::access_log {

struct AccessLogOptions {
  std::string path; // "-" = standard output
  Format format = Format::Json;
  double sampleRatio = 1.0;   // fraction of requests logged, 0..1
  size_t ringBytes = 4 << 20; // per worker
  std::chrono::milliseconds idleSleep{10};
};

class AccessLogWriter {
public:
  using Note = std::function<void(const std::string&)>;

  // Opens the file (append, create 0644). Fails with the path and errno text.
  static Result<std::unique_ptr<AccessLogWriter>> open(AccessLogOptions options, size_t workers,
                                                       Note note);
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;
  ~AccessLogWriter(); // stop()s

  const AccessLogOptions& options() const { return options_; }
  SpscByteRing& ring(size_t worker) { return *rings_[worker]; }

  void start();
  void requestReopen() { reopen_.store(true, std::memory_order_release); }
  // Writes what the rings still hold, closes the file, ends the thread.
  void stop();

  // Any thread.
  uint64_t linesDropped() const;
  uint64_t writeErrors() const { return writeErrors_.load(std::memory_order_relaxed); }
  uint64_t reopens() const { return reopens_.load(std::memory_order_relaxed); }

  // Writer thread (public for tests): one pass over every ring; returns bytes written.
  size_t drainOnce();

private:
  AccessLogWriter(AccessLogOptions options, int fd, size_t workers, Note note);
  void run();
  void reopen();
  bool writeAll(std::string_view a, std::string_view b);

  AccessLogOptions options_;
  int fd_ = -1;
  Note note_;
  std::vector<std::unique_ptr<SpscByteRing>> rings_;
  std::atomic<bool> reopen_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> writeErrors_{0};
  std::atomic<uint64_t> reopens_{0};
  bool failing_ = false; // writer thread: the last write failed (report once)
  std::thread thread_;
};

// Whether a request is logged: a uniform draw `random` (a worker's RNG) against the ratio.
inline uint64_t sampleThreshold(double ratio) {
  if (ratio >= 1.0) {
    return UINT64_MAX;
  }
  if (ratio <= 0.0) {
    return 0;
  }
  return static_cast<uint64_t>(ratio * 18446744073709551616.0);
}
inline bool sampled(uint64_t threshold, uint64_t random) {
  return threshold == UINT64_MAX || random < threshold;
}

} // namespace fulcrum::access_log
