#include <gtest/gtest.h>

#include "control/line_diff.h"

namespace fulcrum::control {
namespace {

// Applies an edit script to `a` and returns the result, to check it yields `b`.
std::vector<std::string_view> apply(const std::vector<std::string_view>& a,
                                    const std::vector<std::string_view>& b,
                                    const std::vector<Edit>& script) {
  std::vector<std::string_view> out;
  for (const auto& e : script) {
    if (e.kind == EditKind::Keep) {
      EXPECT_EQ(a[e.oldLine], b[e.newLine]);
      out.push_back(a[e.oldLine]);
    } else if (e.kind == EditKind::Insert) {
      out.push_back(b[e.newLine]);
    }
  }
  return out;
}

size_t changes(const std::vector<Edit>& script) {
  size_t n = 0;
  for (const auto& e : script) {
    n += e.kind != EditKind::Keep ? 1 : 0;
  }
  return n;
}

TEST(LineDiffTest, ScriptsAreMinimalAndCorrect) {
  struct Case {
    std::string a, b;
    size_t distance;
  } cases[] = {
      {"", "", 0},
      {"a\n", "a\n", 0},
      {"", "a\nb\n", 2},
      {"a\nb\n", "", 2},
      {"a\nb\nc\nd\n", "a\nx\nc\nd\n", 2},
      {"a\nb\nc\na\nb\nb\na\n", "c\nb\na\nb\na\nc\n", 5}, // Myers' paper example
      {"x\na\nb\n", "a\nb\ny\n", 2},
  };
  for (const auto& c : cases) {
    auto a = splitLines(c.a);
    auto b = splitLines(c.b);
    auto script = diffLines(a, b);
    EXPECT_EQ(apply(a, b, script), b) << c.a << " -> " << c.b;
    EXPECT_EQ(changes(script), c.distance) << c.a << " -> " << c.b;
  }
}

TEST(LineDiffTest, UnifiedDiffHasHunksWithContext) {
  std::string a;
  std::string b;
  for (int i = 1; i <= 20; ++i) {
    a += "line " + std::to_string(i) + "\n";
    b += (i == 5 ? std::string("five\n") : "line " + std::to_string(i) + "\n");
  }
  b += "line 21\n";
  EXPECT_EQ(unifiedDiff(a, b, "old", "new"), "--- old\n"
                                             "+++ new\n"
                                             "@@ -2,7 +2,7 @@\n"
                                             " line 2\n"
                                             " line 3\n"
                                             " line 4\n"
                                             "-line 5\n"
                                             "+five\n"
                                             " line 6\n"
                                             " line 7\n"
                                             " line 8\n"
                                             "@@ -18,3 +18,4 @@\n"
                                             " line 18\n"
                                             " line 19\n"
                                             " line 20\n"
                                             "+line 21\n");
  EXPECT_EQ(unifiedDiff(a, a, "old", "new"), "");
  EXPECT_EQ(unifiedDiff("", "x\n", "empty", "new"), "--- empty\n+++ new\n@@ -0,0 +1,1 @@\n+x\n");
}

TEST(LineDiffTest, LargeInputsStayFast) {
  std::string a;
  std::string b;
  for (int i = 0; i < 5000; ++i) {
    a += std::to_string(i) + "\n";
    b += std::to_string(i % 7 == 0 ? -i : i) + "\n";
  }
  auto script = diffLines(splitLines(a), splitLines(b));
  EXPECT_EQ(apply(splitLines(a), splitLines(b), script), splitLines(b));
}

} // namespace
} // namespace fulcrum::control
