#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "proxy/stats/process_metrics.h"

namespace fulcrum::stats {
namespace {

namespace fs = std::filesystem;

class ProcessMetricsTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fulcrum-proc-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "self" / "fd");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
  fs::path dir_;
};

TEST_F(ProcessMetricsTest, ParsesStatWithSpacesInTheName) {
  // Fields: 14 utime=250, 15 stime=150 ticks; 22 starttime=1000 ticks; 23 vsize; 24 rss pages.
  write(dir_ / "self" / "stat", "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 "
                                "3 0 1000 123456789 300 18446744073709551615\n");
  write(dir_ / "stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
  write(dir_ / "self" / "fd" / "0", "");
  write(dir_ / "self" / "fd" / "1", "");
  const auto s = readProcessStats((dir_ / "self").string(), (dir_ / "stat").string(), 100, 4096);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->cpuSeconds, 4.0);
  EXPECT_DOUBLE_EQ(s->residentBytes, 300.0 * 4096);
  EXPECT_DOUBLE_EQ(s->virtualBytes, 123456789.0);
  EXPECT_DOUBLE_EQ(s->startTimeSeconds, 1700000010.0);
  EXPECT_DOUBLE_EQ(s->openFds, 2.0);
  EXPECT_GT(s->maxFds, 0.0);
}

TEST_F(ProcessMetricsTest, MissingOrMalformedStat) {
  EXPECT_FALSE(readProcessStats((dir_ / "nothing").string()).has_value());
  write(dir_ / "self" / "stat", "42 (x) S 1 2\n");
  EXPECT_FALSE(readProcessStats((dir_ / "self").string()).has_value());
}

TEST(ProcessMetricsRealTest, ReadsThisProcess) {
  const auto s = readProcessStats();
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->residentBytes, 0.0);
  EXPECT_GT(s->openFds, 0.0);
  EXPECT_GT(s->startTimeSeconds, 1.5e9);
  std::vector<Family> families;
  appendProcessFamilies(*s, families);
  ASSERT_EQ(families.size(), 6u);
  EXPECT_EQ(families[0].name, "process_cpu_seconds_total");
  EXPECT_EQ(families[0].type, MetricType::Counter);
}

} // namespace
} // namespace fulcrum::stats
