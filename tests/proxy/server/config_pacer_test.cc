#include "proxy/server/config_pacer.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "common/time_source.h"

namespace fulcrum::server {
namespace {

using namespace std::chrono_literals;

// A CPU clock that advances only when the test's "work" says it burned CPU.
struct FakeCpu {
  std::chrono::nanoseconds used{0};
  ConfigPacer::CpuClock clock() {
    return [this] { return used; };
  }
};

TEST(ConfigPacer, IdleChangeRunsAtOnceAndIsCharged) {
  boost::asio::io_context io;
  ManualTimeSource time;
  FakeCpu cpu;
  ConfigPacer pacer(io, time, 0.05, cpu.clock());
  int runs = 0;
  pacer.submit([&] {
    ++runs;
    cpu.used += 10ms;
  });
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(pacer.cpuSpent(), 10ms);
  EXPECT_EQ(pacer.deferred(), 0u);
  // 10 ms of CPU at 5 % of a core is paid back in 200 ms.
  EXPECT_EQ(pacer.delay(), 200ms);
  time.now += 150ms;
  EXPECT_EQ(pacer.delay(), 50ms);
  time.now += 50ms;
  EXPECT_EQ(pacer.delay(), 0ms);
  time.now += 10s; // no credit builds up beyond zero debt
  EXPECT_EQ(pacer.delay(), 0ms);
}

TEST(ConfigPacer, ChangesWhileInDebtWaitAndOnlyTheNewestRuns) {
  boost::asio::io_context io;
  RealTimeSource time; // the pacer's timer waits real time
  FakeCpu cpu;
  ConfigPacer pacer(io, time, 0.5, cpu.clock());
  std::vector<std::string> ran;
  auto work = [&](std::string name) {
    return [&ran, &cpu, name] {
      ran.push_back(name);
      cpu.used += 20ms; // 40 ms of debt at 50 %
    };
  };
  pacer.submit(work("first"));
  ASSERT_EQ(ran, std::vector<std::string>{"first"});
  pacer.submit(work("second"));
  pacer.submit(work("third"));
  EXPECT_EQ(ran.size(), 1u) << "a change while in debt must wait";
  EXPECT_TRUE(pacer.waiting());
  EXPECT_EQ(pacer.deferred(), 1u);
  EXPECT_EQ(pacer.superseded(), 1u);
  const auto started = std::chrono::steady_clock::now();
  while (ran.size() < 2 && io.run_one_for(5s) > 0) {
  }
  ASSERT_EQ(ran, (std::vector<std::string>{"first", "third"}));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 30ms) << "ran before the debt was paid";
  EXPECT_FALSE(pacer.waiting());
  EXPECT_EQ(pacer.cpuSpent(), 40ms);
}

TEST(ConfigPacer, RunNowIgnoresTheDebtButIsCharged) {
  boost::asio::io_context io;
  ManualTimeSource time;
  FakeCpu cpu;
  ConfigPacer pacer(io, time, 0.1, cpu.clock());
  pacer.charge(100ms);
  int runs = 0;
  pacer.runNow([&] {
    ++runs;
    cpu.used += 100ms;
  });
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(pacer.delay(), 2s);
  EXPECT_EQ(pacer.cpuSpent(), 200ms);
}

TEST(ConfigPacer, CancelDropsTheWaitingChange) {
  boost::asio::io_context io;
  RealTimeSource time;
  FakeCpu cpu;
  ConfigPacer pacer(io, time, 0.5, cpu.clock());
  pacer.charge(10ms);
  int runs = 0;
  pacer.submit([&] { ++runs; });
  EXPECT_TRUE(pacer.waiting());
  pacer.cancel();
  EXPECT_FALSE(pacer.waiting());
  io.run_for(100ms);
  EXPECT_EQ(runs, 0);
}

TEST(ConfigPacer, FullBudgetNeverWaits) {
  boost::asio::io_context io;
  ManualTimeSource time;
  FakeCpu cpu;
  ConfigPacer pacer(io, time, 1.0, cpu.clock());
  int runs = 0;
  for (int i = 0; i < 3; ++i) {
    pacer.submit([&] {
      ++runs;
      cpu.used += 1s;
    });
  }
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(pacer.deferred(), 0u);
  EXPECT_EQ(pacer.cpuSpent(), 3s);
}

} // namespace
} // namespace fulcrum::server
