#include <gtest/gtest.h>

#include "config/loader.h"
#include "control/documents.h"

namespace fulcrum::control {
namespace {

TEST(DocumentsTest, YamlScalarsGetCoreTypes) {
  auto parsed = parseDocument("a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: \"1\"\ng: on\nh: x y\n");
  ASSERT_TRUE(parsed.value) << parsed.error;
  const Json& j = *parsed.value;
  EXPECT_EQ(j["a"], 1);
  EXPECT_EQ(j["b"], -2);
  EXPECT_EQ(j["c"], 1.5);
  EXPECT_EQ(j["d"], true);
  EXPECT_TRUE(j["e"].is_null());
  EXPECT_EQ(j["f"], "1");
  EXPECT_EQ(j["g"], "on"); // YAML 1.2: not a boolean
  EXPECT_EQ(j["h"], "x y");
}

TEST(DocumentsTest, JsonParsesAndKeyOrderIsKept) {
  auto parsed = parseDocument(R"({"z": [1, "two", {"k": null}], "a": false})");
  ASSERT_TRUE(parsed.value) << parsed.error;
  EXPECT_EQ(parsed.value->dump(), R"({"z":[1,"two",{"k":null}],"a":false})");
}

TEST(DocumentsTest, RefusesDuplicatesAndStreams) {
  auto dup = parseDocument("a: 1\nb: 2\na: 3\n");
  ASSERT_FALSE(dup.value);
  EXPECT_EQ(dup.error, "3:1: duplicate key \"a\"");
  EXPECT_FALSE(parseDocument("a: 1\n---\nb: 2\n").value);
  EXPECT_FALSE(parseDocument("a: [1,\n").value);
  EXPECT_FALSE(parseDocument("").value);
}

TEST(DocumentsTest, YamlOutputReadsBackAsTheSameJson) {
  Json j = {{"s", "on"},
            {"n", "12"},
            {"e", ""},
            {"t", "true"},
            {"num", 12},
            {"f", 0.25},
            {"b", false},
            {"nil", nullptr},
            {"list", Json::array()},
            {"nested", {{"x", Json::array({1, "a: b", "- c"})}}}};
  std::string yaml = toYaml(j);
  auto back = parseDocument(yaml);
  ASSERT_TRUE(back.value) << back.error << "\n" << yaml;
  EXPECT_EQ(*back.value, j) << yaml;
}

TEST(DocumentsTest, NormalizedDocumentsLoadAgain) {
  auto loaded =
      config::loadString("apiVersion: fulcrum/v1\nlisteners: [{name: l, address: 127.0.0.1:8080}]\n"
                         "routes: [{name: r, rules: [{backends: [{pool: p}]}]}]\n"
                         "pools: [{name: p, endpoints: [{address: 127.0.0.1:9000}]}]\n",
                         "t");
  ASSERT_TRUE(loaded.ok());
  std::string yaml = toYaml(normalized(*loaded.config));
  auto again = config::loadString(yaml, "again");
  ASSERT_TRUE(again.ok()) << (again.errors.empty() ? "" : again.errors[0].format()) << "\n" << yaml;
  EXPECT_EQ(toYaml(normalized(*again.config)), yaml);
}

} // namespace
} // namespace fulcrum::control
