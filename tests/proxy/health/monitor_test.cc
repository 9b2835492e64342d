// HealthMonitor's outlier ejection with an injected clock: times, back-off, the pool's
// maxEjectionPercent, and the messages it sends to the workers. No probes (no healthCheck).

#include "proxy/health/monitor.h"

#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "config/loader.h"

namespace fulcrum::health {
namespace {

using namespace std::chrono_literals;

class FakeTime final : public TimeSource {
public:
  MonotonicTime monotonicTime() const override {
    std::lock_guard lock(mutex_);
    return mono_;
  }
  SystemTime systemTime() const override { return SystemTime{} + 1000s; }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mutex_);
    mono_ += d;
  }

private:
  mutable std::mutex mutex_;
  MonotonicTime mono_ = MonotonicTime{} + 1000s;
};

constexpr const char* kConfig = R"(apiVersion: fulcrum/v1
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - name: all
    rules:
      - backends: [{pool: p}]
pools:
  - name: p
    endpoints: [{address: 127.0.0.1:9001}, {address: 127.0.0.1:9002}, {address: 127.0.0.1:9003},
                {address: 127.0.0.1:9004}]
    outlierDetection: {baseEjectionTime: 10s, maxEjectionTime: 25s, maxEjectionPercent: 50}
)";

snapshot::SnapshotConstSharedPtr compile(stats::StatsSlots& slots) {
  auto loaded = config::loadString(kConfig, "test.yaml");
  EXPECT_TRUE(loaded.ok());
  snapshot::CompileInput input;
  input.config = std::move(*loaded.config);
  input.generation = 1;
  auto compiled = snapshot::compileSnapshot(std::move(input), slots);
  EXPECT_TRUE(compiled.ok());
  return compiled.value();
}

class MonitorTest : public ::testing::Test {
protected:
  void SetUp() override {
    monitor_ = std::make_unique<HealthMonitor>(
        time_,
        [this](const EndpointStatus& status) {
          std::lock_guard lock(mutex_);
          statuses_.push_back(status);
          changed_.notify_all();
        },
        42);
    monitor_->start();
    monitor_->postConfig(compile(slots_));
  }
  void TearDown() override { monitor_->stop(); }

  // Waits until the monitor has handled everything posted so far.
  MonitorReport collect() {
    std::mutex m;
    std::condition_variable cv;
    std::optional<MonitorReport> report;
    monitor_->postCollect([&](MonitorReport r) {
      std::lock_guard lock(m);
      report = std::move(r);
      cv.notify_all();
    });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return report.has_value(); });
    return *report;
  }
  std::vector<EndpointStatus> statuses() {
    std::lock_guard lock(mutex_);
    return statuses_;
  }
  static const EndpointReport& find(const MonitorReport& r, const std::string& address) {
    for (const auto& e : r.endpoints) {
      if (e.address == address) {
        return e;
      }
    }
    throw std::runtime_error("missing " + address);
  }

  FakeTime time_;
  stats::StatsSlots slots_;
  std::unique_ptr<HealthMonitor> monitor_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<EndpointStatus> statuses_;
};

TEST_F(MonitorTest, EjectsForBaseTimesCountCappedAndTellsWorkers) {
  const MonotonicTime t0 = time_.monotonicTime();
  monitor_->postOutlier("127.0.0.1:9001", OutlierKind::Consecutive5xx);
  auto report = collect();
  const auto& first = find(report, "127.0.0.1:9001");
  EXPECT_TRUE(first.ejected);
  EXPECT_EQ(first.timesEjected, 1u);
  EXPECT_EQ(first.ejectionReason, "consecutive_5xx");
  auto sent = statuses();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].address, "127.0.0.1:9001");
  EXPECT_TRUE(sent[0].healthy);
  EXPECT_EQ(sent[0].ejectedUntil, t0 + 10s);

  // A report while ejected changes nothing.
  monitor_->postOutlier("127.0.0.1:9001", OutlierKind::ConsecutiveGatewayErrors);
  EXPECT_EQ(find(collect(), "127.0.0.1:9001").timesEjected, 1u);

  time_.advance(10s);
  EXPECT_FALSE(find(collect(), "127.0.0.1:9001").ejected);
  monitor_->postOutlier("127.0.0.1:9001", OutlierKind::ConsecutiveGatewayErrors);
  collect();
  sent = statuses();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].ejectedUntil, t0 + 10s + 20s); // second ejection: 2 x base

  time_.advance(20s);
  monitor_->postOutlier("127.0.0.1:9001", OutlierKind::Consecutive5xx);
  collect();
  sent = statuses();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].ejectedUntil, t0 + 30s + 25s); // 3 x base capped at maxEjectionTime
}

TEST_F(MonitorTest, NeverEjectsMoreThanMaxPercent) {
  monitor_->postOutlier("127.0.0.1:9001", OutlierKind::Consecutive5xx);
  monitor_->postOutlier("127.0.0.1:9002", OutlierKind::Consecutive5xx);
  monitor_->postOutlier("127.0.0.1:9003", OutlierKind::Consecutive5xx);
  const auto report = collect();
  EXPECT_TRUE(find(report, "127.0.0.1:9001").ejected);
  EXPECT_TRUE(find(report, "127.0.0.1:9002").ejected);
  EXPECT_FALSE(find(report, "127.0.0.1:9003").ejected);
  EXPECT_EQ(report.ejectionsRefused, 1u);
  // Unknown addresses are ignored.
  monitor_->postOutlier("127.0.0.1:1", OutlierKind::Consecutive5xx);
  EXPECT_EQ(collect().endpoints.size(), 4u);
}

TEST_F(MonitorTest, StateSurvivesAReloadThatKeepsTheEndpoint) {
  monitor_->postOutlier("127.0.0.1:9002", OutlierKind::Consecutive5xx);
  collect();
  monitor_->postConfig(compile(slots_));
  const auto report = collect();
  EXPECT_TRUE(find(report, "127.0.0.1:9002").ejected);
  EXPECT_EQ(find(report, "127.0.0.1:9002").timesEjected, 1u);
}

} // namespace
} // namespace fulcrum::health
