#pragma once

// Pure resilience policy: retry conditions, backoff, the retry budget, outlier ejection times and
// the active health check's threshold state machine. No I/O, no clock, no randomness of its own:
// callers pass time and random numbers in, so every rule here is unit-tested with exact values.
//
// Threading: plain values and functions; each object is owned by one thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.h"

namespace fulcrum::health {

// What made a try fail, as far as retry conditions and outlier detection care.
enum class TryFailure : uint8_t {
  ConnectFailure, // connect refused or timed out: nothing was sent
  Reset,          // the upstream closed or reset before a complete response head
  Timeout,        // no response head within the per-try timeout
  Status,         // a final response head whose status matched a retry condition
};

// A rule's `retry.on` list, decoded once per use (the list is short and only read on failure or
// on a 4xx/5xx head).
struct RetryConditions {
  bool connectFailure = false;
  bool reset = false;
  bool timeout = false;
  bool any5xx = false;
  bool gatewayError = false; // 502, 503, 504 (and connect failure, reset, timeout)
  std::vector<uint16_t> statuses;

  static RetryConditions parse(const std::vector<std::string>& on);
  bool matches(TryFailure failure) const;
  bool matchesStatus(uint16_t status) const;
};

// GET HEAD OPTIONS TRACE PUT DELETE (RFC 9110 §9.2.2).
bool isIdempotent(std::string_view method);

// The delay before retry number `retry` (1 = the first retry): "full jitter" over an exponential
// ceiling, min(max, base * 2^(retry-1)) * random01, with random01 in [0, 1). Never above `max`.
std::chrono::milliseconds retryBackoff(uint32_t retry, std::chrono::milliseconds base,
                                       std::chrono::milliseconds max, double random01);

// Retry budget: the retries in flight in a pool (on one worker) may reach
// max(kMinRetryBudget, budgetPercent% of the pool's active requests). True when one more fits.
inline constexpr uint32_t kMinRetryBudget = 3;
bool retryBudgetAllows(uint64_t retriesInFlight, uint64_t activeRequests, uint32_t budgetPercent);

// Outlier ejection: the n-th ejection (timesEjected counts this one, >= 1) lasts
// base * n, capped at max.
std::chrono::milliseconds ejectionTime(uint32_t timesEjected, std::chrono::milliseconds base,
                                       std::chrono::milliseconds max);

// Whether one more endpoint of a pool of `poolSize` may be ejected while `ejected` already are:
// the result may not exceed maxEjectionPercent% of the pool, but one ejection is always allowed
// in a pool of two or more when the percentage is above 0 (else a small pool could never eject).
bool ejectionAllowed(size_t ejected, size_t poolSize, uint32_t maxEjectionPercent);

// Panic: when fewer than panicThresholdPercent% of a pool's endpoints are healthy, the pool
// balances over all of them (health and ejection are ignored) rather than overload the few left.
bool inPanic(size_t healthy, size_t poolSize, uint32_t panicThresholdPercent);

// Active health state of one endpoint: consecutive probe results against the thresholds.
enum class HealthState : uint8_t { Unknown, Healthy, Unhealthy };
std::string_view toString(HealthState state);

class HealthTracker {
public:
  // `startHealthy`: an endpoint new to the config takes traffic before its first probe.
  HealthTracker(uint32_t healthyThreshold, uint32_t unhealthyThreshold, bool startHealthy)
      : healthyThreshold_(healthyThreshold), unhealthyThreshold_(unhealthyThreshold),
        state_(startHealthy ? HealthState::Healthy : HealthState::Unknown) {}

  // Records one probe; returns true when the state changed.
  bool record(bool success);
  void setThresholds(uint32_t healthy, uint32_t unhealthy) {
    healthyThreshold_ = healthy;
    unhealthyThreshold_ = unhealthy;
  }
  HealthState state() const { return state_; }
  // Unknown counts as not eligible: it takes traffic only once it passed healthyThreshold probes.
  bool eligible() const { return state_ == HealthState::Healthy; }
  uint32_t consecutiveSuccesses() const { return successes_; }
  uint32_t consecutiveFailures() const { return failures_; }

private:
  uint32_t healthyThreshold_;
  uint32_t unhealthyThreshold_;
  HealthState state_;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
};

// A probe interval with jitter: interval +- jitterPercent% * interval, random01 in [0, 1).
std::chrono::milliseconds jitteredInterval(std::chrono::milliseconds interval, double jitterPercent,
                                           double random01);

} // namespace fulcrum::health
