#include "proxy/health/policy.h"

#include <gtest/gtest.h>

namespace fulcrum::health {
namespace {

using std::chrono::milliseconds;

TEST(RetryConditions, ParsesNamesAndStatuses) {
  const auto c = RetryConditions::parse({"connect-failure", "503", "429"});
  EXPECT_TRUE(c.matches(TryFailure::ConnectFailure));
  EXPECT_FALSE(c.matches(TryFailure::Reset));
  EXPECT_FALSE(c.matches(TryFailure::Timeout));
  EXPECT_TRUE(c.matchesStatus(503));
  EXPECT_TRUE(c.matchesStatus(429));
  EXPECT_FALSE(c.matchesStatus(502));
  EXPECT_FALSE(c.matchesStatus(500));
}

TEST(RetryConditions, GatewayErrorCoversLocalFailuresAnd502To504) {
  const auto c = RetryConditions::parse({"gateway-error"});
  EXPECT_TRUE(c.matches(TryFailure::ConnectFailure));
  EXPECT_TRUE(c.matches(TryFailure::Reset));
  EXPECT_TRUE(c.matches(TryFailure::Timeout));
  EXPECT_TRUE(c.matchesStatus(502));
  EXPECT_TRUE(c.matchesStatus(503));
  EXPECT_TRUE(c.matchesStatus(504));
  EXPECT_FALSE(c.matchesStatus(500));
  const auto any = RetryConditions::parse({"5xx"});
  EXPECT_TRUE(any.matchesStatus(500));
  EXPECT_TRUE(any.matchesStatus(599));
  EXPECT_FALSE(any.matchesStatus(499));
}

TEST(Idempotency, FollowsRfc9110) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(isIdempotent(m)) << m;
  }
  for (const char* m : {"POST", "PATCH", "CONNECT", "get"}) {
    EXPECT_FALSE(isIdempotent(m)) << m;
  }
}

TEST(RetryBackoff, ExponentialCeilingWithFullJitter) {
  const milliseconds base(25);
  const milliseconds max(250);
  // random01 close to 1 shows the ceiling: 25, 50, 100, 200, then capped at 250.
  const double top = 0.999999;
  EXPECT_EQ(retryBackoff(1, base, max, top), milliseconds(24));
  EXPECT_EQ(retryBackoff(2, base, max, top), milliseconds(49));
  EXPECT_EQ(retryBackoff(3, base, max, top), milliseconds(99));
  EXPECT_EQ(retryBackoff(4, base, max, top), milliseconds(199));
  EXPECT_EQ(retryBackoff(5, base, max, top), milliseconds(249));
  EXPECT_EQ(retryBackoff(60, base, max, top), milliseconds(249)); // no overflow
  EXPECT_EQ(retryBackoff(3, base, max, 0.0), milliseconds(0));
  EXPECT_EQ(retryBackoff(3, base, max, 0.5), milliseconds(50));
}

TEST(RetryBudget, PercentOfActiveWithAMinimum) {
  // Few requests: the minimum (3) applies.
  EXPECT_TRUE(retryBudgetAllows(0, 1, 20));
  EXPECT_TRUE(retryBudgetAllows(2, 1, 20));
  EXPECT_FALSE(retryBudgetAllows(3, 1, 20));
  // 100 active at 20%: 20 retries in flight.
  EXPECT_TRUE(retryBudgetAllows(19, 100, 20));
  EXPECT_FALSE(retryBudgetAllows(20, 100, 20));
  // 0% still allows the minimum.
  EXPECT_TRUE(retryBudgetAllows(2, 1000, 0));
  EXPECT_FALSE(retryBudgetAllows(3, 1000, 0));
}

TEST(Ejection, TimeGrowsLinearlyAndIsCapped) {
  const milliseconds base(30000);
  const milliseconds max(300000);
  EXPECT_EQ(ejectionTime(1, base, max), milliseconds(30000));
  EXPECT_EQ(ejectionTime(2, base, max), milliseconds(60000));
  EXPECT_EQ(ejectionTime(10, base, max), milliseconds(300000));
  EXPECT_EQ(ejectionTime(11, base, max), milliseconds(300000));
  EXPECT_EQ(ejectionTime(4000000000U, base, max), milliseconds(300000));
  EXPECT_EQ(ejectionTime(0, base, max), milliseconds(30000));
}

TEST(Ejection, MaxPercentOfThePool) {
  // 50% of 4: two may be out.
  EXPECT_TRUE(ejectionAllowed(0, 4, 50));
  EXPECT_TRUE(ejectionAllowed(1, 4, 50));
  EXPECT_FALSE(ejectionAllowed(2, 4, 50));
  // A pool of two always allows the first ejection above 0%.
  EXPECT_TRUE(ejectionAllowed(0, 2, 10));
  EXPECT_FALSE(ejectionAllowed(1, 2, 10));
  // A single endpoint is never ejected unless 100% is allowed.
  EXPECT_FALSE(ejectionAllowed(0, 1, 50));
  EXPECT_TRUE(ejectionAllowed(0, 1, 100));
  EXPECT_FALSE(ejectionAllowed(0, 4, 0));
}

TEST(Panic, BelowThresholdShare) {
  EXPECT_FALSE(inPanic(1, 2, 50)); // exactly 50% healthy is not below 50%
  EXPECT_TRUE(inPanic(0, 2, 50));
  EXPECT_TRUE(inPanic(1, 3, 50));
  EXPECT_FALSE(inPanic(0, 3, 0));
  EXPECT_FALSE(inPanic(0, 0, 50));
}

TEST(HealthTracker, ThresholdsBothWays) {
  HealthTracker t(2, 3, /*startHealthy=*/true);
  EXPECT_EQ(t.state(), HealthState::Healthy);
  EXPECT_FALSE(t.record(false));
  EXPECT_FALSE(t.record(false));
  EXPECT_TRUE(t.record(false)); // third failure
  EXPECT_EQ(t.state(), HealthState::Unhealthy);
  EXPECT_FALSE(t.eligible());
  EXPECT_FALSE(t.record(true));
  EXPECT_TRUE(t.record(true)); // second success
  EXPECT_EQ(t.state(), HealthState::Healthy);
}

TEST(HealthTracker, FlappingNeverCrossesThresholds) {
  HealthTracker t(2, 3, true);
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(t.record(i % 3 != 2)); // two failures at most in a row... never three
    EXPECT_FALSE(t.record(false));
    EXPECT_FALSE(t.record(true));
  }
  EXPECT_EQ(t.state(), HealthState::Healthy);
}

TEST(HealthTracker, UnknownNeedsHealthyThresholdAndFailsAtOnce) {
  HealthTracker t(2, 3, /*startHealthy=*/false);
  EXPECT_EQ(t.state(), HealthState::Unknown);
  EXPECT_FALSE(t.eligible());
  EXPECT_FALSE(t.record(true));
  EXPECT_TRUE(t.record(true));
  EXPECT_TRUE(t.eligible());

  HealthTracker u(2, 3, false);
  EXPECT_TRUE(u.record(false));
  EXPECT_EQ(u.state(), HealthState::Unhealthy);
}

TEST(Jitter, SpreadsAroundTheInterval) {
  const milliseconds interval(1000);
  EXPECT_EQ(jitteredInterval(interval, 10, 0.0), milliseconds(900));
  EXPECT_EQ(jitteredInterval(interval, 10, 0.5), milliseconds(1000));
  EXPECT_EQ(jitteredInterval(interval, 10, 1.0), milliseconds(1100));
  EXPECT_EQ(jitteredInterval(interval, 0, 0.0), milliseconds(1000));
  EXPECT_EQ(jitteredInterval(milliseconds(1), 100, 0.0), milliseconds(1));
}

} // namespace
} // namespace fulcrum::health
