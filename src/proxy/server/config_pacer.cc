#include "proxy/server/config_pacer.h"

#include <ctime>

#include <algorithm>
#include <utility>

#include "common/cooperative_yield.h"

namespace fulcrum::server {

std::chrono::nanoseconds ConfigPacer::threadCpuTime() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

ConfigPacer::ConfigPacer(boost::asio::io_context& io, const TimeSource& time, double budget,
                         CpuClock cpu)
    : time_(time), budget_(std::clamp(budget, 0.001, 1.0)), cpu_(std::move(cpu)), timer_(io),
      settledAt_(time.monotonicTime()) {}

void ConfigPacer::settle() const {
  const MonotonicTime now = time_.monotonicTime();
  if (now > settledAt_) {
    const auto paid =
        std::chrono::round<std::chrono::nanoseconds>(std::chrono::duration<double, std::nano>(
            static_cast<double>((now - settledAt_).count()) * budget_));
    debt_ = std::max(std::chrono::nanoseconds(0), debt_ - paid);
    settledAt_ = now;
  }
}

std::chrono::nanoseconds ConfigPacer::delay() const {
  if (budget_ >= 1.0) {
    return std::chrono::nanoseconds(0);
  }
  settle();
  return std::chrono::round<std::chrono::nanoseconds>(
      std::chrono::duration<double, std::nano>(static_cast<double>(debt_.count()) / budget_));
}

void ConfigPacer::charge(std::chrono::nanoseconds cpu) {
  if (cpu <= std::chrono::nanoseconds(0)) {
    return;
  }
  settle();
  debt_ += cpu;
  spent_ += cpu;
}

void ConfigPacer::runNow(const std::function<void()>& work) {
  const auto before = cpu_();
  CooperativeYield::restart(); // the thread's run starts here, not at its last yield
  work();
  charge(cpu_() - before);
}

void ConfigPacer::submit(std::function<void()> work) {
  if (waiting_) {
    waiting_ = std::move(work); // the timer is armed for the debt; the newest work takes the turn
    ++superseded_;
    return;
  }
  if (delay() == std::chrono::nanoseconds(0)) {
    runNow(work);
    return;
  }
  waiting_ = std::move(work);
  ++deferred_;
  arm();
}

void ConfigPacer::arm() {
  const uint64_t generation = ++armed_;
  timer_.expires_after(delay());
  timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (!ec && generation == armed_) {
      fire();
    }
  });
}

void ConfigPacer::fire() {
  if (!waiting_) {
    return;
  }
  if (delay() > std::chrono::nanoseconds(0)) {
    arm(); // runNow() added debt meanwhile
    return;
  }
  auto work = std::move(waiting_);
  waiting_ = nullptr;
  runNow(work);
}

void ConfigPacer::cancel() {
  waiting_ = nullptr;
  ++armed_;
  timer_.cancel();
}

} // namespace fulcrum::server
