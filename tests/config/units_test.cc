#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/units.h"

namespace fulcrum::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(ParseDuration, AcceptsUnitsAndCombinations) {
  struct Case {
    const char* text;
    Duration want;
  };
  for (const auto& c : std::initializer_list<Case>{
           {"250ms", 250ms},
           {"2s", 2s},
           {"1m", 1min},
           {"1h", 1h},
           {"1m30s", 90s},
           {"1h2m3s4ms", 1h + 2min + 3s + 4ms},
           {"0s", 0ms},
           {"1.5s", 1500ms},
           {"0.25s", 250ms},
           {".5s", 500ms},
           {"1.5m", 90s},
           {"30s1m", 90s},
           {"2562047h", 2562047h},
       }) {
    auto d = parseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.error().message;
    EXPECT_EQ(d.value(), c.want) << c.text;
  }
}

TEST(ParseDuration, RejectsPlainNumbersWithAClearMessage) {
  for (const char* text : {"10", "0", "1.5", "-3"}) {
    auto d = parseDuration(text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_THAT(d.error().message, HasSubstr("needs a unit (ms, s, m or h)")) << text;
  }
  EXPECT_EQ(parseDuration("10").error().message,
            "duration \"10\" needs a unit (ms, s, m or h), e.g. \"10s\" or \"10ms\"");
}

TEST(ParseDuration, RejectsMalformedInput) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const auto& c : std::initializer_list<Case>{
           {"", "got an empty string"},
           {"-1s", "must not be negative"},
           {"1d", "unknown unit \"d\""},
           {"500us", "unknown unit \"us\""},
           {"1S", "unknown unit \"S\""},
           {"5 s", "needs a unit (ms, s, m or h) after each number"},
           {"s", "invalid duration"},
           {"1.s", "invalid duration"},
           {"1..5s", "invalid duration"},
           {"1s500", "needs a unit"},
           {"1.5ms", "finer than a millisecond"},
           {"0.0001s", "finer than a millisecond"},
           {"1.0000000000000000000001s", "finer than a millisecond"},
           {"99999999999999999999h", "too large"},
           {"9999999999999h", "too large"},
       }) {
    auto d = parseDuration(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_THAT(d.error().message, HasSubstr(c.message)) << c.text;
  }
}

TEST(ParseSize, AcceptsUnitsAndPlainBytes) {
  struct Case {
    const char* text;
    uint64_t want;
  };
  for (const auto& c : std::initializer_list<Case>{
           {"512B", 512},
           {"16KiB", 16 * 1024},
           {"1MiB", 1024 * 1024},
           {"1GiB", uint64_t{1} << 30},
           {"2TiB", uint64_t{2} << 40},
           {"0", 0},
           {"65536", 65536},
           {"18446744073709551615", UINT64_MAX},
       }) {
    auto s = parseSize(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.error().message;
    EXPECT_EQ(s.value(), c.want) << c.text;
  }
}

TEST(ParseSize, RejectsMalformedInput) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const auto& c : std::initializer_list<Case>{
           {"", "got an empty string"},
           {"-1", "must not be negative"},
           {"64KB", "unknown unit \"KB\" in size \"64KB\": use B, KiB, MiB, GiB or TiB"},
           {"1kib", "unknown unit \"kib\""},
           {"1.5MiB", "must be a whole number"},
           {"KiB", "invalid size"},
           {"16 KiB", "unknown unit \" KiB\""},
           {"18446744073709551616", "too large"},
           {"17179869184GiB", "too large"},
       }) {
    auto s = parseSize(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_THAT(s.error().message, HasSubstr(c.message)) << c.text;
  }
}

TEST(Format, DurationsAndSizesRoundTrip) {
  EXPECT_EQ(formatDuration(0ms), "0s");
  EXPECT_EQ(formatDuration(250ms), "250ms");
  EXPECT_EQ(formatDuration(90s), "1m30s");
  EXPECT_EQ(formatDuration(1h + 1ms), "1h1ms");
  EXPECT_EQ(formatSize(16 * 1024), "16KiB");
  EXPECT_EQ(formatSize(1000), "1000");
  EXPECT_EQ(formatSize(0), "0");
  EXPECT_EQ(formatSize(uint64_t{3} << 30), "3GiB");
  for (int64_t ms : {0L, 1L, 999L, 1000L, 61001L, 3600000L, 86399999L, 123456789L}) {
    EXPECT_EQ(parseDuration(formatDuration(Duration(ms))).value(), Duration(ms)) << ms;
  }
  for (uint64_t bytes : {uint64_t{0}, uint64_t{1}, uint64_t{1024}, uint64_t{1025}, UINT64_MAX}) {
    EXPECT_EQ(parseSize(formatSize(bytes)).value(), bytes) << bytes;
  }
}

} // namespace
} // namespace fulcrum::config
