#include <gtest/gtest.h>

#include <cstring>

#include "proxy/net/buffer.h"

namespace fulcrum::net {
namespace {

TEST(BufferTest, WindowCommitConsumeCompact) {
  Buffer b;
  b.reserve(16);
  EXPECT_EQ(b.writable(), 16u);
  std::memcpy(b.writeSpace().data(), "hello world", 11);
  b.commit(11);
  EXPECT_EQ(b.view(), "hello world");
  b.consume(6);
  EXPECT_EQ(b.view(), "world");
  EXPECT_EQ(b.writable(), 5u);
  b.compact();
  EXPECT_EQ(b.writable(), 11u);
  EXPECT_EQ(b.view(), "world");
  b.consume(5);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.writable(), 16u); // consuming everything rewinds
}

TEST(BufferTest, GrowKeepsBytesAndShrinkReturnsMemory) {
  Buffer b;
  b.reserve(8);
  std::memcpy(b.writeSpace().data(), "abcdefgh", 8);
  b.commit(8);
  b.consume(2);
  b.reserve(32);
  EXPECT_EQ(b.view(), "cdefgh");
  EXPECT_EQ(b.capacity(), 32u);
  b.shrinkTo(8);
  EXPECT_EQ(b.capacity(), 8u);
  EXPECT_EQ(b.view(), "cdefgh");
}

} // namespace
} // namespace fulcrum::net
