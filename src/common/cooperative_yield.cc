// Cooperative yield points (see cooperative_yield.h).

#include "common/cooperative_yield.h"

#include <sched.h>

namespace fulcrum {

thread_local CooperativeYield::State CooperativeYield::state_;
std::atomic<uint64_t> CooperativeYield::yields_{0};

void CooperativeYield::enable(std::chrono::nanoseconds quantum, const TimeSource& time) {
  if (quantum <= std::chrono::nanoseconds(0)) {
    disable();
    return;
  }
  state_.quantum = quantum;
  state_.time = &time;
  state_.since = time.monotonicTime();
  state_.countdown = kStride;
}

void CooperativeYield::disable() {
  state_ = State{};
}

void CooperativeYield::restart() {
  if (state_.time != nullptr) {
    state_.since = state_.time->monotonicTime();
    state_.countdown = kStride;
  }
}

void CooperativeYield::slowPath() {
  state_.countdown = kStride;
  if (state_.time->monotonicTime() - state_.since < state_.quantum) {
    return;
  }
  // sched_yield(), not a short sleep: a sleeping thread is surely not picked, but alternated
  // churn runs gave no better p99 with a 1 µs nanosleep, and a nap costs 13-100 µs of wall time
  // even when nothing waits (ADR 0018). sched_yield() returns at once then.
  ::sched_yield();
  yields_.fetch_add(1, std::memory_order_relaxed);
  state_.since = state_.time->monotonicTime();
}

} // namespace fulcrum
