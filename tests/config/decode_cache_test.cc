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

TEST(DecodeCacheTest, RevisionsLoadAsFromScratch) {
  const std::string r1 = route("one", "a.example", "/one", "a", kFilters);
  const std::string r2 = route("two", "b.example", "/two", "a");
  const std::string r3 = route("three", "c.example", "/three", "b");
  const std::string r4 = route("four", "d.example", "/four", "a");
  struct Revision {
    std::string label;
    std::string text;
  };
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

} // namespace
} // namespace fulcrum::config
