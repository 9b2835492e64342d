#include "proxy/router/route_table.h"

#include <map>

#include <gtest/gtest.h>

#include "proxy/lb/hash.h"

namespace fulcrum::router {
namespace {

using config::PathMatchType;
using config::StringMatchType;

config::RouteMatch path(PathMatchType type, std::string value) {
  config::RouteMatch m;
  m.path = config::PathMatch{type, std::move(value)};
  return m;
}
config::RouteMatch prefix(std::string value) {
  return path(PathMatchType::PathPrefix, std::move(value));
}
config::RouteMatch exact(std::string value) {
  return path(PathMatchType::Exact, std::move(value));
}
config::RouteMatch regex(std::string value) {
  return path(PathMatchType::RegularExpression, std::move(value));
}
config::RouteMatch withHeader(config::RouteMatch m, std::string name, std::string value,
                              StringMatchType type = StringMatchType::Exact) {
  m.headers.push_back(config::HeaderMatch{std::move(name), type, std::move(value)});
  return m;
}
config::RouteMatch withQuery(config::RouteMatch m, std::string name, std::string value,
                             StringMatchType type = StringMatchType::Exact) {
  m.queryParams.push_back(config::QueryParamMatch{std::move(name), type, std::move(value)});
  return m;
}
config::RouteMatch withMethod(config::RouteMatch m, std::string method) {
  m.method = std::move(method);
  return m;
}

config::Rule rule(std::vector<config::RouteMatch> matches, std::string pool = "p0") {
  config::Rule r;
  r.matches = std::move(matches);
  r.backends.push_back(config::BackendRef{std::move(pool), 1, {}});
  return r;
}

void addRoute(config::Config& c, std::string name, std::vector<std::string> hosts,
              std::vector<config::Rule> rules) {
  config::Route route;
  route.name = std::move(name);
  route.hostnames = std::move(hosts);
  route.rules = std::move(rules);
  c.routes.push_back(std::move(route));
}

config::Config baseConfig() {
  config::Config c;
  for (const char* name : {"p0", "p1", "p2"}) {
    config::Pool p;
    p.name = name;
    c.pools.push_back(p);
  }
  return c;
}

// The table behind the precedence cases.
config::Config precedenceConfig() {
  config::Config c = baseConfig();
  addRoute(c, "exact-host", {"api.example.com"},
           {
               rule({exact("/login")}),                                                      // 0
               rule({prefix("/v1")}),                                                        // 1
               rule({prefix("/v1/users")}),                                                  // 2
               rule({withHeader(prefix("/v1"), "x-canary", "on")}),                          // 3
               rule({withQuery(withHeader(prefix("/v1"), "x-canary", "on"), "debug", "1")}), // 4
               rule({withQuery(prefix("/v1"), "debug", "1")}),                               // 5
               rule({withMethod(prefix("/v1"), "POST")}),                                    // 6
               rule({regex("/items/[0-9]+")}),                                               // 7
               rule({withHeader(regex("/items/.*"), "x-beta", "yes|true",
                                StringMatchType::RegularExpression)}), // 8
           });
  addRoute(c, "wild-example", {"*.example.com"},
           {rule({prefix("/")}), rule({exact("/login")}), rule({prefix("/static")})});
  addRoute(c, "wild-deep", {"*.eu.example.com"}, {rule({prefix("/")})});
  addRoute(c, "any", {}, {rule({prefix("/healthz")}), rule({prefix("/fallback")})});
  addRoute(c, "multi", {"shop.example.org"},
           {rule({exact("/cart"), withMethod(prefix("/checkout"), "POST")})});
  addRoute(c, "dup-order", {"order.test"}, {rule({prefix("/a")})});
  addRoute(c, "dup-order-2", {"order.test"}, {rule({prefix("/a")})});
  addRoute(c, "ipv6", {"[::1]"}, {rule({prefix("/")})});
  addRoute(c, "root-only", {"root.test"}, {rule({exact("/")}), rule({prefix("/v1/")})});
  addRoute(c, "query-regex", {"q.test"},
           {rule({withQuery(prefix("/"), "id", "[0-9]+", StringMatchType::RegularExpression)}),
            rule({prefix("/")})});
  addRoute(c, "exact-www", {"www.example.com"}, {rule({prefix("/only")})});
  addRoute(c, "no-matches", {"all.test"}, {rule({})});
  addRoute(
      c, "later-exact", {"mixed.test"},
      {rule({prefix("/a")}), rule({withHeader(exact("/a/b"), "x", "1")}), rule({exact("/a/b")})});
  return c;
}

struct Case {
  std::string host;
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string expected; // "route/rule", or "" for no match
};

std::string describe(const CompiledRule* rule) {
  return rule == nullptr ? ""
                         : std::string(rule->routeName) + "/" + std::to_string(rule->ruleIndex);
}

const CompiledRule* run(const RouteTable& table, const Case& c) {
  std::vector<http::HeaderField> headers;
  for (const auto& [name, value] : c.headers) {
    headers.push_back(http::HeaderField{name, value});
  }
  RequestView view{c.host, c.path, c.query, c.method, headers};
  return table.match(view);
}

TEST(RouteTable, PrecedenceTable) {
  config::Config c = precedenceConfig();
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok()) << table.error().message;
  const std::vector<Case> cases = {
      // Exact path beats prefixes; host fallbacks when the host's routes do not match.
      {"api.example.com", "GET", "/login", "", {}, "exact-host/0"},
      {"api.example.com", "GET", "/login/", "", {}, "wild-example/0"},
      // Segment-aware prefixes.
      {"api.example.com", "GET", "/v1", "", {}, "exact-host/1"},
      {"api.example.com", "GET", "/v1/", "", {}, "exact-host/1"},
      {"api.example.com", "GET", "/v1/x", "", {}, "exact-host/1"},
      {"api.example.com", "GET", "/v10", "", {}, "wild-example/0"},
      {"api.example.com", "GET", "/v1/users", "", {}, "exact-host/2"},
      {"api.example.com", "GET", "/v1/users/42", "", {}, "exact-host/2"},
      {"api.example.com", "GET", "/v1/usersX", "", {}, "exact-host/1"},
      // Header, query and method tie-breakers within one prefix.
      {"api.example.com", "GET", "/v1/x", "", {{"x-canary", "on"}}, "exact-host/3"},
      {"api.example.com", "GET", "/v1/x", "", {{"X-Canary", "on"}}, "exact-host/3"},
      {"api.example.com", "GET", "/v1/x", "", {{"x-canary", "off"}}, "exact-host/1"},
      {"api.example.com", "GET", "/v1/x", "debug=1", {{"x-canary", "on"}}, "exact-host/4"},
      {"api.example.com", "GET", "/v1/x", "a=b&debug=1", {}, "exact-host/5"},
      {"api.example.com", "GET", "/v1/x", "debug=2", {{"x-canary", "on"}}, "exact-host/3"},
      {"api.example.com", "POST", "/v1/x", "", {}, "exact-host/6"},
      {"api.example.com", "POST", "/v1/x", "", {{"x-canary", "on"}}, "exact-host/3"},
      {"api.example.com", "POST", "/v1/x", "debug=1", {}, "exact-host/5"},
      {"api.example.com", "post", "/v1/x", "", {}, "exact-host/1"},
      // A longer prefix beats more header matches.
      {"api.example.com", "GET", "/v1/users", "", {{"x-canary", "on"}}, "exact-host/2"},
      // Regular expressions: full match, after exact and prefix, tie-broken by headers.
      {"api.example.com", "GET", "/items/42", "", {}, "exact-host/7"},
      {"api.example.com", "GET", "/items/abc", "", {}, "wild-example/0"},
      {"api.example.com", "GET", "/items/abc", "", {{"x-beta", "yes"}}, "exact-host/8"},
      {"api.example.com", "GET", "/items/42", "", {{"x-beta", "true"}}, "exact-host/8"},
      {"api.example.com", "GET", "/items/42x", "", {}, "wild-example/0"},
      {"api.example.com", "GET", "/items/abc", "", {{"x-beta", "yesno"}}, "wild-example/0"},
      // Host normalization: case, port, trailing dot.
      {"API.Example.COM:8443", "GET", "/v1", "", {}, "exact-host/1"},
      {"api.example.com.", "GET", "/v1", "", {}, "exact-host/1"},
      // Wildcards: suffix match, longest suffix first, never the bare domain.
      {"foo.example.com", "GET", "/login", "", {}, "wild-example/1"},
      {"foo.example.com", "GET", "/static/app.js", "", {}, "wild-example/2"},
      {"foo.example.com", "GET", "/staticfile", "", {}, "wild-example/0"},
      {"x.y.example.com", "GET", "/anything", "", {}, "wild-example/0"},
      {"a.eu.example.com", "GET", "/x", "", {}, "wild-deep/0"},
      {"b.a.eu.example.com:80", "GET", "/x", "", {}, "wild-deep/0"},
      {"eu.example.com", "GET", "/x", "", {}, "wild-example/0"},
      {"example.com", "GET", "/x", "", {}, ""},
      {"badexample.com", "GET", "/x", "", {}, ""},
      {".example.com", "GET", "/x", "", {}, ""},
      // Routes without hostnames take any host, after every host-specific route.
      {"example.com", "GET", "/healthz", "", {}, "any/0"},
      {"unknown.host", "GET", "/fallback/x", "", {}, "any/1"},
      {"", "GET", "/fallback", "", {}, "any/1"},
      {"api.example.com", "GET", "/healthz", "", {}, "wild-example/0"},
      {"www.example.com", "GET", "/other", "", {}, "wild-example/0"},
      {"www.example.com", "GET", "/only/x", "", {}, "exact-www/0"},
      // Several `matches` entries: any of them.
      {"shop.example.org", "GET", "/cart", "", {}, "multi/0"},
      {"shop.example.org", "GET", "/checkout/pay", "", {}, ""},
      {"shop.example.org", "POST", "/checkout/pay", "", {}, "multi/0"},
      // Config order breaks the remaining ties.
      {"order.test", "GET", "/a/b", "", {}, "dup-order/0"},
      // IPv6 literal hosts keep their brackets; the port goes.
      {"[::1]:8080", "GET", "/x", "", {}, "ipv6/0"},
      {"[::1]", "GET", "/", "", {}, "ipv6/0"},
      // Exact "/" and a prefix configured with a trailing slash.
      {"root.test", "GET", "/", "", {}, "root-only/0"},
      {"root.test", "GET", "/v1", "", {}, "root-only/1"},
      {"root.test", "GET", "/v1/a", "", {}, "root-only/1"},
      {"root.test", "GET", "/v2", "", {}, ""},
      // Query matches: RE2 full match, first occurrence, missing value.
      {"q.test", "GET", "/", "id=42", {}, "query-regex/0"},
      {"q.test", "GET", "/", "a=1&id=42", {}, "query-regex/0"},
      {"q.test", "GET", "/", "id=x", {}, "query-regex/1"},
      {"q.test", "GET", "/", "id", {}, "query-regex/1"},
      {"q.test", "GET", "/", "idx=42", {}, "query-regex/1"},
      {"q.test", "GET", "/", "id=x&id=42", {}, "query-regex/1"},
      // A rule without matches takes every path of its hosts.
      {"all.test", "GET", "/", "", {}, "no-matches/0"},
      {"all.test", "DELETE", "/deep/path", "", {}, "no-matches/0"},
      // Exact beats prefix regardless of config order; headers break the tie among exacts.
      {"mixed.test", "GET", "/a/b", "", {}, "later-exact/2"},
      {"mixed.test", "GET", "/a/b", "", {{"x", "1"}}, "later-exact/1"},
      {"mixed.test", "GET", "/a/b/", "", {}, "later-exact/0"},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const Case& tc : cases) {
    EXPECT_EQ(describe(run(*table.value(), tc)), tc.expected)
        << tc.method << " " << tc.host << " " << tc.path << "?" << tc.query;
  }
}

TEST(RouteTable, LookupReportsTheMatchingEntry) {
  config::Config c = precedenceConfig();
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  RequestView view{"shop.example.org", "/checkout/1", "", "POST", {}};
  RouteMatchResult result = table.value()->lookup(view);
  ASSERT_NE(result.rule, nullptr);
  EXPECT_EQ(result.match, &c.routes[4].rules[0].matches[1]);
  RequestView all{"all.test", "/x", "", "GET", {}};
  result = table.value()->lookup(all);
  ASSERT_NE(result.rule, nullptr);
  EXPECT_EQ(result.match, nullptr);
  EXPECT_EQ(result.rule->rule, &c.routes[11].rules[0]);
}

TEST(RouteTable, LongHostOnlyReachesAnyHostRoutes) {
  config::Config c = precedenceConfig();
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  std::string host(300, 'a');
  host += ".example.com";
  RequestView view{host, "/healthz", "", "GET", {}};
  EXPECT_EQ(describe(table.value()->match(view)), "any/0");
}

TEST(RouteTable, TablesWithOnlySomeKindsOfHostnames) {
  // lookup() skips the exact probe and the wildcard walk when the table has no such hostnames.
  const auto lookupIn = [](const config::Config& c, std::string_view host) {
    auto table = compileRouteTable(c);
    EXPECT_TRUE(table.ok());
    return describe(table.value()->match(RequestView{host, "/x", "", "GET", {}}));
  };
  config::Config anyOnly = baseConfig();
  addRoute(anyOnly, "any", {}, {rule({})});
  EXPECT_EQ(lookupIn(anyOnly, "127.0.0.1:8080"), "any/0");
  EXPECT_EQ(lookupIn(anyOnly, ""), "any/0");

  config::Config exactOnly = baseConfig();
  addRoute(exactOnly, "exact", {"a.example.com"}, {rule({})});
  EXPECT_EQ(lookupIn(exactOnly, "A.Example.com:80"), "exact/0");
  EXPECT_EQ(lookupIn(exactOnly, "b.a.example.com"), "");
  addRoute(exactOnly, "any", {}, {rule({})});
  EXPECT_EQ(lookupIn(exactOnly, "b.a.example.com"), "any/0");

  config::Config wildcardOnly = baseConfig();
  addRoute(wildcardOnly, "wild", {"*.example.com"}, {rule({})});
  EXPECT_EQ(lookupIn(wildcardOnly, "x.y.Example.com."), "wild/0");
  EXPECT_EQ(lookupIn(wildcardOnly, "example.com"), "");
  addRoute(wildcardOnly, "any", {"*"}, {rule({})});
  EXPECT_EQ(lookupIn(wildcardOnly, "example.com"), "any/0");
}

TEST(RouteTable, ResolvesPoolsByIndexInConfig) {
  config::Config c = baseConfig();
  config::Rule r = rule({prefix("/")});
  r.backends = {{"p2", 10, {}}, {"p0", 0, {}}, {"p1", 90, {}}};
  addRoute(c, "split", {}, {r});
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok()) << table.error().message;
  const CompiledRule* rule = table.value()->match(RequestView{"h", "/", "", "GET", {}});
  ASSERT_NE(rule, nullptr);
  ASSERT_EQ(rule->backends.size(), 2u); // weight 0 dropped
  EXPECT_EQ(rule->backends[0].poolIndex, 2u);
  EXPECT_EQ(rule->backends[1].poolIndex, 1u);
  EXPECT_EQ(rule->totalWeight, 100u);
}

TEST(RouteTable, CompileErrors) {
  config::Config c = baseConfig();
  config::Rule r = rule({prefix("/")}, "nope");
  addRoute(c, "bad-pool", {}, {r});
  auto table = compileRouteTable(c);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.error().message.find("unknown pool \"nope\""), std::string::npos);

  config::Config c2 = baseConfig();
  addRoute(c2, "bad-re", {}, {rule({regex("(")})});
  auto table2 = compileRouteTable(c2);
  ASSERT_FALSE(table2.ok());
  EXPECT_NE(table2.error().message.find("routes[0]"), std::string::npos);
}

TEST(RouteTable, EmptyConfigMatchesNothing) {
  config::Config c = baseConfig();
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table.value()->match(RequestView{"h", "/", "", "GET", {}}), nullptr);
}

TEST(RouteTable, ManyRoutesStillMatchExactly) {
  config::Config c = baseConfig();
  for (int i = 0; i < 2000; ++i) {
    addRoute(c, "r" + std::to_string(i), {"h" + std::to_string(i % 50) + ".test"},
             {rule({prefix("/svc" + std::to_string(i))})});
  }
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  for (int i = 0; i < 2000; i += 37) {
    std::string host = "h" + std::to_string(i % 50) + ".test";
    std::string p = "/svc" + std::to_string(i) + "/x";
    EXPECT_EQ(describe(table.value()->match(RequestView{host, p, "", "GET", {}})),
              "r" + std::to_string(i) + "/0");
  }
}

TEST(RouteTable, SegmentEdgeCases) {
  config::Config c = baseConfig();
  addRoute(c, "seg", {"s.test"},
           {rule({prefix("/v1")}), rule({exact("/v1/")}), rule({prefix("/")}),
            rule({prefix("/a/b/c")}), rule({exact("/a/b")})});
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  auto at = [&](std::string_view p) {
    return describe(table.value()->match(RequestView{"s.test", p, "", "GET", {}}));
  };
  EXPECT_EQ(at("/v1"), "seg/0");
  EXPECT_EQ(at("/v1/"), "seg/1"); // Exact "/v1/" beats PathPrefix "/v1"
  EXPECT_EQ(at("/v1//x"), "seg/0");
  EXPECT_EQ(at("/v1x"), "seg/2");
  EXPECT_EQ(at("/V1"), "seg/2"); // paths are case-sensitive
  EXPECT_EQ(at("/"), "seg/2");
  EXPECT_EQ(at("//"), "seg/2");
  EXPECT_EQ(at("/a/b"), "seg/4");
  EXPECT_EQ(at("/a/b/"), "seg/2");
  EXPECT_EQ(at("/a/b/c"), "seg/3");
  EXPECT_EQ(at("/a/b/cd"), "seg/2");
  EXPECT_EQ(at("/a/b/c/d/e/f"), "seg/3");
  EXPECT_EQ(at(""), "seg/2"); // no path at all: only PathPrefix "/" applies
}

// More nested prefixes than the lookup remembers on its way down: the fallback walks parents.
TEST(RouteTable, DeeplyNestedPrefixes) {
  config::Config c = baseConfig();
  std::vector<config::Rule> rules;
  std::string p;
  for (int depth = 1; depth <= 24; ++depth) {
    p += "/d";
    config::RouteMatch m = prefix(p);
    if (depth > 3) {
      m = withHeader(m, "x-deep", "1"); // every level deeper than 3 needs a header
    }
    rules.push_back(rule({m}));
  }
  addRoute(c, "deep", {}, rules);
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  std::string path;
  for (int i = 0; i < 30; ++i) {
    path += "/d";
  }
  std::vector<http::HeaderField> header = {{"x-deep", "1"}};
  EXPECT_EQ(describe(table.value()->match(RequestView{"h", path, "", "GET", header})), "deep/23");
  EXPECT_EQ(describe(table.value()->match(RequestView{"h", path, "", "GET", {}})), "deep/2");
  EXPECT_EQ(describe(table.value()->match(RequestView{"h", "/d/d/x", "", "GET", {}})), "deep/1");
}

TEST(WeightedSplit, ProportionsAndStickiness) {
  config::Config c = baseConfig();
  config::Rule r = rule({prefix("/")});
  r.backends = {{"p1", 10, {}}, {"p2", 90, {}}};
  addRoute(c, "split", {}, {r});
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  const CompiledRule& compiled = *table.value()->match(RequestView{"h", "/", "", "GET", {}});
  std::map<uint32_t, int> counts;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    counts[pickBackend(compiled, lb::mix64(i))]++;
  }
  EXPECT_NEAR(counts[1] / double(n), 0.10, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 0.90, 0.01);
  EXPECT_EQ(counts.count(0), 0u);
  // Sticky: the same key always goes to the same pool.
  for (int i = 0; i < 1000; ++i) {
    std::string key = "user-" + std::to_string(i);
    uint32_t first = pickBackend(compiled, lb::hashKey(key));
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(pickBackend(compiled, lb::hashKey(key)), first);
    }
  }
  CompiledRule empty;
  EXPECT_EQ(pickBackend(empty, 42), kNoBackend);
}

// What the request path reads from the rule's hot line, filled at compile time.
TEST(CompiledRuleLine, HotFieldsMirrorTheConfig) {
  config::Config c = baseConfig();
  config::Rule plain = rule({prefix("/plain")}, "p2");
  config::Rule rich = rule({prefix("/rich")});
  rich.backends = {{"p1", 1, {}}, {"p2", 0, {}}}; // one backend with a weight: still single
  rich.timeouts.connect = std::chrono::milliseconds(250);
  rich.retry = config::RetryPolicy{};
  config::Filter f;
  f.type = config::FilterType::RequestHeaderModifier;
  rich.filters.push_back(f);
  config::Rule split = rule({prefix("/split")});
  split.backends = {{"p0", 1, {}}, {"p1", 3, {}}};
  addRoute(c, "a", {"a.test"}, {plain, rich});
  addRoute(c, "b", {}, {split});
  const std::vector<uint32_t> slots = {7, 9};
  auto table = compileRouteTable(c, slots);
  ASSERT_TRUE(table.ok()) << table.error().message;
  const CompiledRule* p = table.value()->match(RequestView{"a.test", "/plain", "", "GET", {}});
  const CompiledRule* r = table.value()->match(RequestView{"a.test", "/rich/x", "", "GET", {}});
  const CompiledRule* s = table.value()->match(RequestView{"other", "/split", "", "GET", {}});
  ASSERT_TRUE(p != nullptr && r != nullptr && s != nullptr);
  EXPECT_EQ(p->statsSlot, 7u);
  EXPECT_EQ(r->statsSlot, 7u);
  EXPECT_EQ(s->statsSlot, 9u);
  EXPECT_EQ(p->singlePool, 2u);
  EXPECT_EQ(r->singlePool, 1u);
  EXPECT_EQ(s->singlePool, kNoBackend);
  EXPECT_EQ(pickBackend(*p, 12345), 2u);
  EXPECT_EQ(pickBackend(*r, 12345), 1u);
  EXPECT_EQ(p->timeouts, nullptr);
  EXPECT_EQ(p->retry, nullptr);
  EXPECT_FALSE(p->hasFilters);
  ASSERT_NE(r->timeouts, nullptr);
  EXPECT_EQ(r->timeouts->connect, std::chrono::milliseconds(250));
  EXPECT_EQ(r->retry, &*c.routes[0].rules[1].retry);
  EXPECT_TRUE(r->hasFilters);
  // Without slots, every rule counts under slot 0.
  auto unslotted = compileRouteTable(c);
  ASSERT_TRUE(unslotted.ok());
  EXPECT_EQ(unslotted.value()->match(RequestView{"other", "/split", "", "GET", {}})->statsSlot, 0u);
}

// A host whose bucket has only regex entries, and one with none: the root's flags say which.
TEST(RouteTable, RegexOnlyHostsAndHostsWithoutRegex) {
  config::Config c = baseConfig();
  addRoute(c, "re", {"re.test"}, {rule({regex("/n/[0-9]+")})});
  addRoute(c, "plain", {"plain.test"}, {rule({prefix("/x")})});
  addRoute(c, "any", {}, {rule({regex("/any/.*")})});
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());
  auto match = [&](const char* host, const char* path) {
    return describe(table.value()->match(RequestView{host, path, "", "GET", {}}));
  };
  EXPECT_EQ(match("re.test", "/n/42"), "re/0");
  EXPECT_EQ(match("re.test", "/n/x"), "");
  EXPECT_EQ(match("plain.test", "/x/1"), "plain/0");
  EXPECT_EQ(match("plain.test", "/any/1"), "any/0"); // falls through to the any-host bucket
  EXPECT_EQ(match("re.test", "/any/thing"), "any/0");
  EXPECT_EQ(match("plain.test", "/y"), "");
}

} // namespace
} // namespace fulcrum::router
