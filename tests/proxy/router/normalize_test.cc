#include <gtest/gtest.h>

#include "proxy/router/route_table.h"

namespace fulcrum::router {
namespace {

struct NormCase {
  std::string in;
  std::string out; // "!" = error
  bool merge = false;
};

TEST(NormalizePath, Cases) {
  const std::vector<NormCase> cases = {
      {"/", "/"},
      {"/a/b", "/a/b"},
      {"/v1/../admin", "/admin"},
      {"/v1/./x", "/v1/x"},
      {"/a/b/..", "/a/"},
      {"/a/b/.", "/a/b/"},
      {"/..", "/"},
      {"/../../etc/passwd", "/etc/passwd"},
      {"/a/../../b", "/b"},
      {"/.", "/"},
      {"/a/..b/c", "/a/..b/c"},
      {"/a/.b", "/a/.b"},
      {"/a/b../c", "/a/b../c"},
      {"/%2e%2e/admin", "/admin"},
      {"/v1/%2E%2E/admin", "/admin"},
      {"/v1/%2e/x", "/v1/x"},
      {"/v1/.%2e/admin", "/admin"},
      {"/%61%62c", "/abc"},
      {"/a%7Eb%2d%5f", "/a~b-_"},
      {"/a%20b", "/a%20b"},
      {"/a%3ab", "/a%3Ab"},
      {"/a%c3%a9", "/a%C3%A9"},
      {"/a%2Fb", "!"},
      {"/a%2fb", "!"},
      {"/a%5Cb", "!"},
      {"/a%5cb", "!"},
      {"/a%00b", "!"},
      {"/a%", "!"},
      {"/a%4", "!"},
      {"/a%zz", "!"},
      {"relative", "!"},
      {"", "!"},
      {"*", "*"},
      {"//", "//"},
      {"//", "/", true},
      {"/a//b", "/a//b"},
      {"/a//b", "/a/b", true},
      {"/a///b//", "/a/b/", true},
      {"//../a", "/a", true},
      {"/a//../b", "/a/b"},
      {"/a/b//..", "/a/b/"},
      {"/a/./../b/./c/.", "/b/c/"},
  };
  for (const NormCase& c : cases) {
    std::string scratch;
    auto r = normalizePath(c.in, scratch, c.merge);
    if (c.out == "!") {
      EXPECT_FALSE(r.ok()) << c.in;
    } else {
      ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message;
      EXPECT_EQ(r.value(), c.out) << c.in << " merge=" << c.merge;
    }
  }
}

TEST(NormalizePath, FastPathReturnsTheInput) {
  std::string scratch = "untouched";
  std::string_view in = "/api/v1/users/42.json";
  auto r = normalizePath(in, scratch, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data(), in.data());
  EXPECT_EQ(scratch, "untouched");
}

TEST(NormalizePath, ShortAndLongPathsAroundTheOnePassCheck) {
  // Paths up to 64 bytes without '%' or '.' are returned after one pass; the rest go through
  // the segment scan. Both sides of the length bound, with and without work to do.
  std::string scratch = "untouched";
  for (const size_t size : {1u, 63u, 64u, 65u, 200u}) {
    const std::string plain = "/" + std::string(size - 1, 'a');
    auto r = normalizePath(plain, scratch, false);
    ASSERT_TRUE(r.ok()) << size;
    EXPECT_EQ(r.value().data(), plain.data()) << size;
    const std::string dotted = plain + "/../b";
    r = normalizePath(dotted, scratch, false);
    ASSERT_TRUE(r.ok()) << size;
    EXPECT_EQ(r.value(), "/b") << size;
    const std::string dottedName = plain + "/x.y";
    r = normalizePath(dottedName, scratch, false);
    ASSERT_TRUE(r.ok()) << size;
    EXPECT_EQ(r.value().data(), dottedName.data()) << size;
  }
  EXPECT_EQ(scratch.find('.'), std::string::npos); // only the "/../b" cases wrote it
}

TEST(NormalizePath, SlowPathWritesScratch) {
  std::string scratch;
  std::string_view in = "/a/../b";
  auto r = normalizePath(in, scratch, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data(), scratch.data());
}

// A normalized path is a fixed point.
TEST(NormalizePath, Idempotent) {
  for (const char* p : {"/a/../b/./c//d/%2e%2e/e", "/%7e/..", "/x/y/z/../../..", "/./././"}) {
    for (bool merge : {false, true}) {
      std::string s1;
      std::string s2;
      auto once = normalizePath(p, s1, merge);
      ASSERT_TRUE(once.ok());
      auto twice = normalizePath(once.value(), s2, merge);
      ASSERT_TRUE(twice.ok());
      EXPECT_EQ(once.value(), twice.value()) << p;
    }
  }
}

} // namespace
} // namespace fulcrum::router
