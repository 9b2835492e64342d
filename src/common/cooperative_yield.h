#pragma once

// Cooperative yield points for long CPU work on a thread that shares a core with latency-critical
// threads.
//
// fulcrum-proxy's main thread loads and compiles config revisions (10-20 ms each for a 10k-route
// config) on the CPUs its workers run on. Once that thread is running, a worker woken by a
// request does not preempt it: with this kernel's scheduler (EEVDF, PREEMPT_NONE, HZ=250) the
// running thread keeps the CPU until the next tick, up to 4 ms, and that wait lands in the
// request's latency. Loops of such work call yieldPoint() (per route, per table slot); every
// kStride calls it reads the clock, and once the thread has run `quantum` since its last yield it
// calls sched_yield(), which lets a runnable worker on the same CPU go first (EEVDF moves the
// yielding thread's deadline back). When nothing else is runnable sched_yield() returns at once.
// This is not a priority: unlike SCHED_IDLE it cannot starve the thread (the scheduler's
// fairness still gives it its share).
//
// Thread-safety: the state is per thread (thread_local); a thread enables its own yield points.
// Disabled by default, so code shared with tools and tests runs as before. yieldsTotal() is
// process-wide (relaxed atomic, for /metrics).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/time_source.h"

namespace fulcrum {

class CooperativeYield {
public:
  // Calls between two clock reads. A yield point costs a decrement and a branch otherwise.
  static constexpr uint32_t kStride = 32;

  // Enables yield points on the calling thread: yield once the thread has run `quantum` since
  // its last yield. `time` must outlive the thread's use of yield points. A zero quantum
  // disables them.
  static void enable(std::chrono::nanoseconds quantum, const TimeSource& time);
  static void disable();

  // Starts the calling thread's quantum now (work begins after the thread slept).
  static void restart();

  // Yields times, all threads together.
  static uint64_t yieldsTotal() { return yields_.load(std::memory_order_relaxed); }

private:
  friend void yieldPoint(uint32_t weight);
  struct State {
    uint32_t countdown = 0; // 0 = disabled: the fast path's test never reaches zero again
    std::chrono::nanoseconds quantum{0};
    MonotonicTime since{};
    const TimeSource* time = nullptr;
  };
  static void slowPath();

  static thread_local State state_;
  static std::atomic<uint64_t> yields_;
};

// A yield point (see CooperativeYield). Any thread; a no-op unless enabled on this one.
// `weight`: how many plain points it counts for. A loop whose every iteration is heavy (a 64 KiB
// read or copy) passes CooperativeYield::kStride, so that each iteration reads the clock.
inline void yieldPoint(uint32_t weight = 1) {
  auto& state = CooperativeYield::state_;
  if (state.countdown > weight) {
    state.countdown -= weight;
    return;
  }
  if (state.countdown != 0) {
    CooperativeYield::slowPath();
  }
}

// `n` value-initialized elements, constructed one by one after a yield point each. A table of
// megabytes is fresh pages, faulted in as it is written; std::vector<T>(n) would do all of that
// in one call, without a point.
template <class T> std::vector<T> vectorWithYieldPoints(size_t n) {
  std::vector<T> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    yieldPoint();
    out.emplace_back();
  }
  return out;
}

} // namespace fulcrum
