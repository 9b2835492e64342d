#include <gtest/gtest.h>

#include "config/document.h"

namespace fulcrum::config {
namespace {

TEST(ParseYaml, RecordsPositionsKindsAndQuoting) {
  auto out = parseYaml("a: 1\nb: \"two\"\nc:\n  - x\n  - {d: ~}\n");
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.tree->documents().size(), 1u);
  NodeRef root = out.tree->documents()[0];
  ASSERT_TRUE(root.isMap());
  ASSERT_EQ(root.size(), 3u);
  EXPECT_EQ(root.key(1).scalar(), "b");
  EXPECT_EQ(root.value(1).scalar(), "two");
  EXPECT_TRUE(root.value(1).quoted());
  EXPECT_FALSE(root.value(0).quoted());
  EXPECT_EQ(root.value(1).mark().line, 2);
  EXPECT_EQ(root.value(1).mark().column, 4);
  NodeRef list = root.value(2);
  ASSERT_TRUE(list.isSequence());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list.item(0).mark().line, 4);
  EXPECT_EQ(list.item(0).mark().column, 5);
  EXPECT_TRUE(list.item(1).value(0).isNull());
}

TEST(ParseYaml, KeepsDuplicateKeys) {
  auto out = parseYaml("a: 1\na: 2\n");
  ASSERT_FALSE(out.error);
  NodeRef root = out.tree->documents()[0];
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root.value(0).scalar(), "1");
  EXPECT_EQ(root.value(1).scalar(), "2");
}

TEST(ParseYaml, NullMapValueTakesItsKeysPosition) {
  auto out = parseYaml("a:\n\nb: 1\n");
  ASSERT_FALSE(out.error);
  NodeRef a = out.tree->documents()[0].value(0);
  EXPECT_TRUE(a.isNull());
  EXPECT_EQ(a.mark().line, 1);
  EXPECT_EQ(a.mark().column, 1);
}

TEST(ParseYaml, ParsesJsonWithPositions) {
  auto out = parseYaml("{\"a\":[1,\n\t{\"b\":\"\\u00e9\"}]}");
  ASSERT_FALSE(out.error) << out.error->message;
  NodeRef b = out.tree->documents()[0].value(0).item(1).value(0);
  EXPECT_EQ(b.scalar(), "\xc3\xa9");
  EXPECT_EQ(b.mark().line, 2);
  EXPECT_EQ(b.mark().column, 7);
}

TEST(ParseYaml, SharesAliasesAndSkipsEmptyDocuments) {
  auto out = parseYaml("---\n---\nx: &a [1, 2]\ny: *a\n---\n");
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.tree->documents().size(), 1u);
  NodeRef root = out.tree->documents()[0];
  EXPECT_EQ(root.value(1).size(), 2u);
  EXPECT_EQ(root.value(1).item(1).scalar(), "2");
}

TEST(ParseYaml, ReportsSyntaxErrorsWithPosition) {
  auto out = parseYaml("a: [1, 2\nb: 3\n");
  ASSERT_TRUE(out.error);
  EXPECT_GT(out.error->mark.line, 0);
  EXPECT_NE(out.error->message.find("YAML syntax error"), std::string::npos);
}

TEST(ParseYaml, BoundsDepthAliasesAndSize) {
  auto deep = parseYaml(std::string(200, '[') + std::string(200, ']'));
  ASSERT_TRUE(deep.error);
  EXPECT_EQ(deep.error->message, "document is nested deeper than 64 levels");
  EXPECT_EQ(deep.error->mark.column, 65);

  auto fine = parseYaml(std::string(64, '[') + std::string(64, ']'));
  EXPECT_FALSE(fine.error);

  auto recursive = parseYaml("a: &x [*x]\n");
  ASSERT_TRUE(recursive.error);
  EXPECT_NE(recursive.error->message.find("recursive alias"), std::string::npos);

  std::string bomb = "a: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) {
      bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
    }
    bomb += "]\n";
  }
  auto bombed = parseYaml(bomb);
  ASSERT_TRUE(bombed.error);
  EXPECT_NE(bombed.error->message.find("too many nodes"), std::string::npos);

  auto huge = parseYaml(std::string(kMaxDocumentBytes + 1, ' '));
  ASSERT_TRUE(huge.error);
  EXPECT_EQ(huge.error->message, "document is larger than 64 MiB");
}

TEST(ParseYaml, NeverThrowsOnGarbage) {
  for (const char* text : {"\x00\x01\x02", "{", "[", "- - -", ": :", "&a", "*a", "!!binary x",
                           "%YAML 9.9\n---\na", "\xff\xfe\x00", "'unterminated", "a: |\n b\n c"}) {
    auto out = parseYaml(text);
    (void)out;
  }
}

// The JSON fast path must build exactly the tree yaml-cpp builds, marks included.
TEST(ParseYaml, JsonFastPathMatchesYamlCpp) {
  const char* documents[] = {
      "{}",
      "[]",
      "{\"a\": 1, \"b\": [true, false, null, -0.5e+3, \"x\"], \"c\": {}}",
      "{\n  \"apiVersion\": \"fulcrum/v1\",\n  \"routes\": [\n    {\"name\": \"r\", \"rules\": "
      "[]}\n  ]\n}\n",
      "{\"a\":1,\"a\":2}",
      "{\"k\": null,\n\n \"m\": \"v\"}",
      "  \r\n\t{\"esc\": \"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9\\u20ac\"}  \n",
      "[[[[1]]], {\"deep\": [{\"er\": [0]}]}]",
      "{\"unicode\": \"h\xc3\xa9llo \xe2\x82\xac\"}",
  };
  for (const char* text : documents) {
    auto fast = parseYaml(text);
    auto reference = parseYamlStream(text);
    ASSERT_FALSE(fast.error) << text;
    ASSERT_FALSE(reference.error) << text;
    EXPECT_TRUE(sameTree(*fast.tree, *reference.tree)) << text;
  }
}

// What the fast path does not take goes to yaml-cpp and is judged (and located) as before.
TEST(ParseYaml, NonJsonFallsBackToYamlCpp) {
  const char* documents[] = {
      "{a: 1, b: [x, y]}",           // YAML flow, not JSON
      "{\"a\": 1,}",                 // trailing comma
      "{\"a\": \"\\ud83d\\ude00\"}", // surrogate pair
      "{\"a\": 01}",                 // leading zero
      "{\"a\": 1} {\"b\": 2}",       // trailing content
      "{\"a\": [1, 2}",              // unbalanced
  };
  for (const char* text : documents) {
    auto fast = parseYaml(text);
    auto reference = parseYamlStream(text);
    EXPECT_EQ(fast.error.has_value(), reference.error.has_value()) << text;
    if (fast.error && reference.error) {
      EXPECT_EQ(fast.error->message, reference.error->message) << text;
    } else if (!fast.error) {
      EXPECT_TRUE(sameTree(*fast.tree, *reference.tree)) << text;
    }
  }
}

TEST(ParseYaml, JsonFastPathKeepsTheNestingLimit) {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  auto fast = parseYaml(deep);
  auto reference = parseYamlStream(deep);
  ASSERT_TRUE(fast.error);
  ASSERT_TRUE(reference.error);
  EXPECT_EQ(fast.error->message, reference.error->message);
  EXPECT_EQ(fast.error->mark.column, reference.error->mark.column);
}

} // namespace
} // namespace fulcrum::config
