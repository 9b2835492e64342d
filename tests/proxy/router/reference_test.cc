// Differential test of compileRouteTable: random configs, edited revision after revision (routes
// added, removed, modified, reordered), each compiled from scratch and compared, request by
// request, with a brute-force reference that applies the precedence rules of route_table.h
// directly to the config (no trie, no hash tables, no pre-sorted lists). The revisions share
// their unchanged routes (config::RouteList), as the proxy's do.

#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <re2/re2.h>

#include "proxy/router/route_table.h"

namespace fulcrum::router {
namespace {

using config::PathMatchType;
using config::StringMatchType;

// --- the reference -------------------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  return out;
}

// Host header -> the name routes are keyed on ("" = only routes for any host can match).
std::string canonical(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    host = close == std::string_view::npos ? host : host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
    if (!host.empty() && host.back() == '.') {
      host.remove_suffix(1);
    }
  }
  return host.size() > 255 ? std::string() : lower(host);
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::string_view rest = path.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    out.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    rest = rest.substr(slash + 1);
  }
}

bool stringMatches(StringMatchType type, const std::string& want, std::string_view value) {
  return type == StringMatchType::RegularExpression ? RE2::FullMatch(value, RE2(want))
                                                    : value == want;
}

bool restMatches(const config::RouteMatch& m, const RequestView& r) {
  if (m.method && *m.method != r.method) {
    return false;
  }
  for (const auto& h : m.headers) {
    if (std::none_of(r.headers.begin(), r.headers.end(), [&](const http::HeaderField& f) {
          return lower(f.name) == lower(h.name) && stringMatches(h.type, h.value, f.value);
        })) {
      return false;
    }
  }
  for (const auto& q : m.queryParams) {
    std::string_view query = r.query;
    bool found = false;
    std::string_view value;
    while (!query.empty() && !found) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      size_t eq = pair.find('=');
      if (pair.substr(0, eq) == q.name) {
        found = true;
        value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      }
    }
    if (!found || !stringMatches(q.type, q.value, value)) {
      return false;
    }
  }
  return true;
}

struct Entry {
  size_t route = 0;
  size_t rule = 0;
  const config::RouteMatch* match = nullptr; // nullptr: the rule has no matches
  uint64_t order = 0;
};

// Which host level a route belongs to: 0 the exact host, 1 + i the i-th wildcard suffix tried
// (longest first), kAny the routes for any host.
constexpr size_t kAny = 1000;

std::vector<size_t> levelsOf(const config::Route& route, const std::string& host) {
  std::vector<size_t> levels;
  if (route.hostnames.empty()) {
    levels.push_back(kAny);
  }
  std::vector<std::string> suffixes; // ".b.example.org", ".example.org", ...
  for (size_t dot = host.find('.', 1); !host.empty() && dot != std::string::npos;
       dot = host.find('.', dot + 1)) {
    suffixes.push_back(host.substr(dot));
  }
  for (const std::string& name : route.hostnames) {
    const std::string h = lower(name);
    if (h.empty() || h == "*") {
      levels.push_back(kAny);
    } else if (h.size() > 2 && h[0] == '*' && h[1] == '.') {
      auto it = std::find(suffixes.begin(), suffixes.end(), h.substr(1));
      if (it != suffixes.end()) {
        levels.push_back(1 + static_cast<size_t>(it - suffixes.begin()));
      }
    } else if (!host.empty() && h == host) {
      levels.push_back(0);
    }
  }
  return levels;
}

bool precedes(const Entry& a, const Entry& b) {
  auto headers = [](const Entry& e) { return e.match ? e.match->headers.size() : 0; };
  auto query = [](const Entry& e) { return e.match ? e.match->queryParams.size() : 0; };
  auto method = [](const Entry& e) { return e.match && e.match->method; };
  if (headers(a) != headers(b)) {
    return headers(a) > headers(b);
  }
  if (query(a) != query(b)) {
    return query(a) > query(b);
  }
  if (method(a) != method(b)) {
    return method(a);
  }
  return a.order < b.order;
}

// The winning entry, or nullptr.
std::optional<Entry> reference(const config::Config& c, const RequestView& r) {
  const std::string host = canonical(r.host);
  std::vector<std::vector<Entry>> byLevel(kAny + 1);
  uint64_t order = 0;
  for (size_t i = 0; i < c.routes.size(); ++i) {
    const config::Route& route = c.routes[i];
    std::vector<size_t> levels = levelsOf(route, host);
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    for (size_t k = 0; k < route.rules.size(); ++k) {
      const config::Rule& rule = route.rules[k];
      const size_t entries = std::max<size_t>(rule.matches.size(), 1);
      for (size_t m = 0; m < entries; ++m) {
        Entry e{i, k, rule.matches.empty() ? nullptr : &rule.matches[m], order++};
        for (size_t level : levels) {
          byLevel[level].push_back(e);
        }
      }
    }
  }
  const bool rooted = !r.path.empty() && r.path.front() == '/';
  const std::vector<std::string_view> pathSegments =
      rooted ? segments(r.path) : std::vector<std::string_view>{};
  for (std::vector<Entry>& level : byLevel) {
    std::sort(level.begin(), level.end(), precedes);
    auto first = [&](auto accept) -> std::optional<Entry> {
      for (const Entry& e : level) {
        if (accept(e) && (e.match == nullptr || restMatches(*e.match, r))) {
          return e;
        }
      }
      return std::nullopt;
    };
    auto type = [](const Entry& e) {
      return e.match && e.match->path ? e.match->path->type : PathMatchType::PathPrefix;
    };
    auto value = [](const Entry& e) {
      return e.match && e.match->path ? e.match->path->value : std::string("/");
    };
    if (auto e = first([&](const Entry& e) {
          return rooted && type(e) == PathMatchType::Exact && segments(value(e)) == pathSegments;
        })) {
      return e;
    }
    // PathPrefix, the deepest prefix first: its segments (trailing '/' ignored) lead the path's.
    for (size_t depth = pathSegments.size() + 1; depth-- > 0;) {
      if (auto e = first([&](const Entry& e) {
            if (type(e) != PathMatchType::PathPrefix) {
              return false;
            }
            std::string p = value(e);
            while (!p.empty() && p.back() == '/') {
              p.pop_back();
            }
            if (p.empty()) {
              return depth == 0;
            }
            const std::vector<std::string_view> s = segments(p);
            return s.size() == depth && depth <= pathSegments.size() &&
                   std::equal(s.begin(), s.end(), pathSegments.begin());
          })) {
        return e;
      }
    }
    if (auto e = first([&](const Entry& e) {
          return type(e) == PathMatchType::RegularExpression &&
                 RE2::FullMatch(r.path, RE2(value(e)));
        })) {
      return e;
    }
  }
  return std::nullopt;
}

// --- random configs and requests -----------------------------------------------------------------

class Generator {
public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  template <class T> const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

  std::string host() {
    switch (below(6)) {
    case 0:
      return "";
    case 1:
      return "*." + pick(domains_);
    case 2:
      return "*.eu." + pick(domains_);
    default:
      return pick(labels_) + "." + pick(domains_);
    }
  }

  std::string path() {
    std::string p;
    for (size_t n = below(4); n > 0; --n) {
      p += "/" + pick(segments_);
    }
    if (p.empty() || below(5) == 0) {
      p += "/";
    }
    return p;
  }

  config::RouteMatch match() {
    config::RouteMatch m;
    switch (below(5)) {
    case 0:
      break; // no path: PathPrefix "/"
    case 1:
      m.path = config::PathMatch{PathMatchType::Exact, path()};
      break;
    case 2:
      m.path = config::PathMatch{
          PathMatchType::RegularExpression,
          pick(std::vector<std::string>{"/a/.*", "/[a-c]+", "/b/[0-9]+", ".*", "/v1/(a|b)/?"})};
      break;
    default:
      m.path = config::PathMatch{PathMatchType::PathPrefix, path()};
      break;
    }
    if (below(4) == 0) {
      m.headers.push_back(config::HeaderMatch{"x-" + pick(labels_),
                                              below(3) == 0 ? StringMatchType::RegularExpression
                                                            : StringMatchType::Exact,
                                              below(2) == 0 ? "1" : "[0-9]"});
    }
    if (below(5) == 0) {
      m.queryParams.push_back(config::QueryParamMatch{
          pick(labels_),
          below(3) == 0 ? StringMatchType::RegularExpression : StringMatchType::Exact,
          below(2) == 0 ? "1" : "[12]"});
    }
    if (below(4) == 0) {
      m.method = below(2) == 0 ? "GET" : "POST";
    }
    return m;
  }

  config::Route route() {
    config::Route r;
    r.name = "r" + std::to_string(next_++);
    for (size_t n = below(3); n > 0; --n) {
      std::string h = host();
      if (std::find(r.hostnames.begin(), r.hostnames.end(), h) == r.hostnames.end()) {
        r.hostnames.push_back(h);
      }
    }
    for (size_t n = 1 + below(3); n > 0; --n) {
      config::Rule rule;
      for (size_t k = below(3); k > 0; --k) {
        rule.matches.push_back(match());
      }
      rule.backends.push_back(config::BackendRef{below(2) == 0 ? "p0" : "p1", 1, {}});
      if (below(4) == 0) {
        rule.backends.push_back(config::BackendRef{"p2", static_cast<uint32_t>(below(3)), {}});
      }
      r.rules.push_back(std::move(rule));
    }
    return r;
  }

  // One edit: add, remove, modify (replace) or move a route.
  config::Config edit(const config::Config& c) {
    config::Config out;
    out.pools = c.pools;
    std::vector<config::RouteList::Ptr> routes;
    for (size_t i = 0; i < c.routes.size(); ++i) {
      routes.push_back(c.routes.shared(i));
    }
    const size_t op = routes.empty() ? 0 : below(4);
    if (op == 0) {
      routes.insert(routes.begin() + static_cast<ptrdiff_t>(below(routes.size() + 1)),
                    std::make_shared<const config::Route>(route()));
    } else if (op == 1) {
      routes.erase(routes.begin() + static_cast<ptrdiff_t>(below(routes.size())));
    } else if (op == 2) {
      routes[below(routes.size())] = std::make_shared<const config::Route>(route());
    } else {
      const size_t from = below(routes.size());
      auto moved = routes[from];
      routes.erase(routes.begin() + static_cast<ptrdiff_t>(from));
      routes.insert(routes.begin() + static_cast<ptrdiff_t>(below(routes.size() + 1)), moved);
    }
    for (auto& r : routes) {
      out.routes.push_back(std::move(r));
    }
    return out;
  }

  struct Request {
    std::string host;
    std::string path;
    std::string query;
    std::string method;
    std::vector<std::pair<std::string, std::string>> fields; // what `headers` views
    std::vector<http::HeaderField> headers;
  };

  Request request() {
    Request r;
    switch (below(6)) {
    case 0:
      r.host = pick(domains_);
      break;
    case 1:
      r.host = pick(labels_) + ".eu." + pick(domains_);
      break;
    case 2:
      r.host = lower(pick(labels_) + "." + pick(domains_)) + ":8080";
      break;
    case 3:
      r.host = "X." + pick(labels_) + "." + pick(domains_) + ".";
      break;
    default:
      r.host = pick(labels_) + "." + pick(domains_);
      break;
    }
    r.path = path();
    if (below(6) == 0) {
      r.path += "x";
    }
    if (below(20) == 0) {
      r.path = "*";
    }
    if (below(3) == 0) {
      r.query = pick(labels_) + "=" + std::to_string(below(3)) + "&" + pick(labels_) + "=1";
    }
    r.method = below(2) == 0 ? "GET" : "POST";
    if (below(2) == 0) {
      r.fields.emplace_back("X-" + pick(labels_), std::to_string(below(3)));
    }
    return r;
  }

private:
  std::mt19937 rng_;
  size_t next_ = 0;
  std::vector<std::string> labels_{"api", "www", "a", "b", "eu"};
  std::vector<std::string> domains_{"example.org", "test"};
  std::vector<std::string> segments_{"a", "b", "v1", "1", ""};
};

std::string describe(const std::optional<Entry>& e, const config::Config& c) {
  if (!e) {
    return "none";
  }
  return c.routes[e->route].name + "/" + std::to_string(e->rule) + "/" +
         std::to_string(reinterpret_cast<uintptr_t>(e->match));
}

std::string describe(const RouteMatchResult& r) {
  if (r.rule == nullptr) {
    return "none";
  }
  return std::string(r.rule->routeName) + "/" + std::to_string(r.rule->ruleIndex) + "/" +
         std::to_string(reinterpret_cast<uintptr_t>(r.match));
}

TEST(RouteTableReference, RandomRevisionsMatchTheReference) {
  size_t requests = 0;
  size_t matched = 0;
  size_t withConditions = 0; // won by an entry with header, query or method conditions
  size_t byRegex = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    Generator gen(seed);
    config::Config c;
    for (const char* name : {"p0", "p1", "p2"}) {
      config::Pool p;
      p.name = name;
      c.pools.push_back(p);
    }
    for (size_t i = 0; i < 8; ++i) {
      c = gen.edit(c);
    }
    // The previous revision's config and table: the next compile takes over their shared
    // prefix of routes (compileRouteTable with `previous`).
    config::Config previousConfig;
    RouteTablePtr previousTable;
    for (int revision = 0; revision < 40; ++revision) {
      c = gen.edit(c);
      // Stats slots by index; now and then by another scheme, so that a shared route's slot
      // changes (it must then not be taken over).
      const uint32_t base = gen.below(8) == 0 ? 500 : 100;
      std::vector<uint32_t> slots;
      for (size_t i = 0; i < c.routes.size(); ++i) {
        slots.push_back(static_cast<uint32_t>(base + i));
      }
      auto fresh = compileRouteTable(c, slots);
      ASSERT_TRUE(fresh.ok()) << fresh.error().message;
      auto table = compileRouteTable(c, slots, previousTable.get());
      ASSERT_TRUE(table.ok()) << table.error().message;
      for (int n = 0; n < 60; ++n) {
        Generator::Request q = gen.request();
        for (const auto& [name, value] : q.fields) {
          q.headers.push_back(http::HeaderField{name, value});
        }
        RequestView view{q.host, q.path, q.query, q.method, q.headers};
        const RouteMatchResult got = table.value()->lookup(view);
        const std::optional<Entry> want = reference(c, view);
        ASSERT_EQ(describe(got), describe(want, c))
            << "seed " << seed << " revision " << revision << ": " << q.method << " " << q.host
            << q.path << "?" << q.query;
        const RouteMatchResult again = fresh.value()->lookup(view);
        ASSERT_EQ(describe(again), describe(got)) << "fresh vs incremental, seed " << seed;
        if (got.rule != nullptr) {
          EXPECT_EQ(got.rule->singlePool, again.rule->singlePool);
          EXPECT_EQ(got.rule->totalWeight, again.rule->totalWeight);
          ASSERT_EQ(got.rule->backends.size(), again.rule->backends.size());
          for (size_t b = 0; b < got.rule->backends.size(); ++b) {
            EXPECT_EQ(got.rule->backends[b].poolIndex, again.rule->backends[b].poolIndex);
            EXPECT_EQ(got.rule->cumulativeWeights[b], again.rule->cumulativeWeights[b]);
          }
          EXPECT_EQ(pickBackend(*got.rule, 12345), pickBackend(*again.rule, 12345));
        }
        ++requests;
        if (got.rule != nullptr) {
          ++matched;
          if (got.match != nullptr) {
            withConditions += got.match->headers.size() + got.match->queryParams.size() +
                                  (got.match->method ? 1 : 0) >
                              0;
            byRegex += got.match->path && got.match->path->type == PathMatchType::RegularExpression;
          }
          EXPECT_EQ(got.rule->routeIndex, want->route);
          EXPECT_EQ(got.rule->rule, &c.routes[want->route].rules[want->rule]);
          EXPECT_EQ(got.rule->statsSlot, base + want->route);
        }
      }
      // The new table must not depend on the previous one (nor on its config's lifetime).
      previousTable.reset();
      previousConfig = c;
      previousTable = std::move(table.value());
      for (int n = 0; n < 20; ++n) {
        Generator::Request q = gen.request();
        for (const auto& [name, value] : q.fields) {
          q.headers.push_back(http::HeaderField{name, value});
        }
        RequestView view{q.host, q.path, q.query, q.method, q.headers};
        ASSERT_EQ(describe(previousTable->lookup(view)), describe(reference(c, view), c));
      }
    }
  }
  // The generator reaches every kind of winner (else the comparison proves little).
  EXPECT_GT(matched, requests / 4) << matched << " of " << requests;
  EXPECT_GT(withConditions, requests / 50) << withConditions;
  EXPECT_GT(byRegex, requests / 1000) << byRegex;
  std::printf("%zu requests, %zu matched, %zu by entries with conditions, %zu by regex\n", requests,
              matched, withConditions, byRegex);
}

} // namespace
} // namespace fulcrum::router
