// The worker-side half of outlier detection: EndpointPool's consecutive counts per worker.

#include <gtest/gtest.h>

#include "proxy/net/upstream_pool.h"

namespace fulcrum::net {
namespace {

using Outcome = EndpointPool::Outcome;

TEST(OutlierCount, Consecutive5xxReachesThresholdAndRestarts) {
  EndpointPool pool("127.0.0.1:1", {});
  bool gateway = false;
  EXPECT_FALSE(pool.recordOutcome(Outcome::Status5xx, 3, 5, gateway));
  EXPECT_FALSE(pool.recordOutcome(Outcome::Status5xx, 3, 5, gateway));
  EXPECT_TRUE(pool.recordOutcome(Outcome::Status5xx, 3, 5, gateway));
  EXPECT_FALSE(gateway);
  // The count restarted.
  EXPECT_FALSE(pool.recordOutcome(Outcome::Status5xx, 3, 5, gateway));
}

TEST(OutlierCount, SuccessResetsBoth) {
  EndpointPool pool("127.0.0.1:1", {});
  bool gateway = false;
  EXPECT_FALSE(pool.recordOutcome(Outcome::GatewayError, 3, 2, gateway));
  EXPECT_FALSE(pool.recordOutcome(Outcome::Success, 3, 2, gateway));
  EXPECT_FALSE(pool.recordOutcome(Outcome::GatewayError, 3, 2, gateway));
  EXPECT_TRUE(pool.recordOutcome(Outcome::GatewayError, 3, 2, gateway));
  EXPECT_TRUE(gateway);
}

TEST(OutlierCount, GatewayErrorsCountAsFiveHundreds) {
  EndpointPool pool("127.0.0.1:1", {});
  bool gateway = false;
  EXPECT_FALSE(pool.recordOutcome(Outcome::GatewayError, 2, 5, gateway));
  EXPECT_TRUE(pool.recordOutcome(Outcome::Status5xx, 2, 5, gateway));
  EXPECT_FALSE(gateway);
}

TEST(SharedStatus, HealthyAndNotEjected) {
  EndpointPool pool("127.0.0.1:1", {});
  const MonotonicTime now = MonotonicTime{} + std::chrono::seconds(100);
  EXPECT_TRUE(pool.sharedHealthy(now));
  pool.setSharedStatus(true, now + std::chrono::seconds(1));
  EXPECT_FALSE(pool.sharedHealthy(now));
  EXPECT_TRUE(pool.sharedHealthy(now + std::chrono::seconds(1)));
  pool.setSharedStatus(false, {});
  EXPECT_FALSE(pool.sharedHealthy(now));
}

} // namespace
} // namespace fulcrum::net
