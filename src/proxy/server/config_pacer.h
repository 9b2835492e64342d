#pragma once

// ConfigPacer: keeps config work to a share of one core while revisions keep coming.
//
// Loading, validating and compiling a revision is CPU the main thread takes from the machine the
// workers run on; a 10k-route revision costs 100+ ms. A source that changes ten times a second
// (a generator, a busy GitOps pipeline) would otherwise keep a core's tenth or more busy with
// revisions that the next one replaces anyway. The pacer is a debt meter: every unit of config
// work adds its CPU time (measured on the thread, not wall time) to a debt that is paid back at
// `budget` CPU-seconds per second. Work submitted while the debt is zero runs at once, so an
// isolated change applies with no delay; work submitted while it is not waits until it is, and
// of the work that waits only the newest is kept (each revision supersedes the one before).
// Under steady churn the newest revision is applied every cost/budget seconds (a 150 ms revision
// at 5 %: every 3 s), and config work stays at `budget` of one core.
//
// Threading: main thread only (submit, runNow, charge, cancel and the timer's handler).
// Time and the CPU clock are injected (tests).

#include <chrono>
#include <cstdint>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/time_source.h"

namespace fulcrum::server {

class ConfigPacer {
public:
  using CpuClock = std::function<std::chrono::nanoseconds()>;

  // CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
  static std::chrono::nanoseconds threadCpuTime();

  // `budget`: CPU-seconds of config work per second, in (0, 1]; 1 = unpaced (work never waits).
  ConfigPacer(boost::asio::io_context& io, const TimeSource& time, double budget,
              CpuClock cpu = &ConfigPacer::threadCpuTime);

  // Runs `work` now if nothing is owed, else once the debt is paid back; a later submit() before
  // that replaces it. Charges the CPU time `work` used.
  void submit(std::function<void()> work);
  // Runs `work` now whatever is owed (start-up, SIGHUP: an operator asked for it) and charges it.
  // A waiting submit() stays scheduled.
  void runNow(const std::function<void()>& work);
  // Adds CPU time spent on config work elsewhere (freeing replaced snapshots).
  void charge(std::chrono::nanoseconds cpu);
  // Drops the waiting work, if any (the source stops).
  void cancel();

  // How long work submitted now would wait.
  std::chrono::nanoseconds delay() const;
  bool waiting() const { return static_cast<bool>(waiting_); }

  // For /metrics: config work so far, and how often work had to wait / was replaced while waiting.
  std::chrono::nanoseconds cpuSpent() const { return spent_; }
  uint64_t deferred() const { return deferred_; }
  uint64_t superseded() const { return superseded_; }

private:
  // Pays back what the time since the last update allows.
  void settle() const;
  void arm();
  void fire();

  const TimeSource& time_;
  double budget_;
  CpuClock cpu_;
  boost::asio::steady_timer timer_;
  mutable std::chrono::nanoseconds debt_{0};
  mutable MonotonicTime settledAt_;
  std::function<void()> waiting_; // the newest work that waits for the debt
  uint64_t armed_ = 0;            // generation of the armed timer (a stale expiry is ignored)
  std::chrono::nanoseconds spent_{0};
  uint64_t deferred_ = 0;
  uint64_t superseded_ = 0;
};

} // namespace fulcrum::server
