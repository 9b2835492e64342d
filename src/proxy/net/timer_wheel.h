#pragma once

// TimerWheel: a per-worker hashed timing wheel with a coarse clock, so that connections can set,
// move and cancel deadlines on every request without a syscall or an allocation (one steady_timer
// ticks for the whole worker).
//
// Resolution is one tick: a timer fires within [deadline, deadline + tick). now() is the time of
// the last tick, so deadlines computed from it are at most one tick early: fine for timeouts of
// tens of milliseconds and more, which is all the data plane uses.
//
// Cost: a session re-arms its one timer about five times per request, mostly to a later
// deadline (head timeout -> stream idle -> ...). Moving a timer later only writes its deadline:
// it stays in the slot of the earlier one, and when the wheel reaches that slot it moves the
// timer to the slot of its current deadline instead of firing it. Moving it earlier (or arming
// a disarmed timer) links it into its slot, O(1). The slot count is a power of two.
//
// Threading: one wheel per worker; arm/disarm/now only on that worker's thread. A Timer must be
// disarmed (or destroyed, which disarms) before its owner goes away; callbacks run on the worker.

#include <chrono>
#include <cstdint>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/time_source.h"

namespace fulcrum::net {

class TimerWheel;

class Timer {
public:
  using Callback = void (*)(void* context);

  Timer() = default;
  Timer(Callback callback, void* context) : callback_(callback), context_(context) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();

  void bind(Callback callback, void* context) {
    callback_ = callback;
    context_ = context;
  }
  bool armed() const { return next_ != nullptr; }
  MonotonicTime deadline() const { return deadline_; }

private:
  friend class TimerWheel;
  void unlink();

  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  MonotonicTime deadline_{};
  Callback callback_ = nullptr;
  void* context_ = nullptr;
};

class TimerWheel {
public:
  TimerWheel(boost::asio::io_context& io, const TimeSource& time, std::chrono::milliseconds tick,
             size_t slots = 1024);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  ~TimerWheel();

  // Starts ticking (after construction, on the worker thread). stop() cancels the tick timer.
  void start();
  void stop();

  MonotonicTime now() const { return now_; }
  // Reads the clock again (call after a long blocking section; not needed on the request path).
  void refreshNow() { now_ = time_.monotonicTime(); }

  // (Re)arms `timer` to fire at `deadline`. Moving an armed timer is O(1); moving it later is a
  // store.
  void arm(Timer& timer, MonotonicTime deadline) {
    if (timer.armed() && deadline >= timer.deadline_) {
      timer.deadline_ = deadline;
      return;
    }
    link(timer, deadline);
  }
  void armAfter(Timer& timer, std::chrono::milliseconds delay) { arm(timer, now_ + delay); }
  static void disarm(Timer& timer) { timer.unlink(); }

  // Advances the wheel to `now` and fires what expired. Called by the tick timer; public for tests.
  void advance(MonotonicTime now);

private:
  void scheduleTick();
  uint64_t tickOf(MonotonicTime t) const;
  void link(Timer& timer, MonotonicTime deadline);
  void insert(Timer& timer, uint64_t tick);

  boost::asio::steady_timer ticker_;
  const TimeSource& time_;
  std::chrono::milliseconds tick_;
  int64_t tickNs_;           // tick_ in the clock's unit
  std::vector<Timer> slots_; // sentinels of circular lists; size a power of two
  uint64_t slotMask_;
  MonotonicTime epoch_;
  MonotonicTime now_;
  uint64_t lastTick_ = 0;
  bool running_ = false;
};

} // namespace fulcrum::net
