#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "control/rest_api.h"
#include "store/config_store.h"

namespace fulcrum::control {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

constexpr const char* kBase = R"(apiVersion: fulcrum/v1
listeners:
  - {name: public, address: 127.0.0.1:8080}
routes:
  - name: web
    rules:
      - backends: [{pool: web}]
pools:
  - name: web
    endpoints: [{address: 127.0.0.1:9001}]
)";

// Two errors, each located.
constexpr const char* kInvalid = R"(apiVersion: fulcrum/v1
listeners:
  - {name: public, address: 127.0.0.1:99999}
routes:
  - name: web
    rules:
      - backends: [{pool: nope}]
pools: []
)";

// Delegates to a real store; when armed, its next compareAndSwap first lets a "concurrent
// writer" move the current pointer, so the caller's CAS loses.
class RacingStore final : public store::ConfigStore {
public:
  explicit RacingStore(std::unique_ptr<store::ConfigStore> inner) : inner_(std::move(inner)) {}
  void arm() { armed_ = true; }

  std::string describe() const override { return inner_->describe(); }
  Result<std::optional<store::Revision>> current() override { return inner_->current(); }
  Result<std::optional<store::Revision>> get(RevisionNumber n) override { return inner_->get(n); }
  Result<std::vector<store::RevisionMeta>> list() override { return inner_->list(); }
  Result<store::CasOutcome> compareAndSwap(RevisionNumber expected,
                                           const store::NewRevision& revision) override {
    if (armed_) {
      armed_ = false;
      store::NewRevision other = revision;
      other.author = "someone-else";
      EXPECT_TRUE(inner_->compareAndSwap(expected, other).value().won);
    }
    return inner_->compareAndSwap(expected, revision);
  }
  Result<std::unique_ptr<store::WatchHandle>> watch(RevisionNumber from,
                                                    store::WatchCallback cb) override {
    return inner_->watch(from, std::move(cb));
  }
  Result<std::unique_ptr<store::InstanceRegistration>>
  registerInstance(const store::InstanceStatus& s) override {
    return inner_->registerInstance(s);
  }
  Result<std::vector<store::InstanceInfo>> instances() override { return inner_->instances(); }
  Result<bool> appendAudit(const store::AuditEntry& e) override { return inner_->appendAudit(e); }
  Result<std::vector<store::AuditEntry>> audit(size_t limit) override {
    return inner_->audit(limit);
  }

private:
  std::unique_ptr<store::ConfigStore> inner_;
  bool armed_ = false;
};

// True if `diff` adds (sign '+') or removes ('-') a line containing `text`.
bool changedLine(const std::string& diff, char sign, const std::string& text) {
  size_t start = 0;
  while (start < diff.size()) {
    size_t end = diff.find('\n', start);
    std::string line =
        diff.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty() && line[0] == sign && line.rfind(std::string(3, sign), 0) != 0 &&
        line.find(text) != std::string::npos) {
      return true;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return false;
}

struct Reply {
  int status;
  Json json;
  std::string body;
  HttpResponse raw;
  std::string header(const char* name) const { return std::string(raw[name]); }
};

class RestApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fulcrum-rest-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto inner = store::openStore("file://" + root_ + "/store");
    ASSERT_TRUE(inner) << inner.error().message;
    store_ = std::make_unique<RacingStore>(std::move(inner.value()));
    std::ofstream(root_ + "/tokens") << "adm admin ada\ned editor eddie\nview viewer vic\n";
    auto tokens = TokenFile::open(root_ + "/tokens");
    ASSERT_TRUE(tokens);
    tokens_ = std::move(tokens.value());
    service_ = std::make_unique<ControlService>(*store_, time_);
    api_ = std::make_unique<RestApi>(*service_, tokens_.get());
  }
  void TearDown() override { fs::remove_all(root_); }

  Reply call(http::verb method, const std::string& target, const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {},
             const char* token = "adm") {
    HttpRequest request(method, target, 11);
    if (token != nullptr) {
      request.set(http::field::authorization, std::string("Bearer ") + token);
    }
    for (const auto& [name, value] : headers) {
      request.set(name, value);
    }
    request.body() = body;
    request.prepare_payload();
    Reply reply{0, nullptr, "", api_->handle(request)};
    reply.status = static_cast<int>(reply.raw.result());
    reply.body = reply.raw.body();
    reply.json = Json::parse(reply.body, nullptr, false);
    return reply;
  }

  Reply put(const std::string& target, const std::string& body, const char* token = "ed",
            std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/yaml");
    return call(http::verb::put, target, body, headers, token);
  }

  RevisionNumber current() {
    auto c = store_->current().value();
    return c ? c->meta.number : 0;
  }

  std::string root_;
  RealTimeSource time_;
  std::unique_ptr<RacingStore> store_;
  std::unique_ptr<TokenFile> tokens_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(RestApiTest, PutConfigWritesARevisionWithItsMetadata) {
  EXPECT_EQ(call(http::verb::get, "/api/v1/config").status, 404);
  auto reply = put("/api/v1/config", kBase, "ed",
                   {{"X-Fulcrum-Message", "first%20version"}, {"X-Fulcrum-Source", "git:abc1234"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("ETag"), "\"1\"");
  EXPECT_EQ(reply.json["revision"]["number"], 1);
  EXPECT_EQ(reply.json["revision"]["author"], "eddie");
  EXPECT_EQ(reply.json["revision"]["message"], "first version");
  EXPECT_EQ(reply.json["revision"]["source"], "git:abc1234");
  EXPECT_TRUE(changedLine(reply.json["diff"], '+', "name: web")) << reply.json["diff"];

  auto stored = store_->get(1).value();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->config, kBase); // stored as submitted

  auto get = call(http::verb::get, "/api/v1/config", "", {}, "view");
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.header("ETag"), "\"1\"");
  EXPECT_EQ(get.json["pools"][0]["name"], "web");
  EXPECT_EQ(get.json["pools"][0]["algorithm"], "round_robin"); // normalized: defaults shown
  auto yaml = call(http::verb::get, "/api/v1/config", "", {{"Accept", "application/yaml"}});
  EXPECT_EQ(yaml.header("Content-Type"), "application/yaml");
  EXPECT_NE(yaml.body.find("apiVersion: fulcrum/v1"), std::string::npos);

  // The same text again changes nothing.
  auto again = put("/api/v1/config", kBase);
  ASSERT_EQ(again.status, 200);
  EXPECT_TRUE(again.json["unchanged"].get<bool>());
  EXPECT_EQ(current(), 1u);
}

TEST_F(RestApiTest, InvalidConfigIsRefusedWithEveryLocatedError) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  auto reply = put("/api/v1/config", kInvalid, "ed", {{"X-Fulcrum-Filename", "edge.yaml"}});
  ASSERT_EQ(reply.status, 422) << reply.body;
  EXPECT_EQ(reply.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(reply.json["status"], 422);
  ASSERT_GE(reply.json["errors"].size(), 2u) << reply.body;
  for (const auto& e : reply.json["errors"]) {
    EXPECT_EQ(e["file"], "edge.yaml");
    EXPECT_GT(e["line"].get<int>(), 0);
    EXPECT_GT(e["column"].get<int>(), 0);
    EXPECT_FALSE(e["path"].get<std::string>().empty());
    EXPECT_FALSE(e["message"].get<std::string>().empty());
  }
  EXPECT_EQ(current(), 1u); // nothing stored
  auto audit = call(http::verb::get, "/api/v1/audit");
  EXPECT_EQ(audit.json["items"][0]["outcome"], "invalid");
  EXPECT_EQ(audit.json["items"][0]["actor"], "eddie");
}

TEST_F(RestApiTest, IfMatchGuardsWrites) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  std::string changed = std::string(kBase) + "# comment\n";
  auto stale = put("/api/v1/config", changed, "ed", {{"If-Match", "\"7\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(stale.json["currentRevision"], 1);
  EXPECT_EQ(put("/api/v1/config", changed, "ed", {{"If-Match", "nonsense"}}).status, 400);
  auto ok = put("/api/v1/config", changed, "ed", {{"If-Match", "\"0\", \"1\""}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("ETag"), "\"2\"");
}

TEST_F(RestApiTest, LosingTheCompareAndSwapIsAConflict) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  store_->arm();
  auto lost = put("/api/v1/config", std::string(kBase) + "# mine\n");
  EXPECT_EQ(lost.status, 409) << lost.body;
  EXPECT_EQ(lost.json["currentRevision"], 2);
  EXPECT_EQ(store_->get(2).value()->meta.author, "someone-else");
  EXPECT_EQ(current(), 2u);
}

TEST_F(RestApiTest, ResourcesAreEditedAsPartOfTheWholeDocument) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  auto pools = call(http::verb::get, "/api/v1/pools", "", {}, "view");
  ASSERT_EQ(pools.status, 200);
  ASSERT_EQ(pools.json.size(), 1u);
  EXPECT_EQ(pools.header("ETag"), "\"1\"");

  auto created = put("/api/v1/pools/api", "endpoints: [{address: 127.0.0.1:9100, weight: 3}]\n");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_TRUE(created.json["created"].get<bool>());
  auto pool = call(http::verb::get, "/api/v1/pools/api");
  ASSERT_EQ(pool.status, 200);
  EXPECT_EQ(pool.json["endpoints"][0]["weight"], 3);
  EXPECT_EQ(pool.header("ETag"), "\"2\"");

  auto replaced = call(http::verb::put, "/api/v1/pools/api",
                       R"({"name": "api", "endpoints": [{"address": "127.0.0.1:9101"}]})",
                       {{"Content-Type", "application/json"}}, "ed");
  EXPECT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(put("/api/v1/pools/api", "name: other\n").status, 400);
  EXPECT_EQ(put("/api/v1/pools/api", "a: 1\na: 2\n").status, 400);

  // Deleting a pool a route still uses makes the whole document invalid.
  auto orphan = call(http::verb::delete_, "/api/v1/pools/web", "", {}, "ed");
  EXPECT_EQ(orphan.status, 422) << orphan.body;
  EXPECT_EQ(call(http::verb::delete_, "/api/v1/pools/ghost", "", {}, "ed").status, 404);
  auto removed = call(http::verb::delete_, "/api/v1/pools/api", "", {}, "ed");
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(call(http::verb::get, "/api/v1/pools/api").status, 404);
  EXPECT_EQ(current(), 4u);
  auto route = call(http::verb::get, "/api/v1/routes/web", "", {{"Accept", "application/yaml"}});
  EXPECT_NE(route.body.find("name: web"), std::string::npos);
}

TEST_F(RestApiTest, DryRunValidatesAndDiffsWithoutWriting) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  auto dry = put("/api/v1/pools/api?dryRun=true", "endpoints: [{address: 127.0.0.1:9100}]\n");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_TRUE(dry.json["dryRun"].get<bool>());
  EXPECT_TRUE(dry.json["revision"].is_null());
  EXPECT_TRUE(changedLine(dry.json["diff"], '+', "name: api")) << dry.json["diff"];
  EXPECT_EQ(put("/api/v1/config?dryRun=true", kInvalid).status, 422);
  EXPECT_EQ(current(), 1u);
  auto audit = call(http::verb::get, "/api/v1/audit");
  EXPECT_EQ(audit.json["items"].size(), 1u); // only the first write
}

TEST_F(RestApiTest, RollbackNeedsAdminAndWritesANewRevision) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  ASSERT_EQ(put("/api/v1/pools/api", "endpoints: [{address: 127.0.0.1:9100}]\n").status, 201);
  EXPECT_EQ(call(http::verb::post, "/api/v1/rollback", R"({"revision": 1})", {}, "ed").status, 403);
  EXPECT_EQ(call(http::verb::post, "/api/v1/rollback", R"({"revision": 9})").status, 404);
  EXPECT_EQ(call(http::verb::post, "/api/v1/rollback", R"({"rev": 1})").status, 400);
  auto rolled = call(http::verb::post, "/api/v1/rollback", R"({"revision": 1})");
  ASSERT_EQ(rolled.status, 200) << rolled.body;
  EXPECT_EQ(rolled.json["revision"]["number"], 3);
  EXPECT_EQ(rolled.json["revision"]["message"], "rollback to revision 1");
  EXPECT_EQ(rolled.json["revision"]["author"], "ada");
  EXPECT_EQ(store_->get(3).value()->config, kBase);
}

TEST_F(RestApiTest, RevisionsListGetAndDiff) {
  ASSERT_EQ(put("/api/v1/config", kBase).status, 200);
  ASSERT_EQ(put("/api/v1/pools/api", "endpoints: [{address: 127.0.0.1:9100}]\n").status, 201);
  auto list = call(http::verb::get, "/api/v1/revisions", "", {}, "view");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json["current"], 2);
  ASSERT_EQ(list.json["items"].size(), 2u);
  EXPECT_EQ(list.json["items"][0]["number"], 2); // newest first
  EXPECT_EQ(list.json["items"][0]["message"], "put pool api");
  EXPECT_EQ(call(http::verb::get, "/api/v1/revisions?limit=1").json["items"].size(), 1u);

  auto one = call(http::verb::get, "/api/v1/revisions/1");
  EXPECT_EQ(one.json["config"], kBase);
  EXPECT_EQ(call(http::verb::get, "/api/v1/revisions/5").status, 404);
  EXPECT_EQ(call(http::verb::get, "/api/v1/revisions/x").status, 400);

  auto diff = call(http::verb::get, "/api/v1/revisions/2/diff");
  ASSERT_EQ(diff.status, 200);
  EXPECT_EQ(diff.json["from"], 1);
  std::string text = diff.json["diff"];
  EXPECT_EQ(text.rfind("--- revision 1\n+++ revision 2\n", 0), 0u) << text;
  EXPECT_TRUE(changedLine(text, '+', "name: api")) << text;
  auto reverse =
      call(http::verb::get, "/api/v1/revisions/1/diff?against=2", "", {{"Accept", "text/x-diff"}});
  EXPECT_EQ(reverse.header("Content-Type"), "text/x-diff");
  EXPECT_TRUE(changedLine(reverse.body, '-', "name: api")) << reverse.body;
}

TEST_F(RestApiTest, ValidateNeverWrites) {
  auto ok = call(http::verb::post, "/api/v1/validate", kBase, {}, "view");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(ok.json["valid"].get<bool>());
  auto bad = call(http::verb::post, "/api/v1/validate", kInvalid, {}, "view");
  EXPECT_EQ(bad.status, 422);
  EXPECT_GE(bad.json["errors"].size(), 2u);
  EXPECT_EQ(current(), 0u);
}

TEST_F(RestApiTest, TokensAndRoles) {
  auto none = call(http::verb::get, "/api/v1/config", "", {}, nullptr);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"fulcrum\"");
  EXPECT_EQ(call(http::verb::get, "/api/v1/revisions", "", {}, "wrong").status, 401);
  auto viewer = put("/api/v1/config", kBase, "view");
  EXPECT_EQ(viewer.status, 403);
  EXPECT_EQ(viewer.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(put("/api/v1/config", kBase, nullptr).status, 401);
  EXPECT_EQ(current(), 0u);
  auto audit = call(http::verb::get, "/api/v1/audit");
  ASSERT_EQ(audit.json["items"].size(), 2u);
  EXPECT_EQ(audit.json["items"][0]["outcome"], "unauthenticated");
  EXPECT_EQ(audit.json["items"][1]["outcome"], "forbidden");
  EXPECT_EQ(audit.json["items"][1]["actor"], "vic");
}

TEST_F(RestApiTest, WithoutTokensReadsAreOpenAndWritesRefused) {
  RestApi open(*service_, nullptr);
  HttpRequest get(http::verb::get, "/api/v1/revisions", 11);
  EXPECT_EQ(open.handle(get).result(), http::status::ok);
  HttpRequest write(http::verb::put, "/api/v1/config", 11);
  write.body() = kBase;
  EXPECT_EQ(open.handle(write).result(), http::status::unauthorized);
}

TEST_F(RestApiTest, RequestErrors) {
  EXPECT_EQ(call(http::verb::get, "/api/v1/nothing").status, 404);
  auto method = call(http::verb::post, "/api/v1/config");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.header("Allow"), "GET, PUT");
  EXPECT_EQ(put("/api/v1/config", kBase, "ed", {{"X-Fulcrum-Source", "fax"}}).status, 400);
  EXPECT_EQ(
      call(http::verb::put, "/api/v1/config", kBase, {{"Content-Type", "image/png"}}, "ed").status,
      415);
  EXPECT_EQ(call(http::verb::get, "/livez", "", {}, nullptr).status, 200);
}

TEST_F(RestApiTest, JsonEnvelopeCarriesMessageAndSource) {
  Json envelope = {{"config", kBase}, {"message", "from the UI"}, {"source", "ui"}};
  auto reply = call(http::verb::put, "/api/v1/config", envelope.dump(),
                    {{"Content-Type", "application/json"}}, "ed");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json["revision"]["message"], "from the UI");
  EXPECT_EQ(reply.json["revision"]["source"], "ui");
  EXPECT_EQ(store_->get(1).value()->config, kBase);
}

TEST_F(RestApiTest, InstancesAreListed) {
  auto registration = store_->registerInstance(
      store::InstanceStatus{"proxy-1", "127.0.0.1:9901", 0, 3, {"x:1:1: a: bad"}, "0.1"});
  ASSERT_TRUE(registration);
  auto reply = call(http::verb::get, "/api/v1/instances", "", {}, "view");
  ASSERT_EQ(reply.status, 200);
  ASSERT_EQ(reply.json["items"].size(), 1u);
  EXPECT_EQ(reply.json["items"][0]["id"], "proxy-1");
  EXPECT_EQ(reply.json["items"][0]["refusedRevision"], 3);
  EXPECT_TRUE(reply.json["items"][0]["alive"].get<bool>());
}

TEST(IfMatchTest, Parses) {
  EXPECT_TRUE(parseIfMatch("*")->any);
  EXPECT_EQ(parseIfMatch("\"3\"")->revisions, std::vector<RevisionNumber>{3});
  EXPECT_EQ(parseIfMatch(" \"3\" , W/\"4\", \"5\"")->revisions,
            (std::vector<RevisionNumber>{3, 5}));
  EXPECT_FALSE(parseIfMatch("3"));
  EXPECT_FALSE(parseIfMatch("\"abc\""));
}

} // namespace
} // namespace fulcrum::control
