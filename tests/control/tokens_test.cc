#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "control/tokens.h"

namespace fulcrum::control {
namespace {

TEST(TokensTest, ParsesRolesNamesAndComments) {
  auto table =
      parseTokens("# ops\n\nt-admin admin alice\nt-edit editor\n  t-view viewer\n", "tokens");
  ASSERT_TRUE(table) << table.error().message;
  ASSERT_EQ(table->tokens.size(), 3u);
  EXPECT_EQ(table->tokens.at("t-admin").name, "alice");
  EXPECT_EQ(table->tokens.at("t-admin").role, Role::Admin);
  EXPECT_EQ(table->tokens.at("t-edit").role, Role::Editor);
  EXPECT_EQ(table->tokens.at("t-edit").name.rfind("token:", 0), 0u);
  EXPECT_EQ(table->tokens.at("t-view").role, Role::Viewer);
}

TEST(TokensTest, ErrorsNameTheLine) {
  auto bad = parseTokens("a admin\nb root\n", "tokens");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("tokens:2:"), std::string::npos);
  EXPECT_FALSE(parseTokens("a admin x y\n", "t"));
  EXPECT_FALSE(parseTokens("a admin\na viewer\n", "t"));
  EXPECT_FALSE(parseTokens("lonely\n", "t"));
}

TEST(TokensTest, FileIsReloadedOnChangeAndKeptWhenBroken) {
  std::string path = ::testing::TempDir() + "/fulcrum-tokens-test";
  std::ofstream(path) << "one viewer\n";
  auto file = TokenFile::open(path);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_TRUE(file.value()->lookup("one"));
  EXPECT_FALSE(file.value()->lookup("two"));
  EXPECT_FALSE(file.value()->lookup("on"));
  std::ofstream(path) << "two admin bob\n# longer than before\n";
  auto two = file.value()->lookup("two");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->name, "bob");
  EXPECT_FALSE(file.value()->lookup("one"));
  std::ofstream(path) << "broken line with many fields\n";
  EXPECT_TRUE(file.value()->lookup("two")); // the previous tokens stay
  std::filesystem::remove(path);
  EXPECT_FALSE(TokenFile::open(path));
}

} // namespace
} // namespace fulcrum::control
