// Differential test of incremental decoding: loading a sequence of revisions through one
// DecodeCache gives, revision by revision, the same Config (fields and locations) and the same
// diagnostics as a fresh load.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/decode_cache.h"
#include "config/document.h"
#include "config/loader.h"
#include "config/serialize.h"
#include "test_util.h"

namespace fulcrum::config {
namespace {

using testing::formatErrors;

// A scratch directory (loadFile needs real files); removed afterwards.
class TempDir {
public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("fulcrum-decode-cache-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, std::string_view text) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p.string();
  }

private:
  std::filesystem::path path_;
};

std::string where(const Location& l) {
  return l.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.column);
}

// Every Location of the routes (toJson leaves them out).
std::string routeLocations(const Config& c) {
  std::string out;
  for (const auto& route : c.routes) {
    out += route.name + "@" + where(route.location) + "\n";
    for (const auto& rule : route.rules) {
      out += " rule@" + where(rule.location);
      for (const auto& m : rule.matches) {
        out += " m@" + where(m.location);
      }
      for (const auto& b : rule.backends) {
        out += " b@" + where(b.location);
      }
      for (const auto& f : rule.filters) {
        out += " f@" + where(f.location);
      }
      out += "\n";
    }
  }
  return out;
}

void expectSame(const LoadResult& fresh, const LoadResult& cached, const std::string& label) {
  SCOPED_TRACE(label);
  EXPECT_EQ(formatErrors(cached.errors), formatErrors(fresh.errors));
  ASSERT_EQ(cached.ok(), fresh.ok());
  EXPECT_EQ(cached.hash, fresh.hash);
  if (fresh.ok()) {
    EXPECT_EQ(toJson(*cached.config).dump(), toJson(*fresh.config).dump());
    EXPECT_EQ(routeLocations(*cached.config), routeLocations(*fresh.config));
  }
}

std::string route(const std::string& name, const std::string& host, const std::string& prefix,
                  const std::string& pool, const std::string& extra = "") {
  return "  - name: " + name + "\n    hostnames: [" + host +
         "]\n    rules:\n      - matches: [{path: {type: PathPrefix, value: " + prefix +
         "}}, {path: {type: RegularExpression, value: '" + prefix +
         "/[0-9]+'}}]\n        backends: [{pool: " + pool + ", weight: 2}, {pool: b}]\n" + extra;
}

constexpr const char* kFilters =
    "        filters:\n"
    "          - type: RequestHeaderModifier\n"
    "            requestHeaderModifier: {set: [{name: x-a, value: '1'}], remove: [x-b]}\n";

std::string document(const std::vector<std::string>& routes, bool poolA = true) {
  std::string out = "apiVersion: fulcrum/v1\nlisteners:\n  - {name: web, address: "
                    "127.0.0.1:0}\nroutes:\n";
  for (const auto& r : routes) {
    out += r;
  }
  out += "pools:\n";
  if (poolA) {
    out += "  - name: a\n    endpoints: [{address: 127.0.0.1:9001}]\n";
  }
  out += "  - name: b\n    endpoints: [{address: 127.0.0.1:9002}]\n";
  return out;
}

struct Revision {
  std::string label;
  std::string text;
};

// Same kinds, marks, scalars and quoting (NodeRef has no comparison of its own).
bool sameSubtree(NodeRef a, NodeRef b) {
  if (a.kind() != b.kind() || a.mark().line != b.mark().line ||
      a.mark().column != b.mark().column || a.scalar() != b.scalar() || a.quoted() != b.quoted() ||
      a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a.isMap() ? !sameSubtree(a.key(i), b.key(i)) || !sameSubtree(a.value(i), b.value(i))
                  : !sameSubtree(a.item(i), b.item(i))) {
      return false;
    }
  }
  return true;
}

TEST(DecodeCacheTest, RevisionsLoadAsFromScratch) {
  const std::string r1 = route("one", "a.example", "/one", "a", kFilters);
  const std::string r2 = route("two", "b.example", "/two", "a");
  const std::string r3 = route("three", "c.example", "/three", "b");
  const std::string r4 = route("four", "d.example", "/four", "a");
  const std::vector<Revision> revisions{
      {"base", document({r1, r2, r3})},
      {"unchanged text, other hash", document({r1, r2, r3}) + "# again\n"},
      {"appended", document({r1, r2, r3, r4})},
      {"changed in the middle", document({r1, route("two", "b.example", "/2", "a"), r3, r4})},
      {"reordered", document({r3, r1, r2, r4})},
      {"renamed", document({r1, route("deux", "b.example", "/two", "a"), r3})},
      {"removed", document({r1, r3})},
      {"back to base", document({r1, r2, r3})},
      // A reused route that now references a removed pool: still reported.
      {"pool removed", document({r1, r2, r3}, /*poolA=*/false)},
      {"base again", document({r1, r2, r3})},
      // A new route shadowing a reused one, and a duplicate of a reused route's name.
      {"conflicts", document({r1, r2, r3, route("two", "a.example", "/one", "b")})},
      {"base once more", document({r1, r2, r3})},
      {"json",
       R"({"apiVersion": "fulcrum/v1", "routes": [{"name": "j", "rules": [{"backends": [{"pool": "b"}]}]}],
           "pools": [{"name": "b", "endpoints": [{"address": "127.0.0.1:9002"}]}]})"},
      {"json with one more route",
       R"({"apiVersion": "fulcrum/v1", "routes": [{"name": "j", "rules": [{"backends": [{"pool": "b"}]}]}, {"name": "k", "hostnames": ["k.example"], "rules": [{"backends": [{"pool": "b"}]}]}],
           "pools": [{"name": "b", "endpoints": [{"address": "127.0.0.1:9002"}]}]})"},
  };
  TempDir dir;
  DecodeCache cache;
  size_t reusedTotal = 0;
  for (const auto& revision : revisions) {
    const std::string path = dir.write("config.yaml", revision.text);
    LoadResult cached = loadFile(path, cache);
    LoadResult fresh = loadFile(path);
    expectSame(fresh, cached, revision.label);
    reusedTotal += cache.reused();
  }
  EXPECT_GT(reusedTotal, 10u); // the cache was actually used
}

TEST(DecodeCacheTest, ReusesOnlyRoutesAtTheSamePlace) {
  TempDir dir;
  DecodeCache cache;
  const std::string r1 = route("one", "a.example", "/one", "a");
  const std::string r2 = route("two", "b.example", "/two", "a");
  const std::string r3 = route("three", "c.example", "/three", "b");
  loadFile(dir.write("c.yaml", document({r1, r2})), cache);
  EXPECT_EQ(cache.decoded(), 2u);
  EXPECT_EQ(cache.reused(), 0u);

  loadFile(dir.write("c.yaml", document({r1, r2, r3})), cache); // appended
  EXPECT_EQ(cache.reused(), 2u);
  EXPECT_EQ(cache.decoded(), 1u);

  loadFile(dir.write("c.yaml", document({r3, r1, r2})), cache); // every route moved
  EXPECT_EQ(cache.reused(), 0u);
  EXPECT_EQ(cache.decoded(), 3u);

  // Another file name: locations differ, nothing is reused.
  loadFile(dir.write("d.yaml", document({r3, r1, r2})), cache);
  EXPECT_EQ(cache.reused(), 0u);
}

TEST(DecodeCacheTest, RoutesWithErrorsAreNotKept) {
  TempDir dir;
  DecodeCache cache;
  const std::string bad = "  - name: bad\n    rules: [{backends: [{pool: a, weight: -1}]}]\n";
  const std::string path = dir.write("c.yaml", document({bad}));
  LoadResult first = loadFile(path, cache);
  EXPECT_FALSE(first.ok());
  LoadResult second = loadFile(path, cache);
  EXPECT_EQ(cache.reused(), 0u);
  EXPECT_EQ(formatErrors(second.errors), formatErrors(first.errors));
  EXPECT_EQ(formatErrors(second.errors), formatErrors(loadFile(path).errors));
}

// Every test document (good and bad, all schema features, anchors, several documents): a load
// through a cache that has seen it, and one right after a different revision, give what a fresh
// load gives.
TEST(DecodeCacheTest, EveryTestDocumentReloadsAsFromScratch) {
  size_t reused = 0;
  for (const char* kind : {"good", "bad"}) {
    const auto dir = testing::testData() / kind;
    for (const auto& name : testing::configFiles(dir)) {
      const std::string path = (dir / name).string();
      DecodeCache cache;
      LoadResult first = loadFile(path, cache);
      LoadResult fresh = loadFile(path);
      expectSame(fresh, first, name + " (empty cache)");
      LoadResult again = loadFile(path, cache);
      expectSame(fresh, again, name + " (reused)");
      reused += cache.reused();
    }
  }
  EXPECT_GT(reused, 5u); // the routes of the good documents, at least
}

// --- JSON: unchanged route elements are not parsed (parseYaml with a cache) -----------------

// Loads `revisions` in turn through one cache, each compared with a fresh load; returns the
// routes reused over all of them.
size_t expectRevisions(const std::vector<Revision>& revisions, const std::string& file) {
  TempDir dir;
  DecodeCache cache;
  size_t reused = 0;
  for (const auto& revision : revisions) {
    const std::string path = dir.write(file, revision.text);
    LoadResult cached = loadFile(path, cache);
    LoadResult fresh = loadFile(path);
    expectSame(fresh, cached, revision.label);
    reused += cache.reused();
  }
  return reused;
}

// `prefix`: a path prefix, or (starting with '[') the rule's whole match list.
std::string jsonRoute(const std::string& name, const std::string& host, const std::string& prefix,
                      const std::string& pool = "a", const std::string& extra = "") {
  const std::string matches =
      prefix.starts_with("[") ? prefix
                              : R"([{"path": {"type": "PathPrefix", "value": ")" + prefix + "\"}}]";
  return R"({"name": ")" + name + R"(", "hostnames": [")" + host + R"("], "rules": [{"matches": )" +
         matches + R"(, "backends": [{"pool": ")" + pool + R"(", "weight": 2}, {"pool": "b"}])" +
         extra + "}]}";
}

// Strings the element scan must step over: escaped quotes and backslashes (`\\"` ends a string),
// brackets inside strings, \u escapes and multi-byte UTF-8.
const std::string kTrickyMatches =
    R"([{"path": {"type": "RegularExpression", "value": "^/caf\u00e9/日本\\{1\\}[\"\\\\]*[}\\]]?ü$"}},)"
    R"( {"headers": [{"name": "x-q", "value": "a\/b \\\\"}]}])";
// Nested objects and arrays (filters).
const std::string kNestedRule =
    R"(, "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1"}, {"name": "x-b", "value": "[{"}], "remove": ["x-c"]}}])";

// A JSON document: `routes` joined by `separator` (",\n" puts each route on its own line).
std::string jsonDocument(const std::vector<std::string>& routes,
                         const std::string& separator = ",\n", const std::string& pools = "") {
  std::string out = "{\"apiVersion\": \"fulcrum/v1\",\n \"listeners\": [{\"name\": \"web\", "
                    "\"address\": \"127.0.0.1:0\"}],\n \"routes\": [";
  for (size_t i = 0; i < routes.size(); ++i) {
    out += (i == 0 ? "" : separator) + routes[i];
  }
  out += "],\n \"pools\": [{\"name\": \"a\", \"endpoints\": [{\"address\": \"127.0.0.1:9001\"}]},\n"
         "  {\"name\": \"b\", \"endpoints\": [{\"address\": \"127.0.0.1:9002\"}]}" +
         pools + "]}\n";
  return out;
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(DecodeCacheJsonTest, RevisionsLoadAsFromScratch) {
  const std::string r1 = jsonRoute("one", "a.example", kTrickyMatches);
  // Routes spanning lines: the lines inside a skipped route are counted.
  const std::string r2 =
      replaceAll(jsonRoute("two", "b.example", "/two", "a", kNestedRule), ", \"", ",\n    \"");
  const std::string r3 =
      replaceAll(jsonRoute("three", "c.example", "/three", "b"), "{\"pool", "\n\t {\"pool");
  const std::string r4 = jsonRoute("four", "d.example", "/four", "a");
  const std::string base = jsonDocument({r1, r2, r3, r4});
  const std::vector<Revision> revisions{
      {"base", base},
      {"unchanged", base},
      {"appended", jsonDocument({r1, r2, r3, r4, jsonRoute("five", "e.example", "/five")})},
      {"changed in the middle",
       jsonDocument({r1, jsonRoute("two", "b.example", "/2", "a", kNestedRule), r3, r4})},
      {"base again", base},
      {"reordered", jsonDocument({r3, r1, r2, r4})},
      {"base 2", base},
      {"moved by whitespace", jsonDocument({r1, " " + r2, r3, r4})},
      {"everything moved down a line", "\n" + base},
      {"base 3", base},
      {"not a map", jsonDocument({r1, r2, r3, r4, "42", "[{\"name\": \"x\"}]", "null", "\"s\""})},
      {"not a map in the middle", jsonDocument({r1, "[1, [2]]", r3, r4})},
      {"base 4", base},
      // A new route with the name of a reused route before it, and one after it.
      {"duplicate names", jsonDocument({jsonRoute("two", "x.example", "/x"), r2, r3, r4,
                                        jsonRoute("three", "y", "/y")})},
      // A new route shadowing a reused one's match.
      {"shadowed match", jsonDocument({r1, r2, r3, r4, jsonRoute("six", "b.example", "/two")})},
      {"base 5", base},
      // A reused route whose pool is gone.
      {"pool gone",
       replaceAll(base, "{\"name\": \"a\", \"endpoints\"", "{\"name\": \"z\", \"endpoints\"")},
      {"base 6", base},
      // Errors after skipped routes: their line and column come out exact.
      {"syntax error after the routes", jsonDocument({r1, r2, r3, r4}, ",\n", ",\n  {\"name\": }")},
      {"base 7", base},
      {"syntax error in a changed route",
       jsonDocument({r1, r2, R"({"name": "three" "rules": []})", r4})},
      {"base 8", base},
      {"unterminated string after the routes",
       jsonDocument({r1, r2, r3, r4}, ",\n", ",\n  {\"name\": \"c}")},
      {"base 9", base},
      {"nested too deep after the routes",
       jsonDocument({r1, r2, r3, r4}, ",\n",
                    ",\n  " + std::string(70, '[') + std::string(70, ']'))},
      {"base 10", base},
      {"validation error after the routes",
       jsonDocument({r1, r2, r3, r4}, ",\n", ",\n  {\"name\": \"c\", \"endpoint\": []}")},
      {"base 11", base},
      {"truncated", base.substr(0, base.size() / 2)},
      {"base 12", base},
      {"one line", jsonDocument({r1, r2, r3, r4}, ", ")},
      {"one line, appended",
       jsonDocument({r1, r2, r3, r4, jsonRoute("f", "f.example", "/f")}, ", ")},
      {"crlf", replaceAll(base, "\n", "\r\n")},
      {"crlf again", replaceAll(base, "\n", "\r\n")},
      {"crlf, appended",
       replaceAll(jsonDocument({r1, r2, r3, r4, jsonRoute("five", "e.example", "/five")}), "\n",
                  "\r\n")},
      {"base 13", base},
      // Two "routes" keys: the decoder reads the first and reports the second.
      {"duplicate routes key",
       replaceAll(base, "\"pools\"", "\"routes\": [" + r1 + "], \"pools\"")},
      {"base 14", base},
  };
  EXPECT_GT(expectRevisions(revisions, "config.json"), 40u);
}

TEST(DecodeCacheJsonTest, SwitchesBetweenJsonAndYaml) {
  const std::string r1 = route("one", "a.example", "/one", "a", kFilters);
  const std::string r2 = route("two", "b.example", "/two", "a");
  const std::string json = jsonDocument({jsonRoute("one", "a.example", "/one", "a", kNestedRule),
                                         jsonRoute("two", "b.example", "/two")});
  const std::vector<Revision> revisions{
      {"json", json},
      {"json again", json},
      {"yaml", document({r1, r2})},
      {"yaml again", document({r1, r2})},
      {"json once more", json},
      {"json, last time", json},
  };
  EXPECT_GT(expectRevisions(revisions, "config"), 4u);
}

// The parser skips exactly the elements the cache holds, and every mark after them is exact.
TEST(DecodeCacheJsonTest, ParserSkipsCachedElements) {
  const std::vector<std::string> routes{
      jsonRoute("one", "a.example", kTrickyMatches),
      replaceAll(jsonRoute("two", "b.example", "/two", "a", kNestedRule), ", \"", ",\n  \""),
      jsonRoute("three", "c.example", "/three")};
  const std::string text = jsonDocument(routes, ",\n\t ");
  TempDir dir;
  const std::string path = dir.write("c.json", text);
  DecodeCache cache;
  loadFile(path, cache);
  EXPECT_EQ(cache.decoded(), 3u);
  loadFile(path, cache);
  EXPECT_EQ(cache.reused(), 3u);
  EXPECT_EQ(cache.decoded(), 0u);

  cache.beginLoad(); // the entries of the loads above become the ones to reuse
  ParseOutput lazy = parseYaml(text, &cache, path);
  ParseOutput full = parseYaml(text);
  ASSERT_FALSE(lazy.error);
  ASSERT_EQ(lazy.tree->documents().size(), 1u);
  NodeRef lazyRoot = lazy.tree->documents()[0];
  NodeRef fullRoot = full.tree->documents()[0];
  ASSERT_EQ(lazyRoot.size(), fullRoot.size());
  for (size_t i = 0; i < fullRoot.size(); ++i) {
    EXPECT_EQ(lazyRoot.key(i).mark().line, fullRoot.key(i).mark().line);
    EXPECT_EQ(lazyRoot.key(i).mark().column, fullRoot.key(i).mark().column);
    if (fullRoot.key(i).scalar() == "routes") {
      NodeRef list = lazyRoot.value(i);
      ASSERT_EQ(list.size(), 3u);
      for (size_t j = 0; j < 3; ++j) {
        EXPECT_TRUE(list.item(j).reused());
        EXPECT_TRUE(list.item(j).contentKey().has_value());
        EXPECT_EQ(list.item(j).mark().line, fullRoot.value(i).item(j).mark().line);
        EXPECT_EQ(list.item(j).mark().column, fullRoot.value(i).item(j).mark().column);
      }
    } else {
      EXPECT_TRUE(sameSubtree(lazyRoot.value(i), fullRoot.value(i)));
    }
  }
  // Another file name, or the same bytes one line further down: nothing is skipped.
  for (const auto& [file, shifted] :
       {std::pair{std::string("other.json"), text}, std::pair{path, "\n" + text}}) {
    ParseOutput again = parseYaml(shifted, &cache, file);
    ASSERT_FALSE(again.error);
    NodeRef root = again.tree->documents()[0];
    for (size_t i = 0; i < root.size(); ++i) {
      if (root.key(i).scalar() == "routes") {
        for (size_t j = 0; j < root.value(i).size(); ++j) {
          EXPECT_FALSE(root.value(i).item(j).reused()) << file << " " << j;
          EXPECT_TRUE(root.value(i).item(j).contentKey().has_value());
        }
      }
    }
  }
}

} // namespace
} // namespace fulcrum::config
