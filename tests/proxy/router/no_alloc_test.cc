// match() must not allocate: counts global operator new calls around lookups.

// GCC flags free() in the replacement operator delete as mismatched with operator new once both
// are inlined into the same caller; they are a matching malloc/free pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "proxy/router/route_table.h"

namespace {
std::atomic<size_t> allocations{0};
} // namespace

// Sanitizers bring their own operator new; the count is only kept in ordinary builds.
#if defined(__SANITIZE_ADDRESS__)
#define FULCRUM_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FULCRUM_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef FULCRUM_COUNT_ALLOCATIONS
#define FULCRUM_COUNT_ALLOCATIONS 1
#endif

#if FULCRUM_COUNT_ALLOCATIONS
void* operator new(size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
#endif

namespace fulcrum::router {
namespace {

config::RouteMatch match(config::PathMatchType type, std::string value) {
  config::RouteMatch m;
  m.path = config::PathMatch{type, std::move(value)};
  return m;
}

TEST(RouteTable, MatchDoesNotAllocate) {
  if (!FULCRUM_COUNT_ALLOCATIONS) {
    GTEST_SKIP() << "allocation counting is off under sanitizers";
  }
  config::Config c;
  c.pools.push_back(config::Pool{});
  c.pools[0].name = "p";
  auto addRule = [&](std::vector<std::string> hosts, config::RouteMatch m) {
    config::Route route;
    route.name = "r" + std::to_string(c.routes.size());
    route.hostnames = std::move(hosts);
    config::Rule rule;
    rule.matches.push_back(std::move(m));
    rule.backends.push_back(config::BackendRef{"p", 1, {}});
    route.rules.push_back(std::move(rule));
    c.routes.push_back(std::move(route));
  };
  addRule({"a.example.com"}, match(config::PathMatchType::PathPrefix, "/v1"));
  addRule({"*.example.com"}, match(config::PathMatchType::Exact, "/login"));
  config::RouteMatch withConditions = match(config::PathMatchType::PathPrefix, "/v2");
  withConditions.headers.push_back({"x-canary", config::StringMatchType::Exact, "on"});
  withConditions.queryParams.push_back({"debug", config::StringMatchType::Exact, "1"});
  withConditions.method = "POST";
  addRule({"a.example.com"}, withConditions);
  addRule({}, match(config::PathMatchType::RegularExpression, "/items/[0-9]+"));
  auto table = compileRouteTable(c);
  ASSERT_TRUE(table.ok());

  std::vector<http::HeaderField> headers = {{"Accept", "*/*"}, {"X-Canary", "on"}};
  const RequestView requests[] = {
      {"A.Example.com:8080", "/v1/users/42", "", "GET", headers},
      {"b.example.com", "/login", "", "GET", headers},
      {"a.example.com", "/v2/x", "a=b&debug=1", "POST", headers},
      {"other", "/items/17", "", "GET", {}},
      {"other", "/nothing", "", "GET", {}},
      {std::string_view("[::1]:80"), "/", "", "GET", {}},
  };
  for (const RequestView& r : requests) { // warm-up (RE2 builds its DFA states lazily)
    table.value()->match(r);
  }
  size_t before = allocations.load();
  size_t matched = 0;
  for (int round = 0; round < 100; ++round) {
    for (const RequestView& r : requests) {
      matched += table.value()->match(r) != nullptr;
    }
  }
  EXPECT_EQ(allocations.load(), before);
  EXPECT_EQ(matched, 400u);
}

TEST(NormalizePath, FastPathDoesNotAllocate) {
  if (!FULCRUM_COUNT_ALLOCATIONS) {
    GTEST_SKIP() << "allocation counting is off under sanitizers";
  }
  std::string scratch;
  size_t before = allocations.load();
  auto r = normalizePath("/api/v1/users/42", scratch, true);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(allocations.load(), before);
}

} // namespace
} // namespace fulcrum::router
