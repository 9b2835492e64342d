// Cooperative yield points (see cooperative_yield.h).

#include "common/cooperative_yield.h"

#include <sys/prctl.h>

#include <ctime>

namespace fulcrum {

thread_local CooperativeYield::State CooperativeYield::state_;
std::atomic<uint64_t> CooperativeYield::yields_{0};

void CooperativeYield::enable(std::chrono::nanoseconds quantum, const TimeSource& time) {
  if (quantum <= std::chrono::nanoseconds(0)) {
    disable();
    return;
  }
  // A nap's length is mostly the thread's timer slack (50 µs by default; a nap then took ~110 µs
  // on the benchmark VM, 18 µs with 1 µs of slack). It delays config work when nothing waits.
  (void)::prctl(PR_SET_TIMERSLACK, kNapSlackNs, 0, 0, 0);
  state_.quantum = quantum;
  state_.time = &time;
  state_.since = time.monotonicTime();
  state_.countdown = kStride;
}

void CooperativeYield::disable() {
  if (state_.time != nullptr) {
    (void)::prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0); // the default slack again
  }
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
  // not yet eligible, while a sleeping thread is not runnable at all. Costs wall time only (about
  // the timer slack enable() set), never CPU.
  static constexpr timespec kNap{0, 1000};
  ::nanosleep(&kNap, nullptr);
  yields_.fetch_add(1, std::memory_order_relaxed);
  state_.since = state_.time->monotonicTime();
}

} // namespace fulcrum
