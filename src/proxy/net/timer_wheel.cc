#include "proxy/net/timer_wheel.h"

#include <algorithm>
#include <bit>

namespace fulcrum::net {

Timer::~Timer() {
  unlink();
}

void Timer::unlink() {
  if (next_ != nullptr) {
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = nullptr;
    next_ = nullptr;
  }
}

TimerWheel::TimerWheel(boost::asio::io_context& io, const TimeSource& time,
                       std::chrono::milliseconds tick, size_t slots)
    : ticker_(io), time_(time), tick_(tick),
      tickNs_(std::chrono::duration_cast<MonotonicTime::duration>(tick).count()),
      slots_(std::bit_ceil(std::max<size_t>(slots, 1))), slotMask_(slots_.size() - 1) {
  for (Timer& sentinel : slots_) {
    sentinel.prev_ = &sentinel;
    sentinel.next_ = &sentinel;
  }
  epoch_ = time_.monotonicTime();
  now_ = epoch_;
}

TimerWheel::~TimerWheel() {
  // Detach whatever is still armed so that the Timers' destructors do not touch freed sentinels.
  for (Timer& sentinel : slots_) {
    while (sentinel.next_ != &sentinel) {
      sentinel.next_->unlink();
    }
    sentinel.prev_ = nullptr;
    sentinel.next_ = nullptr;
  }
}

uint64_t TimerWheel::tickOf(MonotonicTime t) const {
  if (t <= epoch_) {
    return 0;
  }
  // Round up: a timer is placed in the first tick at or after its deadline.
  const int64_t d = (t - epoch_).count();
  return static_cast<uint64_t>((d + tickNs_ - 1) / tickNs_);
}

void TimerWheel::link(Timer& timer, MonotonicTime deadline) {
  timer.unlink();
  timer.deadline_ = deadline;
  insert(timer, std::max(tickOf(deadline), lastTick_ + 1));
}

void TimerWheel::insert(Timer& timer, uint64_t tick) {
  Timer& head = slots_[tick & slotMask_];
  timer.prev_ = head.prev_;
  timer.next_ = &head;
  head.prev_->next_ = &timer;
  head.prev_ = &timer;
}

void TimerWheel::advance(MonotonicTime now) {
  now_ = now;
  // Slot t holds deadlines in ((t-1)*tick, t*tick]: all of them are due once now >= t*tick.
  const uint64_t target = now <= epoch_ ? 0 : static_cast<uint64_t>((now - epoch_) / tick_);
  uint64_t from = lastTick_ + 1;
  if (target + 1 > from + slots_.size()) {
    from = target + 1 - slots_.size(); // lagged more than a revolution: visit each slot once
  }
  Timer expired;
  expired.prev_ = &expired;
  expired.next_ = &expired;
  for (uint64_t t = from; t <= target; ++t) {
    Timer& head = slots_[t & slotMask_];
    for (Timer* e = head.next_; e != &head;) {
      Timer* next = e->next_;
      if (e->deadline_ <= now) {
        e->unlink();
        e->prev_ = expired.prev_;
        e->next_ = &expired;
        expired.prev_->next_ = e;
        expired.prev_ = e;
      } else if (const uint64_t due = std::max(tickOf(e->deadline_), target + 1);
                 (due & slotMask_) != (t & slotMask_)) {
        // Moved later by arm() after it was linked here: on to the slot of its deadline (a
        // later one than every slot this loop visits before it, or one it revisits harmlessly).
        e->unlink();
        insert(*e, due);
      }
      e = next;
    }
  }
  if (target > lastTick_) {
    lastTick_ = target;
  }
  // Callbacks may arm or disarm any timer, including others on the expired list.
  while (expired.next_ != &expired) {
    Timer* e = expired.next_;
    e->unlink();
    if (e->callback_ != nullptr) {
      e->callback_(e->context_);
    }
  }
  expired.prev_ = nullptr;
  expired.next_ = nullptr;
}

void TimerWheel::start() {
  running_ = true;
  now_ = time_.monotonicTime();
  scheduleTick();
}

void TimerWheel::stop() {
  running_ = false;
  ticker_.cancel();
}

void TimerWheel::scheduleTick() {
  ticker_.expires_after(tick_);
  ticker_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) {
      return;
    }
    advance(time_.monotonicTime());
    scheduleTick();
  });
}

} // namespace fulcrum::net
