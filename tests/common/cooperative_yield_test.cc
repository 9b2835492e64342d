#include "common/cooperative_yield.h"

#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/time_source.h"

namespace fulcrum {
namespace {

using std::chrono::microseconds;

// Runs `n` yield points on the calling thread; returns how many of them yielded.
uint64_t yieldsOver(uint32_t n) {
  const uint64_t before = CooperativeYield::yieldsTotal();
  for (uint32_t i = 0; i < n; ++i) {
    yieldPoint();
  }
  return CooperativeYield::yieldsTotal() - before;
}

class CooperativeYieldTest : public ::testing::Test {
protected:
  void TearDown() override { CooperativeYield::disable(); }
  ManualTimeSource time_;
};

TEST_F(CooperativeYieldTest, DisabledByDefaultAndAfterDisable) {
  // A fresh thread has no quantum: points never read the clock or yield.
  std::thread([] { EXPECT_EQ(yieldsOver(10 * CooperativeYield::kStride), 0u); }).join();
  CooperativeYield::enable(microseconds(200), time_);
  CooperativeYield::disable();
  time_.now += std::chrono::seconds(1);
  EXPECT_EQ(yieldsOver(10 * CooperativeYield::kStride), 0u);
}

TEST_F(CooperativeYieldTest, YieldsOnceTheQuantumHasRun) {
  CooperativeYield::enable(microseconds(200), time_);
  // Within the quantum: no yield however many points pass.
  time_.now += microseconds(199);
  EXPECT_EQ(yieldsOver(100 * CooperativeYield::kStride), 0u);
  // At the quantum: the next clock read (within kStride points) yields, once; the quantum then
  // starts again.
  time_.now += microseconds(1);
  EXPECT_EQ(yieldsOver(CooperativeYield::kStride), 1u);
  EXPECT_EQ(yieldsOver(100 * CooperativeYield::kStride), 0u);
  time_.now += microseconds(200);
  EXPECT_EQ(yieldsOver(CooperativeYield::kStride), 1u);
}

TEST_F(CooperativeYieldTest, AHeavyPointReadsTheClockEveryTime) {
  CooperativeYield::enable(microseconds(200), time_);
  const uint64_t before = CooperativeYield::yieldsTotal();
  for (int i = 0; i < 3; ++i) {
    time_.now += microseconds(200);
    yieldPoint(CooperativeYield::kStride); // one call: a clock read, past the quantum
    EXPECT_EQ(CooperativeYield::yieldsTotal() - before, static_cast<uint64_t>(i + 1));
  }
}

TEST_F(CooperativeYieldTest, ZeroQuantumDisables) {
  CooperativeYield::enable(microseconds(0), time_);
  time_.now += std::chrono::seconds(1);
  EXPECT_EQ(yieldsOver(10 * CooperativeYield::kStride), 0u);
}

TEST_F(CooperativeYieldTest, RestartStartsTheQuantumAfresh) {
  CooperativeYield::enable(microseconds(200), time_);
  time_.now += microseconds(150);
  CooperativeYield::restart(); // e.g. the thread slept: its run begins now
  time_.now += microseconds(150);
  EXPECT_EQ(yieldsOver(10 * CooperativeYield::kStride), 0u);
  time_.now += microseconds(50);
  EXPECT_EQ(yieldsOver(CooperativeYield::kStride), 1u);
}

TEST_F(CooperativeYieldTest, VectorWithYieldPointsIsValueInitialized) {
  CooperativeYield::enable(microseconds(200), time_);
  time_.now += microseconds(200);
  const uint64_t before = CooperativeYield::yieldsTotal();
  const size_t n = size_t{10} * CooperativeYield::kStride;
  const auto v = vectorWithYieldPoints<uint64_t>(n);
  EXPECT_EQ(v, std::vector<uint64_t>(n, 0));
  // Its points ran: the quantum had passed, so the first clock read yielded (once; the manual
  // clock then stands still).
  EXPECT_EQ(CooperativeYield::yieldsTotal() - before, 1u);
}

TEST_F(CooperativeYieldTest, PerThread) {
  CooperativeYield::enable(microseconds(200), time_);
  time_.now += microseconds(500);
  // Another thread's points do nothing: only this thread enabled them.
  std::thread([] { EXPECT_EQ(yieldsOver(10 * CooperativeYield::kStride), 0u); }).join();
  EXPECT_EQ(yieldsOver(CooperativeYield::kStride), 1u);
}

} // namespace
} // namespace fulcrum
