#include <array>

#include <gtest/gtest.h>

#include "config/lexical.h"

namespace fulcrum::config {
namespace {

constexpr std::array<std::string_view, 5> kFields{"name", "hostnames", "rules", "healthCheck",
                                                  "weight"};

TEST(ClosestMatch, FindsTyposCaseAndSeparators) {
  EXPECT_EQ(closestMatch("hostname", kFields), "hostnames");
  EXPECT_EQ(closestMatch("helthCheck", kFields), "healthCheck");
  EXPECT_EQ(closestMatch("health_check", kFields), "healthCheck");
  EXPECT_EQ(closestMatch("HealthCheck", kFields), "healthCheck");
  EXPECT_EQ(closestMatch("wieght", kFields), "weight"); // transposition
  EXPECT_EQ(closestMatch("nmae", kFields), "name");
  EXPECT_EQ(closestMatch("colour", kFields), std::nullopt);
  EXPECT_EQ(closestMatch("x", kFields), std::nullopt);
  EXPECT_EQ(closestMatch(std::string(1000, 'a'), kFields), std::nullopt);
  EXPECT_EQ(didYouMean("rule", kFields), "; did you mean \"rules\"?");
  EXPECT_EQ(didYouMean("zzz", kFields), "");
}

TEST(CheckHostname, AcceptsDnsNamesAndLeadingWildcards) {
  for (const char* host : {"example.com", "a.b.c.example.com", "localhost", "x-1.example.org",
                           "10.0.0.1", "*.example.com", "a"}) {
    EXPECT_EQ(checkHostname(host, true), std::nullopt) << host;
  }
  EXPECT_NE(checkHostname("*.example.com", false), std::nullopt);
  for (const char* host :
       {"", "*", "a.*.com", "*example.com", "**.example.com", "-a.com", "a-.com", "a..com",
        ".a.com", "a.com.", "a_b.com", "a.com:80", "http://a.com", "A.com"}) {
    EXPECT_NE(checkHostname(host, true), std::nullopt) << host;
  }
  EXPECT_NE(checkHostname(std::string(64, 'a') + ".com", true), std::nullopt);
  EXPECT_EQ(checkHostname(std::string(63, 'a') + ".com", true), std::nullopt);
}

TEST(IsToken, FollowsRfc9110) {
  EXPECT_TRUE(isToken("GET"));
  EXPECT_TRUE(isToken("x-custom_header.1"));
  EXPECT_TRUE(isToken("!#$%&'*+-.^_`|~"));
  EXPECT_FALSE(isToken(""));
  EXPECT_FALSE(isToken("a b"));
  EXPECT_FALSE(isToken("a:b"));
  EXPECT_FALSE(isToken("a\"b"));
  EXPECT_FALSE(isToken("\xc3\xa9"));
}

TEST(CheckPath, RequiresNormalizedAbsolutePaths) {
  for (const char* path : {"/", "/v1", "/v1/", "/a.b/c-d_e~f", "/%41"}) {
    EXPECT_EQ(checkPath(path), std::nullopt) << path;
  }
  for (const char* path : {"", "v1", "/a?b", "/a#b", "/a b", "/a//b", "/a/./b", "/a/../b", "/a/.",
                           "/a/..", "/a%2fb", "/a%5Cb", "/\x01"}) {
    EXPECT_NE(checkPath(path), std::nullopt) << path;
  }
  EXPECT_EQ(checkRequestTarget("/health?full=1"), std::nullopt);
  EXPECT_NE(checkRequestTarget("health"), std::nullopt);
}

TEST(CheckName, LettersDigitsAndPunctuation) {
  EXPECT_EQ(checkName("api-v1"), std::nullopt);
  EXPECT_EQ(checkName("Api_v1.2"), std::nullopt);
  EXPECT_NE(checkName(""), std::nullopt);
  EXPECT_NE(checkName("-api"), std::nullopt);
  EXPECT_NE(checkName("api v1"), std::nullopt);
  EXPECT_NE(checkName(std::string(129, 'a')), std::nullopt);
}

TEST(Quote, EscapesAndShortens) {
  EXPECT_EQ(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\x0a\"");
  EXPECT_EQ(quote(std::string(100, 'x')), "\"" + std::string(80, 'x') + "...\"");
}

} // namespace
} // namespace fulcrum::config
