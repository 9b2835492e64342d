#include "proxy/router/filters.h"

#include <gtest/gtest.h>

namespace fulcrum::router {
namespace {

TEST(Redirect, DefaultsToTheRequest) {
  config::Redirect r;
  RedirectRequest req{"http", "Example.com:8080", 8080, "/a/b", "x=1"};
  RedirectResponse out = computeRedirect(r, req);
  EXPECT_EQ(out.status, 302);
  EXPECT_EQ(out.location, "http://Example.com:8080/a/b?x=1");
}

TEST(Redirect, SchemeChangeUsesItsWellKnownPort) {
  config::Redirect r;
  r.scheme = "https";
  r.statusCode = 301;
  RedirectRequest req{"http", "example.com:8080", 8080, "/a", ""};
  RedirectResponse out = computeRedirect(r, req);
  EXPECT_EQ(out.status, 301);
  EXPECT_EQ(out.location, "https://example.com/a");
}

TEST(Redirect, ExplicitFields) {
  config::Redirect r;
  r.scheme = "https";
  r.hostname = "new.example.com";
  r.port = 8443;
  r.path = "/moved";
  r.statusCode = 308;
  RedirectRequest req{"http", "old.example.com", 80, "/a", "q=2"};
  RedirectResponse out = computeRedirect(r, req);
  EXPECT_EQ(out.status, 308);
  EXPECT_EQ(out.location, "https://new.example.com:8443/moved?q=2");
}

TEST(Redirect, WellKnownPortOmittedAndIpv6Kept) {
  config::Redirect r;
  r.port = 80;
  RedirectRequest req{"http", "[::1]:9000", 9000, "/", ""};
  EXPECT_EQ(computeRedirect(r, req).location, "http://[::1]/");
  config::Redirect r2;
  RedirectRequest req2{"https", "h", 443, "/p", ""};
  EXPECT_EQ(computeRedirect(r2, req2).location, "https://h/p");
}

config::RouteMatch prefixMatch(std::string value) {
  config::RouteMatch m;
  m.path = config::PathMatch{config::PathMatchType::PathPrefix, std::move(value)};
  return m;
}

std::string rewrite(std::string_view path, std::string prefix, std::string replacement) {
  config::UrlRewrite rw;
  rw.pathKind = config::RewriteKind::ReplacePrefixMatch;
  rw.path = std::move(replacement);
  config::RouteMatch m = prefixMatch(std::move(prefix));
  std::string scratch;
  return std::string(rewritePath(rw, path, &m, scratch));
}

// The table of the Gateway API's HTTPPathModifier documentation.
TEST(Rewrite, ReplacePrefixMatch) {
  EXPECT_EQ(rewrite("/foo/bar", "/foo", "/xyz"), "/xyz/bar");
  EXPECT_EQ(rewrite("/foo/bar", "/foo", "/xyz/"), "/xyz/bar");
  EXPECT_EQ(rewrite("/foo/bar", "/foo/", "/xyz"), "/xyz/bar");
  EXPECT_EQ(rewrite("/foo/bar", "/foo/", "/xyz/"), "/xyz/bar");
  EXPECT_EQ(rewrite("/foo", "/foo", "/xyz"), "/xyz");
  EXPECT_EQ(rewrite("/foo/", "/foo", "/xyz"), "/xyz/");
  EXPECT_EQ(rewrite("/foo/bar", "/foo", ""), "/bar");
  EXPECT_EQ(rewrite("/foo/", "/foo", ""), "/");
  EXPECT_EQ(rewrite("/foo", "/foo", ""), "/");
  EXPECT_EQ(rewrite("/foo/", "/foo", "/"), "/");
  EXPECT_EQ(rewrite("/foo", "/foo", "/"), "/");
  EXPECT_EQ(rewrite("/foo/bar", "/", "/xyz"), "/xyz/foo/bar");
  EXPECT_EQ(rewrite("/", "/", "/xyz"), "/xyz/");
}

TEST(Rewrite, FullPathNoneAndImplicitMatch) {
  std::string scratch;
  config::UrlRewrite none;
  std::string_view in = "/keep";
  EXPECT_EQ(rewritePath(none, in, nullptr, scratch).data(), in.data());

  config::UrlRewrite full;
  full.pathKind = config::RewriteKind::ReplaceFullPath;
  full.path = "/new";
  EXPECT_EQ(rewritePath(full, "/old/x", nullptr, scratch), "/new");

  config::UrlRewrite prefix;
  prefix.pathKind = config::RewriteKind::ReplacePrefixMatch;
  prefix.path = "/api";
  EXPECT_EQ(rewritePath(prefix, "/x", nullptr, scratch), "/api/x"); // implicit PathPrefix "/"

  config::RouteMatch exact;
  exact.path = config::PathMatch{config::PathMatchType::Exact, "/old"};
  EXPECT_EQ(rewritePath(prefix, "/old", &exact, scratch), "/api");
}

} // namespace
} // namespace fulcrum::router
