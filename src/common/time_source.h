#pragma once

// TimeSource: the only way components read the clock, so that tests can inject time.

#include <chrono>

namespace fulcrum {

using MonotonicTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

class TimeSource {
public:
  virtual ~TimeSource() = default;
  virtual MonotonicTime monotonicTime() const = 0;
  virtual SystemTime systemTime() const = 0;
};

// The real clock. Thread-safe; one process-wide instance is enough.
class RealTimeSource final : public TimeSource {
public:
  MonotonicTime monotonicTime() const override { return std::chrono::steady_clock::now(); }
  SystemTime systemTime() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told (tests, benchmarks): `now += 5s`. Single-threaded: read and
// moved on one thread.
class ManualTimeSource final : public TimeSource {
public:
  MonotonicTime monotonicTime() const override { return now; }
  SystemTime systemTime() const override { return wall; }

  MonotonicTime now{std::chrono::seconds(1000)};
  SystemTime wall{};
};

} // namespace fulcrum
