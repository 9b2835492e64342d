#include "proxy/router/filters.h"

namespace fulcrum::router {
namespace {

uint16_t wellKnownPort(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

std::string_view stripPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

std::string_view stripTrailingSlashes(std::string_view s) {
  while (!s.empty() && s.back() == '/') {
    s.remove_suffix(1);
  }
  return s;
}

} // namespace

RedirectResponse computeRedirect(const config::Redirect& redirect, const RedirectRequest& request) {
  RedirectResponse out;
  out.status = redirect.statusCode;
  std::string_view scheme = redirect.scheme ? std::string_view(*redirect.scheme) : request.scheme;
  if (scheme.empty()) {
    scheme = "http";
  }
  uint16_t port = redirect.port     ? *redirect.port
                  : redirect.scheme ? wellKnownPort(scheme)
                                    : request.listenerPort;
  std::string_view host =
      redirect.hostname ? std::string_view(*redirect.hostname) : stripPort(request.host);
  std::string_view path = redirect.path ? std::string_view(*redirect.path) : request.path;
  if (path.empty()) {
    path = "/";
  }

  std::string& loc = out.location;
  loc.reserve(scheme.size() + 3 + host.size() + 6 + path.size() + 1 + request.query.size());
  loc.append(scheme).append("://").append(host);
  if (port != wellKnownPort(scheme)) {
    loc.push_back(':');
    loc.append(std::to_string(port));
  }
  loc.append(path);
  if (!request.query.empty()) {
    loc.push_back('?');
    loc.append(request.query);
  }
  return out;
}

std::string_view rewritePath(const config::UrlRewrite& rewrite, std::string_view path,
                             const config::RouteMatch* match, std::string& scratch) {
  if (!rewrite.pathKind) {
    return path;
  }
  if (*rewrite.pathKind == config::RewriteKind::ReplaceFullPath) {
    scratch.assign(rewrite.path.empty() ? std::string_view("/") : std::string_view(rewrite.path));
    return scratch;
  }

  std::string_view prefix; // what was matched, without trailing '/'
  if (match != nullptr && match->path) {
    switch (match->path->type) {
    case config::PathMatchType::PathPrefix:
      prefix = stripTrailingSlashes(match->path->value);
      break;
    case config::PathMatchType::Exact:
      prefix = stripTrailingSlashes(path);
      break;
    case config::PathMatchType::RegularExpression:
      return path;
    }
  }
  if (path.substr(0, prefix.size()) != prefix ||
      (path.size() > prefix.size() && path[prefix.size()] != '/')) {
    return path; // not the path this entry matched (caller error): leave it alone
  }
  std::string_view rest = path.substr(prefix.size()); // "" or starts with '/'
  std::string_view replacement = stripTrailingSlashes(rewrite.path);
  scratch.assign(replacement);
  scratch.append(rest);
  if (scratch.empty()) {
    scratch.push_back('/');
  }
  return scratch;
}

} // namespace fulcrum::router
