#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <tuple>

#include <unistd.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <xxhash.h>

#include "config/loader.h"
#include "config/serialize.h"
#include "test_util.h"

namespace fulcrum::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::formatErrors;
using ::testing::HasSubstr;
using testing::readFile;
using testing::testData;

Config loadOk(std::string_view text, std::string_view file = "test.yaml") {
  LoadResult result = loadString(text, file);
  EXPECT_TRUE(result.ok()) << formatErrors(result.errors);
  return result.config.value_or(Config{});
}

Config loadGood(const std::string& name) {
  LoadResult result = loadFile((testData() / "good" / name).string());
  EXPECT_TRUE(result.ok()) << formatErrors(result.errors);
  return result.config.value_or(Config{});
}

// A scratch directory for tests that need real files; removed afterwards.
class TempDir {
public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("fulcrum-config-test-{}-{}", ::getpid(), counter_++);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, std::string_view text) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  const std::filesystem::path& path() const { return path_; }

private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(Diagnostic, FormatsLocationPathAndMessage) {
  EXPECT_EQ((Diagnostic{"routes.yaml", 14, 9, "routes[0].rules[0].backends[1].pool",
                        "unknown pool \"api-v3\""})
                .format(),
            "routes.yaml:14:9: routes[0].rules[0].backends[1].pool: unknown pool \"api-v3\"");
  EXPECT_EQ((Diagnostic{"a.yaml", 1, 1, "", "document is empty"}).format(),
            "a.yaml:1:1: document is empty");
  EXPECT_EQ((Diagnostic{"missing.yaml", 0, 0, "", "cannot read file"}).format(),
            "missing.yaml: cannot read file");
}

TEST(Load, QuickstartJsonMatchesTheYamlExample) {
  Config json = loadGood("quickstart.json");
  LoadResult yaml = loadFile((testing::examples() / "quickstart.yaml").string());
  ASSERT_TRUE(yaml.ok());
  EXPECT_EQ(toJson(json), toJson(*yaml.config));
  ASSERT_EQ(json.listeners.size(), 1u);
  EXPECT_EQ(json.listeners[0].name, "public");
  EXPECT_EQ(json.listeners[0].address, "127.0.0.1:8080");
  ASSERT_EQ(json.pools.size(), 1u);
  const Pool& web = json.pools[0];
  EXPECT_EQ(web.algorithm, Algorithm::RoundRobin);
  ASSERT_EQ(web.endpoints.size(), 3u);
  EXPECT_EQ(web.endpoints[2].address, "127.0.0.1:9003");
  ASSERT_TRUE(web.healthCheck);
  EXPECT_EQ(web.healthCheck->path, "/health");
  EXPECT_EQ(web.healthCheck->interval, 2s);
  EXPECT_EQ(web.healthCheck->timeout, 500ms);
  ASSERT_EQ(json.routes.size(), 1u);
  EXPECT_TRUE(json.routes[0].hostnames.empty());
  ASSERT_EQ(json.routes[0].rules.size(), 1u);
  EXPECT_EQ(json.routes[0].rules[0].backends[0].pool, "web");
}

TEST(Load, CompactJsonValuesAndLowercasing) {
  Config c = loadGood("compact.json");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].limits.maxRequestHeadBytes, 32u * 1024);
  EXPECT_EQ(c.listeners[0].limits.headTimeout, 90s);
  EXPECT_EQ(c.listeners[0].limits.maxHeaders, 50u);
  const Route& r = c.routes.at(0);
  EXPECT_THAT(r.hostnames, ElementsAre("api.example.com"));
  const Rule& rule = r.rules.at(0);
  const RouteMatch& m = rule.matches.at(0);
  ASSERT_TRUE(m.path);
  EXPECT_EQ(m.path->type, PathMatchType::Exact);
  EXPECT_EQ(m.headers.at(0).name, "x-canary");
  EXPECT_EQ(m.headers.at(0).type, StringMatchType::Exact);
  EXPECT_EQ(rule.backends.at(0).weight, 3u);
  EXPECT_EQ(rule.backends.at(1).weight, 0u);
  ASSERT_TRUE(rule.retry);
  EXPECT_EQ(rule.retry->attempts, 3u);
  EXPECT_THAT(rule.retry->on, ElementsAre("5xx", "503"));
  // A hashing pool without hashOn hashes the client address; maglev keeps its default table.
  const Pool& q = c.pools.at(1);
  ASSERT_TRUE(q.hashOn);
  EXPECT_EQ(q.hashOn->kind, HashOn::Kind::ClientIp);
  EXPECT_EQ(q.maglevTableSize, 65537u);
}

TEST(Load, DefaultsFillEveryOmittedField) {
  Config c = loadGood("defaults.yaml");
  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(l.trustedHops, 0u);
  EXPECT_FALSE(l.proxyProtocol);
  EXPECT_EQ(l.limits.maxRequestHeadBytes, 64u * 1024);
  EXPECT_EQ(l.limits.headTimeout, 10s);
  const Rule& rule = c.routes.at(0).rules.at(0);
  EXPECT_TRUE(rule.matches.empty());
  EXPECT_EQ(rule.backends.at(0).weight, 1u);
  EXPECT_FALSE(rule.timeouts.request);
  ASSERT_TRUE(rule.retry);
  EXPECT_EQ(rule.retry->attempts, 1u);
  EXPECT_THAT(rule.retry->on, ElementsAre("connect-failure", "reset"));
  EXPECT_EQ(rule.retry->backoff.base, 25ms);
  EXPECT_EQ(rule.retry->budgetPercent, 20u);
  ASSERT_TRUE(rule.rateLimit);
  EXPECT_EQ(rule.rateLimit->burst, 3u); // ceil(requestsPerSecond)
  EXPECT_EQ(rule.rateLimit->key, RateLimitKey::ClientIp);
  const Pool& p = c.pools.at(0);
  EXPECT_EQ(p.algorithm, Algorithm::RoundRobin);
  EXPECT_FALSE(p.hashOn);
  ASSERT_TRUE(p.healthCheck);
  EXPECT_EQ(p.healthCheck->kind, HealthCheck::Kind::Http);
  EXPECT_EQ(p.healthCheck->path, "/health");
  EXPECT_EQ(p.healthCheck->expectedStatuses,
            (std::vector<std::pair<uint16_t, uint16_t>>{{200, 399}}));
  EXPECT_EQ(p.healthCheck->interval, 5s);
  ASSERT_TRUE(p.outlierDetection);
  EXPECT_EQ(p.outlierDetection->baseEjectionTime, 30s);
  ASSERT_TRUE(p.circuitBreaker);
  EXPECT_EQ(p.circuitBreaker->maxConnections, 1024u);
  EXPECT_EQ(p.connectTimeout, 2s);
  EXPECT_EQ(c.pools.at(1).hashOn->kind, HashOn::Kind::ClientIp);
}

TEST(Load, AnchorsAreExpanded) {
  Config c = loadGood("anchors.yaml");
  ASSERT_EQ(c.pools.size(), 2u);
  for (const Pool& p : c.pools) {
    ASSERT_TRUE(p.healthCheck) << p.name;
    EXPECT_EQ(p.healthCheck->path, "/ready");
    EXPECT_EQ(p.healthCheck->expectedStatuses,
              (std::vector<std::pair<uint16_t, uint16_t>>{{200, 200}, {204, 204}}));
    EXPECT_EQ(p.circuitBreaker->maxConnections, 10u);
    EXPECT_EQ(p.circuitBreaker->maxRequests, 1024u);
  }
}

TEST(Load, BlockStyleQuotedAndFoldedScalars) {
  Config c = loadGood("block_style.yml");
  const Route& r = c.routes.at(0);
  EXPECT_THAT(r.hostnames, ElementsAre("*.example.org"));
  const RouteMatch& m = r.rules.at(0).matches.at(0);
  EXPECT_EQ(m.path->type, PathMatchType::RegularExpression);
  EXPECT_EQ(m.path->value, "^/items/[0-9]+$");
  EXPECT_EQ(m.queryParams.at(0).name, "Page"); // query names are case-sensitive
  EXPECT_EQ(m.queryParams.at(0).value, "1");
  EXPECT_EQ(c.pools.at(0).endpoints.at(0).weight, 1'000'000u);
}

TEST(Load, MultiDocumentStreamsMerge) {
  Config c = loadGood("multi_document.yaml");
  EXPECT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.pools.size(), 1u);
}

TEST(Load, LocationsPointIntoTheSource) {
  Config c = loadOk("apiVersion: fulcrum/v1\n"
                    "listeners:\n"
                    "  - name: a\n"
                    "    address: 127.0.0.1:1\n",
                    "x.yaml");
  EXPECT_EQ(c.listeners.at(0).location.file, "x.yaml");
  EXPECT_EQ(c.listeners.at(0).location.line, 3);
  EXPECT_EQ(c.listeners.at(0).location.column, 5);
}

TEST(Load, CrlfLineEndingsAndByteOrderMark) {
  std::string text = "\xef\xbb\xbf"
                     "apiVersion: fulcrum/v1\r\nlisteners:\r\n  - {name: a, address: 127.0.0.1:1}"
                     "\r\n  - {name: a, address: 127.0.0.1:2}\r\n";
  LoadResult result = loadString(text, "crlf.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 4);
  EXPECT_EQ(result.errors[0].column, 12);
}

TEST(Load, ReportsEveryErrorInDocumentOrder) {
  LoadResult result = loadFile((testData() / "bad" / "out_of_range.yaml").string());
  ASSERT_GT(result.errors.size(), 20u);
  EXPECT_FALSE(result.config);
  EXPECT_TRUE(std::is_sorted(result.errors.begin(), result.errors.end(),
                             [](const Diagnostic& a, const Diagnostic& b) {
                               return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                             }));
}

TEST(Load, HashIsXxh64OfTheSource) {
  const std::string text = readFile(testing::examples() / "quickstart.yaml");
  LoadResult a = loadString(text, "a.yaml");
  EXPECT_EQ(a.hash, fmt::format("{:016x}", XXH64(text.data(), text.size(), 0)));
  EXPECT_EQ(a.source, text);
  EXPECT_EQ(a.hash.size(), 16u);
  // The name does not matter, the bytes do; invalid configs have a hash too.
  EXPECT_EQ(loadString(text, "b.yaml").hash, a.hash);
  EXPECT_NE(loadString(text + "\n", "a.yaml").hash, a.hash);
  EXPECT_FALSE(loadString("nope", "c.yaml").hash.empty());
  EXPECT_EQ(loadFile((testing::examples() / "quickstart.yaml").string()).hash, a.hash);
}

TEST(LoadFiles, MergesFilesAndLocatesErrorsInEach) {
  TempDir dir;
  auto pools = dir.write("pools.yaml", "apiVersion: fulcrum/v1\n"
                                       "pools:\n"
                                       "  - {name: web, endpoints: [{address: 127.0.0.1:1}]}\n");
  auto routes = dir.write("routes.yaml", "apiVersion: fulcrum/v1\n"
                                         "routes:\n"
                                         "  - name: web\n"
                                         "    rules: [{backends: [{pool: web}]}]\n");
  LoadResult ok = loadFiles({routes, pools});
  ASSERT_TRUE(ok.ok()) << formatErrors(ok.errors);
  EXPECT_EQ(ok.config->routes.size(), 1u);
  EXPECT_EQ(ok.config->pools.size(), 1u);

  // The merged source is one loadable stream with the same meaning.
  EXPECT_THAT(ok.source, HasSubstr("---\n"));
  EXPECT_EQ(ok.hash, fmt::format("{:016x}", XXH64(ok.source.data(), ok.source.size(), 0)));
  LoadResult again = loadString(ok.source, "merged.yaml");
  ASSERT_TRUE(again.ok()) << formatErrors(again.errors);
  EXPECT_EQ(toJson(*again.config), toJson(*ok.config));

  auto more = dir.write("more.yaml", "apiVersion: fulcrum/v1\n"
                                     "routes:\n"
                                     "  - name: web\n"
                                     "    rules: [{backends: [{pool: nope}]}]\n");
  LoadResult bad = loadFiles({routes, pools, more, (dir.path() / "missing.yaml").string()});
  ASSERT_EQ(bad.errors.size(), 4u) << formatErrors(bad.errors);
  // Errors come file by file in the order given.
  EXPECT_EQ(bad.errors[0].file, more);
  EXPECT_EQ(bad.errors[0].line, 3);
  EXPECT_THAT(bad.errors[0].message, HasSubstr("duplicate route name \"web\""));
  EXPECT_THAT(bad.errors[0].message, HasSubstr(routes + ":3:11"));
  EXPECT_EQ(bad.errors[1].path, "routes[0].rules[0]");
  EXPECT_THAT(bad.errors[1].message, HasSubstr("identical match on any host"));
  EXPECT_EQ(bad.errors[2].path, "routes[0].rules[0].backends[0].pool");
  EXPECT_EQ(bad.errors[2].message, "unknown pool \"nope\"");
  EXPECT_EQ(bad.errors[3].file, (dir.path() / "missing.yaml").string());
  EXPECT_EQ(bad.errors[3].line, 0);
  EXPECT_THAT(bad.errors[3].message, HasSubstr("cannot read file"));
}

TEST(LoadFile, UnreadableFiles) {
  TempDir dir;
  LoadResult missing = loadFile((dir.path() / "nope.yaml").string());
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].line, 0);
  EXPECT_THAT(missing.errors[0].format(), HasSubstr("nope.yaml: cannot read file: No such file"));
  LoadResult directory = loadFile(dir.path().string());
  ASSERT_EQ(directory.errors.size(), 1u);
  EXPECT_THAT(directory.errors[0].message, HasSubstr("cannot read file"));
  EXPECT_FALSE(loadFiles({}).ok());
}

TEST(Load, MaglevTableGrowsWithThePoolUnlessSet) {
  std::string text = "apiVersion: fulcrum/v1\npools:\n  - name: big\n    algorithm: maglev\n"
                     "    endpoints:\n";
  for (int i = 0; i < 1000; ++i) {
    text += fmt::format("      - {{address: 10.0.{}.{}:80}}\n", i / 250, i % 250 + 1);
  }
  Config c = loadOk(text);
  // The smallest prime >= 100 x 1000 endpoints.
  EXPECT_EQ(c.pools.at(0).maglevTableSize, 100003u);
}

TEST(Serialize, RoundTripsEveryExampleAndGoodConfig) {
  std::vector<std::filesystem::path> files;
  for (const auto& name : testing::configFiles(testing::examples())) {
    files.push_back(testing::examples() / name);
  }
  for (const auto& name : testing::configFiles(testData() / "good")) {
    files.push_back(testData() / "good" / name);
  }
  for (const auto& file : files) {
    LoadResult first = loadFile(file.string());
    ASSERT_TRUE(first.ok()) << file << "\n" << formatErrors(first.errors);
    const std::string json = toJson(*first.config).dump(2);
    LoadResult second = loadString(json, "roundtrip.json");
    ASSERT_TRUE(second.ok()) << file << "\n" << formatErrors(second.errors) << json;
    EXPECT_EQ(toJson(*second.config).dump(2), json) << file;
  }
}

TEST(Serialize, FullExampleSetsEveryField) {
  LoadResult full = loadFile((testing::examples() / "full.yaml").string());
  ASSERT_TRUE(full.ok()) << formatErrors(full.errors);
  const std::string json = toJson(*full.config).dump();
  // Spot checks that the example exercises the less common fields.
  for (const char* field :
       {"proxyProtocol", "maxRequestBodyBytes", "queryParams", "stickyHashOn", "nonIdempotent",
        "responseHeaderModifier", "requestRedirect", "ReplacePrefixMatch", "ReplaceFullPath",
        "consecutiveGatewayErrors", "boundedLoadFactor", "maglevTableSize", "\"cookie\"",
        "\"clientIp\"", "\"tcp\"", "startHealthy", "maxIdlePerEndpoint"}) {
    EXPECT_THAT(json, HasSubstr(field));
  }
}

// Guards against quadratic checks: 20k routes, each with its own host, rules and pool reference,
// plus 2k pools. Not a timing assertion; a quadratic validator would take minutes here.
TEST(Load, LargeConfigsScaleLinearly) {
  std::string text = "apiVersion: fulcrum/v1\nroutes:\n";
  constexpr int kRoutes = 20'000;
  constexpr int kPools = 2'000;
  for (int i = 0; i < kRoutes; ++i) {
    text += fmt::format("  - name: r{0}\n    hostnames: [h{0}.example.com]\n    rules:\n"
                        "      - matches: [{{path: {{type: PathPrefix, value: /a}}}}]\n"
                        "        backends: [{{pool: p{1}}}]\n"
                        "      - backends: [{{pool: p{2}}}]\n",
                        i, i % kPools, (i + 1) % kPools);
  }
  text += "pools:\n";
  for (int i = 0; i < kPools; ++i) {
    text += fmt::format("  - {{name: p{}, endpoints: [{{address: 127.0.0.1:{}}}]}}\n", i, i + 1);
  }
  Config c = loadOk(text);
  EXPECT_EQ(c.routes.size(), static_cast<size_t>(kRoutes));
  EXPECT_EQ(c.pools.size(), static_cast<size_t>(kPools));
}

} // namespace
} // namespace fulcrum::config
