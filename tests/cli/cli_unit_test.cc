// Unit tests of fulcrumctl's pieces that need no server: URL parsing, the YAML printer, mapping
// server diagnostics back to the user's files, the table printer, percent-encoding.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "cli/api_client.h"
#include "cli/http_client.h"
#include "cli/printer.h"
#include "cli/submission.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

TEST(ServerUrl, ParsesHostPortAndBase) {
  std::string error;
  auto url = parseServerUrl("http://127.0.0.1:7070", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "7070");
  EXPECT_EQ(url->basePath, "");
  EXPECT_EQ(url->text, "http://127.0.0.1:7070");

  url = parseServerUrl("control.internal:9000/fulcrum/", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "control.internal");
  EXPECT_EQ(url->port, "9000");
  EXPECT_EQ(url->basePath, "/fulcrum");
  EXPECT_EQ(url->text, "http://control.internal:9000/fulcrum");

  url = parseServerUrl("http://[::1]:7070", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "7070");

  url = parseServerUrl("HTTP://example.com", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->port, "80");
}

TEST(ServerUrl, RefusesWhatItCannotUse) {
  for (const char* bad : {"https://h:1", "ftp://h", "http://:80", "http://h:0", "http://h:99999",
                          "http://h:x", "http://u:p@h:1", "http://[::1", "http://h:1/?q"}) {
    std::string error;
    EXPECT_FALSE(parseServerUrl(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(Yaml, QuotesStringsThatWouldReadBackAsSomethingElse) {
  Json value = {{"plain", "web"},
                {"address", "127.0.0.1:8080"},
                {"words", Json::array({"true", "no", "on", "null", "~", "", "y"})},
                {"numbers", Json::array({"12", "1.5", "0x1f", "1e3", "1:30", ".inf", "0o7"})},
                {"dates", "2024-01-02T03:04:05.000Z"},
                {"syntax", Json::array({"a: b", "a #b", "- x", "#x", "x:", " x", "*x", "---"})},
                {"yes", 1},
                {"real", 1.5},
                {"flag", false},
                {"nothing", nullptr}};
  EXPECT_EQ(formatYaml(value), R"(plain: web
address: 127.0.0.1:8080
words:
  - "true"
  - "no"
  - "on"
  - "null"
  - "~"
  - ""
  - "y"
numbers:
  - "12"
  - "1.5"
  - "0x1f"
  - "1e3"
  - "1:30"
  - ".inf"
  - "0o7"
dates: "2024-01-02T03:04:05.000Z"
syntax:
  - "a: b"
  - "a #b"
  - "- x"
  - "#x"
  - "x:"
  - " x"
  - "*x"
  - "---"
"yes": 1
real: 1.5
flag: false
nothing: null
)");
}

TEST(Yaml, NestsCollectionsAndWritesMultiLineTextAsLiteralBlocks) {
  Json value = {{"items", Json::array({Json{{"name", "a"}, {"list", Json::array({1, 2})}},
                                       Json::array({"x", "z"}), Json::object(), Json::array()})},
                {"config", "apiVersion: fulcrum/v1\nlisteners: []\n"},
                {"noNewline", "a\nb"},
                {"twoNewlines", "a\n\n"},
                {"indented", "  a\nb\n"},
                {"control", "a\x01\nb"}};
  EXPECT_EQ(formatYaml(value), "items:\n"
                               "  - name: a\n"
                               "    list:\n"
                               "      - 1\n"
                               "      - 2\n"
                               "  - - x\n"
                               "    - z\n"
                               "  - {}\n"
                               "  - []\n"
                               "config: |\n"
                               "  apiVersion: fulcrum/v1\n"
                               "  listeners: []\n"
                               "noNewline: |-\n"
                               "  a\n"
                               "  b\n"
                               "twoNewlines: |+\n"
                               "  a\n"
                               "\n"
                               "indented: |2\n"
                               "    a\n"
                               "  b\n"
                               "control: \"a\\u0001\\nb\"\n");
  EXPECT_EQ(formatYaml(Json::array()), "[]\n");
  EXPECT_EQ(formatYaml(Json("x\x7f")), "\"x\\x7f\"\n");
  EXPECT_EQ(formatYaml(Json(1e20)), "1.0e+20\n");
}

class SubmissionTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fulcrumctl-unit-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(SubmissionTest, OneFileIsSentAsIs) {
  auto a = write("a.yaml", "apiVersion: fulcrum/v1\n");
  auto s = Submission::read({a});
  EXPECT_TRUE(s.unreadable().empty());
  EXPECT_EQ(s.text(), "apiVersion: fulcrum/v1\n");
  EXPECT_EQ(s.filename(), a);
  auto located = s.locate({config::Diagnostic{a, 1, 3, "p", "m"}});
  EXPECT_EQ(located[0].format(), a + ":1:3: p: m");
}

TEST_F(SubmissionTest, SeveralFilesBecomeOneStreamMappedBack) {
  auto a = write("a.yaml", "apiVersion: fulcrum/v1\npools: []"); // no final newline
  auto b = write("b.yaml", "# comment\n---\napiVersion: fulcrum/v1\n");
  auto c = write("c.yaml", "apiVersion: fulcrum/v1\nroutes: []\n");
  auto s = Submission::read({a, b, c});
  EXPECT_EQ(s.text(), "apiVersion: fulcrum/v1\npools: []\n"
                      "# comment\n---\napiVersion: fulcrum/v1\n"
                      "---\napiVersion: fulcrum/v1\nroutes: []\n");
  const std::string sent = s.filename();
  EXPECT_NE(sent, a);
  auto located = s.locate(
      {config::Diagnostic{sent, 2, 1, "pools", "x"}, config::Diagnostic{sent, 4, 2, "", "y"},
       config::Diagnostic{sent, 8, 5, "routes[0].name",
                          "duplicate; first defined at pools[0].name (" + sent + ":2:7)"}});
  EXPECT_EQ(located[0].format(), a + ":2:1: pools: x");
  EXPECT_EQ(located[1].format(), b + ":2:2: y");
  EXPECT_EQ(located[2].format(),
            c + ":2:5: routes[0].name: duplicate; first defined at pools[0].name (" + a + ":2:7)");
  EXPECT_EQ(s.describe(), a + ", " + b + ", " + c);
}

TEST_F(SubmissionTest, UnreadableFilesAreReportedLikeValidate) {
  auto s = Submission::read({(dir_ / "missing.yaml").string()});
  ASSERT_EQ(s.unreadable().size(), 1u);
  EXPECT_EQ(s.unreadable()[0].format(),
            (dir_ / "missing.yaml").string() + ": cannot read file: No such file or directory");
}

TEST(Views, RevisionsTableAndWriteSummary) {
  Json answer = Json::parse(R"({"current": 2, "items": [
      {"number": 2, "author": "ada", "time": "2024-01-02T00:00:00.000Z", "message": "two\nlines",
       "source": "git:abcdef0", "hash": "h", "parent": 1},
      {"number": 1, "author": "eddie", "time": "2024-01-01T00:00:00.000Z", "message": "one",
       "source": "cli", "hash": "h", "parent": 0}]})");
  std::ostringstream out;
  std::ostringstream err;
  makeTablePrinter(out, err)->print(revisionsView(answer));
  EXPECT_EQ(out.str(), "REVISION  TIME                      AUTHOR  SOURCE       MESSAGE\n"
                       "2         2024-01-02T00:00:00.000Z  ada     git:abcdef0  two lines\n"
                       "1         2024-01-01T00:00:00.000Z  eddie   cli          one\n");

  Json write = Json::parse(R"({"revision": {"number": 3, "author": "ada", "message": "undo"},
      "current": 3, "dryRun": false, "unchanged": false, "created": false,
      "diff": "--- revision 2\n+++ revision 3\n@@ -1,2 +1,2 @@\n-a\n+b\n+c\n"})");
  out.str("");
  makeTablePrinter(out, err)->print(writeView(write, "applied"));
  EXPECT_EQ(out.str(), "revision 3 applied (+2 -1 lines) by ada: undo\n");
}

TEST(Encoding, PercentEncodesPathSegmentsAndHeaderText) {
  EXPECT_EQ(encodePathSegment("web-1.a_b~"), "web-1.a_b~");
  EXPECT_EQ(encodePathSegment("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(encodeHeaderText("first cut: 100%"), "first cut: 100%25");
  EXPECT_EQ(encodeHeaderText("d\xc3\xa9j\xc3\xa0\n"), "d%C3%A9j%C3%A0%0A");
}

} // namespace
} // namespace fulcrum::cli
