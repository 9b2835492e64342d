#include <gtest/gtest.h>

#include <vector>

#include "common/time_source.h"
#include "proxy/net/timer_wheel.h"

namespace fulcrum::net {
namespace {

using namespace std::chrono_literals;

struct Fired {
  std::vector<int>* log;
  int id;
  static void cb(void* self) {
    auto* f = static_cast<Fired*>(self);
    f->log->push_back(f->id);
  }
};

class TimerWheelTest : public ::testing::Test {
protected:
  ManualTimeSource time_;
  boost::asio::io_context io_;
  TimerWheel wheel_{io_, time_, 10ms, 64};
  std::vector<int> log_;

  void advanceTo(std::chrono::milliseconds sinceStart) {
    wheel_.advance(MonotonicTime{std::chrono::seconds(1000)} + sinceStart);
  }
};

TEST_F(TimerWheelTest, FiresAtOrAfterDeadlineWithinOneTick) {
  Fired a{&log_, 1};
  Fired b{&log_, 2};
  Timer ta(&Fired::cb, &a);
  Timer tb(&Fired::cb, &b);
  wheel_.armAfter(ta, 25ms);
  wheel_.armAfter(tb, 100ms);
  advanceTo(20ms);
  EXPECT_TRUE(log_.empty());
  advanceTo(30ms);
  EXPECT_EQ(log_, std::vector<int>{1});
  EXPECT_FALSE(ta.armed());
  advanceTo(99ms);
  EXPECT_EQ(log_.size(), 1u);
  advanceTo(110ms);
  EXPECT_EQ(log_, (std::vector<int>{1, 2}));
}

TEST_F(TimerWheelTest, RearmAndDisarm) {
  Fired a{&log_, 1};
  Timer ta(&Fired::cb, &a);
  wheel_.armAfter(ta, 20ms);
  wheel_.armAfter(ta, 200ms); // moved
  advanceTo(50ms);
  EXPECT_TRUE(log_.empty());
  TimerWheel::disarm(ta);
  advanceTo(300ms);
  EXPECT_TRUE(log_.empty());
}

TEST_F(TimerWheelTest, DeadlinesBeyondOneRevolutionWait) {
  Fired a{&log_, 1};
  Timer ta(&Fired::cb, &a);
  wheel_.armAfter(ta, 1000ms); // 64 slots x 10 ms = 640 ms per revolution
  advanceTo(700ms);
  EXPECT_TRUE(log_.empty());
  advanceTo(1010ms);
  EXPECT_EQ(log_, std::vector<int>{1});
}

TEST_F(TimerWheelTest, CallbackMayDisarmAnotherExpiredTimer) {
  struct Killer {
    Timer* victim;
    std::vector<int>* log;
    static void cb(void* self) {
      auto* k = static_cast<Killer*>(self);
      k->log->push_back(9);
      TimerWheel::disarm(*k->victim);
    }
  };
  Fired v{&log_, 2};
  Timer victim(&Fired::cb, &v);
  Killer k{&victim, &log_};
  Timer killer(&Killer::cb, &k);
  wheel_.armAfter(killer, 10ms);
  wheel_.armAfter(victim, 15ms);
  advanceTo(100ms);
  EXPECT_EQ(log_, std::vector<int>{9});
}

TEST_F(TimerWheelTest, LateTickFiresEverythingDue) {
  std::vector<Fired> fired;
  fired.reserve(10);
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 10; ++i) {
    fired.push_back(Fired{&log_, i});
    timers.push_back(std::make_unique<Timer>(&Fired::cb, &fired.back()));
    wheel_.armAfter(*timers.back(), std::chrono::milliseconds(100 * i + 5));
  }
  advanceTo(5000ms); // far beyond one revolution
  EXPECT_EQ(log_.size(), 10u);
}

TEST_F(TimerWheelTest, MovedLaterFiresAtTheNewDeadlineOnly) {
  // A later deadline only updates the timer; the wheel re-slots it when it reaches the old slot.
  Fired a{&log_, 1};
  Timer ta(&Fired::cb, &a);
  wheel_.armAfter(ta, 20ms);
  wheel_.armAfter(ta, 55ms);
  EXPECT_EQ(ta.deadline(), MonotonicTime{std::chrono::seconds(1000)} + 55ms);
  advanceTo(20ms);
  advanceTo(50ms);
  EXPECT_TRUE(log_.empty());
  EXPECT_TRUE(ta.armed());
  advanceTo(60ms);
  EXPECT_EQ(log_, std::vector<int>{1});
}

TEST_F(TimerWheelTest, MovedLaterThenEarlier) {
  Fired a{&log_, 1};
  Timer ta(&Fired::cb, &a);
  wheel_.armAfter(ta, 100ms);
  wheel_.armAfter(ta, 300ms); // later: stays in the 100 ms slot
  wheel_.armAfter(ta, 40ms);  // earlier: linked into the 40 ms slot
  advanceTo(39ms);
  EXPECT_TRUE(log_.empty());
  advanceTo(40ms);
  EXPECT_EQ(log_, std::vector<int>{1});
  advanceTo(400ms);
  EXPECT_EQ(log_, std::vector<int>{1});
}

TEST_F(TimerWheelTest, MovedLaterByMoreThanARevolution) {
  Fired a{&log_, 1};
  Fired b{&log_, 2};
  Timer ta(&Fired::cb, &a);
  Timer tb(&Fired::cb, &b);
  wheel_.armAfter(ta, 30ms);
  wheel_.armAfter(ta, 30ms + 640ms); // the same slot one revolution on
  wheel_.armAfter(tb, 30ms);
  wheel_.armAfter(tb, 1500ms);
  for (int ms = 10; ms < 1500; ms += 10) {
    advanceTo(std::chrono::milliseconds(ms));
    if (ms < 670) {
      EXPECT_TRUE(log_.empty()) << ms;
    }
  }
  EXPECT_EQ(log_, std::vector<int>{1});
  advanceTo(1500ms);
  EXPECT_EQ(log_, (std::vector<int>{1, 2}));
}

TEST_F(TimerWheelTest, MovedLaterAndLateTick) {
  // One late tick visits the old slot and the new one: the timer fires only if its deadline
  // passed.
  Fired a{&log_, 1};
  Fired b{&log_, 2};
  Timer ta(&Fired::cb, &a);
  Timer tb(&Fired::cb, &b);
  wheel_.armAfter(ta, 20ms);
  wheel_.armAfter(ta, 90ms);
  wheel_.armAfter(tb, 20ms);
  wheel_.armAfter(tb, 5000ms);
  advanceTo(100ms);
  EXPECT_EQ(log_, std::vector<int>{1});
  advanceTo(4990ms);
  EXPECT_EQ(log_, std::vector<int>{1});
  advanceTo(5000ms);
  EXPECT_EQ(log_, (std::vector<int>{1, 2}));
}

TEST_F(TimerWheelTest, SlotCountIsRoundedUpToAPowerOfTwo) {
  TimerWheel odd{io_, time_, 10ms, 50}; // 64 slots
  Fired a{&log_, 1};
  Timer ta(&Fired::cb, &a);
  odd.armAfter(ta, 600ms);
  odd.advance(MonotonicTime{std::chrono::seconds(1000)} + 590ms);
  EXPECT_TRUE(log_.empty());
  odd.advance(MonotonicTime{std::chrono::seconds(1000)} + 600ms);
  EXPECT_EQ(log_, std::vector<int>{1});
}

} // namespace
} // namespace fulcrum::net
