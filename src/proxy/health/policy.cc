#include "proxy/health/policy.h"

#include <algorithm>
#include <charconv>

namespace fulcrum::health {

RetryConditions RetryConditions::parse(const std::vector<std::string>& on) {
  RetryConditions c;
  for (const std::string& item : on) {
    if (item == "connect-failure") {
      c.connectFailure = true;
    } else if (item == "reset") {
      c.reset = true;
    } else if (item == "timeout") {
      c.timeout = true;
    } else if (item == "5xx") {
      c.any5xx = true;
    } else if (item == "gateway-error") {
      c.gatewayError = true;
    } else {
      uint16_t status = 0;
      const auto result = std::from_chars(item.data(), item.data() + item.size(), status);
      if (result.ec == std::errc() && status >= 100 && status < 600) {
        c.statuses.push_back(status);
      }
    }
  }
  return c;
}

bool RetryConditions::matches(TryFailure failure) const {
  switch (failure) {
  case TryFailure::ConnectFailure:
    return connectFailure || gatewayError || any5xx;
  case TryFailure::Reset:
    return reset || gatewayError || any5xx;
  case TryFailure::Timeout:
    return timeout || gatewayError || any5xx;
  case TryFailure::Status:
    return true; // decided by matchesStatus
  }
  return false;
}

bool RetryConditions::matchesStatus(uint16_t status) const {
  if (any5xx && status >= 500 && status <= 599) {
    return true;
  }
  if (gatewayError && (status == 502 || status == 503 || status == 504)) {
    return true;
  }
  return std::find(statuses.begin(), statuses.end(), status) != statuses.end();
}

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

std::chrono::milliseconds retryBackoff(uint32_t retry, std::chrono::milliseconds base,
                                       std::chrono::milliseconds max, double random01) {
  const uint32_t shift = std::min<uint32_t>(retry == 0 ? 0 : retry - 1, 20);
  const int64_t ceiling = std::min<int64_t>(max.count(), base.count() << shift);
  const double r = std::clamp(random01, 0.0, 1.0);
  const auto delay = static_cast<int64_t>(static_cast<double>(ceiling) * r);
  return std::chrono::milliseconds(std::clamp<int64_t>(delay, 0, max.count()));
}

bool retryBudgetAllows(uint64_t retriesInFlight, uint64_t activeRequests, uint32_t budgetPercent) {
  const uint64_t budget = std::max<uint64_t>(kMinRetryBudget, activeRequests * budgetPercent / 100);
  return retriesInFlight < budget;
}

std::chrono::milliseconds ejectionTime(uint32_t timesEjected, std::chrono::milliseconds base,
                                       std::chrono::milliseconds max) {
  const uint64_t times = std::max<uint32_t>(timesEjected, 1);
  const uint64_t capTimes =
      base.count() > 0
          ? static_cast<uint64_t>(max.count()) / static_cast<uint64_t>(base.count()) + 1
          : 1;
  const uint64_t ms = static_cast<uint64_t>(base.count()) * std::min(times, capTimes);
  return std::chrono::milliseconds(std::min<uint64_t>(ms, static_cast<uint64_t>(max.count())));
}

bool ejectionAllowed(size_t ejected, size_t poolSize, uint32_t maxEjectionPercent) {
  if (poolSize == 0 || maxEjectionPercent == 0) {
    return false;
  }
  if (ejected == 0 && poolSize >= 2) {
    return true;
  }
  return (ejected + 1) * 100 <= poolSize * maxEjectionPercent;
}

bool inPanic(size_t healthy, size_t poolSize, uint32_t panicThresholdPercent) {
  return poolSize > 0 && healthy * 100 < poolSize * panicThresholdPercent;
}

std::string_view toString(HealthState state) {
  switch (state) {
  case HealthState::Unknown:
    return "unknown";
  case HealthState::Healthy:
    return "healthy";
  case HealthState::Unhealthy:
    return "unhealthy";
  }
  return "unknown";
}

bool HealthTracker::record(bool success) {
  const HealthState before = state_;
  if (success) {
    failures_ = 0;
    ++successes_;
    if (state_ != HealthState::Healthy && successes_ >= healthyThreshold_) {
      state_ = HealthState::Healthy;
    }
  } else {
    successes_ = 0;
    ++failures_;
    // An endpoint whose state is unknown becomes unhealthy at its first failure.
    if ((state_ == HealthState::Healthy && failures_ >= unhealthyThreshold_) ||
        state_ == HealthState::Unknown) {
      state_ = HealthState::Unhealthy;
    }
  }
  return state_ != before;
}

std::chrono::milliseconds jitteredInterval(std::chrono::milliseconds interval, double jitterPercent,
                                           double random01) {
  const double spread = static_cast<double>(interval.count()) * jitterPercent / 100.0;
  const double offset = (std::clamp(random01, 0.0, 1.0) * 2.0 - 1.0) * spread;
  const auto ms = static_cast<int64_t>(static_cast<double>(interval.count()) + offset);
  return std::chrono::milliseconds(std::max<int64_t>(ms, 1));
}

} // namespace fulcrum::health
