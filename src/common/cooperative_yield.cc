// Cooperative yield points (see cooperative_yield.h).

#include "common/cooperative_yield.h"

#include <ctime>

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
  // A nap, not sched_yield(): EEVDF may pick a yielding thread again when the waiting worker is
  // not yet eligible, while a sleeping thread is not runnable at all. Costs wall time only (the
  // timer slack, ~50 µs), never CPU.
  static constexpr timespec kNap{0, 1000};
  ::nanosleep(&kNap, nullptr);
  yields_.fetch_add(1, std::memory_order_relaxed);
  state_.since = state_.time->monotonicTime();
}

} // namespace fulcrum
