#include "proxy/tracing/trace_context.h"

#include <string>

#include <gtest/gtest.h>

namespace fulcrum::tracing {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string hex(const uint8_t* bytes, size_t size) {
  std::string out(2 * size, '?');
  writeHex(bytes, size, out.data());
  return out;
}

TEST(Traceparent, ParsesTheSpecExample) {
  const auto tp = parseTraceparent(kValid);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->version, 0);
  EXPECT_EQ(hex(tp->traceId.data(), 16), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(hex(tp->parentId.data(), 8), "00f067aa0ba902b7");
  EXPECT_EQ(tp->flags, 1);
  EXPECT_TRUE(tp->sampled());
  const auto unsampled =
      parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled());
}

TEST(Traceparent, AcceptsSurroundingWhitespaceAndUnknownFlags) {
  EXPECT_TRUE(parseTraceparent(std::string(" \t") + std::string(kValid) + " "));
  const auto tp = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09");
  ASSERT_TRUE(tp);
  EXPECT_TRUE(tp->sampled());
  EXPECT_EQ(tp->flags, 9);
}

TEST(Traceparent, FutureVersionsAreReadAsVersion00) {
  // A higher version may be longer, with the extra part after a '-'.
  EXPECT_TRUE(parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_TRUE(
      parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future"));
  EXPECT_FALSE(
      parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future"));
  EXPECT_FALSE(parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"));
}

TEST(Traceparent, RejectsEveryInvalidForm) {
  const char* invalid[] = {
      "",
      "00",
      // version ff is forbidden; versions must be lowercase hex
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "0G-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "AA-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // version 00 must be exactly 55 characters
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
      // all-zero ids
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      // uppercase hex
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
      // wrong lengths of the fields (total length kept or not)
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
      "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // wrong or missing delimiters
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
      "004bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
      // non-hex characters
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-.1",
      // whitespace inside
      "00-4bf92f3577b34da6a3ce929d0e0e4736 -00f067aa0ba902b7-01",
      "00 -4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  };
  for (const char* value : invalid) {
    EXPECT_FALSE(parseTraceparent(value)) << value;
  }
}

TEST(Traceparent, WritesVersion00) {
  const TraceId trace = traceIdFrom(0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL);
  const SpanId span = spanIdFrom(0x00f067aa0ba902b7ULL);
  char out[kTraceparentSize];
  writeTraceparent(trace, span, kFlagSampled, out);
  EXPECT_EQ(std::string_view(out, sizeof(out)), kValid);
  writeTraceparent(trace, span, 0, out);
  const auto back = parseTraceparent(std::string_view(out, sizeof(out)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->traceId, trace);
  EXPECT_EQ(back->parentId, span);
  EXPECT_FALSE(back->sampled());
}

TEST(Traceparent, GeneratedIdsAreNeverZero) {
  EXPECT_FALSE(isZero(traceIdFrom(0, 0)));
  EXPECT_FALSE(isZero(spanIdFrom(0)));
  EXPECT_TRUE(isZero(TraceId{}));
  EXPECT_TRUE(isZero(SpanId{}));
}

TEST(Hex, EveryByteValueAtEveryLengthAndOffset) {
  // writeHex converts 8 bytes at a time and the rest one by one: check both against a
  // digit-by-digit reference, for every byte value and the lengths around the block size.
  uint8_t bytes[256];
  for (int i = 0; i < 256; ++i) {
    bytes[i] = static_cast<uint8_t>(i);
  }
  constexpr char kDigits[] = "0123456789abcdef";
  for (size_t offset = 0; offset < 256; offset += 7) {
    for (size_t size = 0; size <= 25 && offset + size <= 256; ++size) {
      std::string want;
      for (size_t i = 0; i < size; ++i) {
        want.push_back(kDigits[bytes[offset + i] >> 4]);
        want.push_back(kDigits[bytes[offset + i] & 0xf]);
      }
      EXPECT_EQ(hex(bytes + offset, size), want) << offset << " " << size;
    }
  }
  EXPECT_EQ(hex(bytes, 256).substr(2 * 0xf0), "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
}

TEST(Hex, WordsAreWrittenInMemoryOrder) {
  char out[32];
  writeHexWords(0x0706050403020100ULL, 0xfffefdfcfbfaf9f8ULL, out);
  EXPECT_EQ(std::string_view(out, sizeof(out)), "0001020304050607f8f9fafbfcfdfeff");
}

} // namespace
} // namespace fulcrum::tracing
