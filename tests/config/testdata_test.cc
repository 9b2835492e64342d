// Table-driven validator tests. Each testdata/bad/NAME.{yaml,json} comes with NAME.expected: the
// exact diagnostics, one `file:line:col: path: message` per line, in document order. Every file in
// testdata/good/ and examples/ must load without errors.
//
// To regenerate the expectations after an intended change to messages, run the test binary with
// FULCRUM_UPDATE_EXPECTED=1 and review the diff.

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "config/loader.h"
#include "test_util.h"

namespace fulcrum::config {
namespace {

using testing::configFiles;
using testing::formatErrors;
using testing::readFile;
using testing::testData;

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

class BadConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(BadConfig, ReportsExactlyTheExpectedErrors) {
  const auto dir = testData() / "bad";
  const std::string file = GetParam();
  // Loaded under its bare name so that the expectations do not depend on the checkout location.
  LoadResult result = loadString(readFile(dir / file), file);
  const std::string actual = formatErrors(result.errors);
  const auto expectedPath = (dir / file).replace_extension(".expected");
  if (std::getenv("FULCRUM_UPDATE_EXPECTED") != nullptr) {
    std::ofstream(expectedPath, std::ios::binary) << actual;
  }
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.errors.empty());
  ASSERT_TRUE(std::filesystem::exists(expectedPath)) << expectedPath;
  EXPECT_EQ(readFile(expectedPath), actual);
}

INSTANTIATE_TEST_SUITE_P(Testdata, BadConfig, ::testing::ValuesIn(configFiles(testData() / "bad")),
                         testName);

class GoodConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(GoodConfig, LoadsWithoutErrors) {
  LoadResult result = loadFile((testData() / "good" / GetParam()).string());
  EXPECT_TRUE(result.ok()) << formatErrors(result.errors);
  EXPECT_TRUE(result.errors.empty());
}

INSTANTIATE_TEST_SUITE_P(Testdata, GoodConfig,
                         ::testing::ValuesIn(configFiles(testData() / "good")), testName);

class ExampleConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(ExampleConfig, LoadsWithoutErrors) {
  LoadResult result = loadFile((testing::examples() / GetParam()).string());
  EXPECT_TRUE(result.ok()) << formatErrors(result.errors);
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleConfig,
                         ::testing::ValuesIn(configFiles(testing::examples())), testName);

// NAME.expected belongs to exactly one NAME.{yaml,yml,json}.
TEST(BadConfigTable, NamesAreUniqueWithoutExtension) {
  std::set<std::string> stems;
  for (const auto& name : configFiles(testData() / "bad")) {
    EXPECT_TRUE(stems.insert(std::filesystem::path(name).stem().string()).second) << name;
  }
}

// Every .expected file belongs to a config, so none is silently skipped after a rename.
TEST(BadConfigTable, EveryExpectationHasAConfig) {
  for (const auto& entry : std::filesystem::directory_iterator(testData() / "bad")) {
    if (entry.path().extension() != ".expected") {
      continue;
    }
    auto stem = entry.path();
    bool found = false;
    for (const char* ext : {".yaml", ".yml", ".json"}) {
      found = found || std::filesystem::exists(stem.replace_extension(ext));
    }
    EXPECT_TRUE(found) << entry.path();
  }
}

} // namespace
} // namespace fulcrum::config
