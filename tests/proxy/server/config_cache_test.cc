#include "proxy/server/config_cache.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace fulcrum::server {
namespace {

class ConfigCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/fulcrum-cache-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string root_;
};

TEST_F(ConfigCacheTest, MissingFileIsNoEntry) {
  ConfigCache cache(root_ + "/never-written");
  auto read = cache.read();
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_FALSE(read.value().has_value());
}

TEST_F(ConfigCacheTest, WriteCreatesTheDirectoryAndReadsBack) {
  ConfigCache cache(root_ + "/a/b/proxy-1");
  CachedConfig entry{42, "00aa", "etcd://127.0.0.1:2379", "2026-11-27T00:00:00.000Z",
                     "apiVersion: fulcrum/v1\n# a comment\"quoted\"\n"};
  auto written = cache.write(entry);
  ASSERT_TRUE(written) << written.error().message;
  auto read = cache.read();
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_TRUE(read.value().has_value());
  EXPECT_EQ(read.value()->revision, 42u);
  EXPECT_EQ(read.value()->hash, "00aa");
  EXPECT_EQ(read.value()->store, entry.store);
  EXPECT_EQ(read.value()->savedAt, entry.savedAt);
  EXPECT_EQ(read.value()->config, entry.config);
}

TEST_F(ConfigCacheTest, RewriteReplacesAndLeavesNoTempFiles) {
  ConfigCache cache(root_);
  ASSERT_TRUE(cache.write(CachedConfig{1, "h1", "file:///s", "t", "one"}));
  ASSERT_TRUE(cache.write(CachedConfig{2, "h2", "file:///s", "t", "two"}));
  auto read = cache.read();
  ASSERT_TRUE(read && read.value());
  EXPECT_EQ(read.value()->revision, 2u);
  EXPECT_EQ(read.value()->config, "two");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_)) {
    EXPECT_EQ(e.path().filename(), "last-good.json");
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(ConfigCacheTest, ForeignOrBrokenFileIsAnError) {
  ConfigCache cache(root_);
  std::ofstream(cache.path()) << "{\"format\": \"something else\"}";
  auto read = cache.read();
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("not a fulcrum-proxy cache"), std::string::npos);
  std::ofstream(cache.path()) << "{\"format\": \"fulcrum-proxy-cache 1\", \"revision\": \"x\"}";
  EXPECT_FALSE(cache.read());
  std::ofstream(cache.path()) << "{trunc";
  EXPECT_FALSE(cache.read());
}

TEST(DefaultCacheDir, FollowsXdgStateHomeThenHome) {
  const char* oldState = std::getenv("XDG_STATE_HOME");
  const char* oldHome = std::getenv("HOME");
  const std::string savedState = oldState ? oldState : "";
  const std::string savedHome = oldHome ? oldHome : "";
  ::setenv("XDG_STATE_HOME", "/var/state", 1);
  EXPECT_EQ(defaultCacheDir("p1"), "/var/state/fulcrum/proxy-p1");
  ::unsetenv("XDG_STATE_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(defaultCacheDir("p1"), "/home/u/.local/state/fulcrum/proxy-p1");
  ::unsetenv("HOME");
  EXPECT_EQ(defaultCacheDir("p1"), "./run/cache/proxy-p1");
  if (oldState) {
    ::setenv("XDG_STATE_HOME", savedState.c_str(), 1);
  }
  if (oldHome) {
    ::setenv("HOME", savedHome.c_str(), 1);
  }
}

} // namespace
} // namespace fulcrum::server
