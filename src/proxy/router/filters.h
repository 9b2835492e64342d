#pragma once

// Pure helpers for the per-rule filters the proxy applies after routing: RequestRedirect and
// UrlRewrite. (Header add / set / remove are applied by the proxy directly from
// config::HeaderModifier.) Thread-safe: no state; the results own their bytes or view the inputs.

#include <cstdint>
#include <string>
#include <string_view>

#include "config/schema.h"

namespace fulcrum::router {

// What a redirect needs to know about the request.
struct RedirectRequest {
  std::string_view scheme;    // "http" or "https": how the request arrived
  std::string_view host;      // Host header as received (its port is ignored)
  uint16_t listenerPort = 80; // the port the request arrived on
  std::string_view path;      // the request's path (without the query)
  std::string_view query;     // after '?', without it; empty if none
};

struct RedirectResponse {
  uint16_t status = 302;
  std::string location; // absolute URI
};

// The Location and status of a RequestRedirect (Gateway API semantics): scheme and hostname
// default to the request's; the port is the configured one, else the well-known port of a
// configured scheme, else the listener's port, and is omitted when it is the scheme's well-known
// port (80 for http, 443 for https). `path`, when set, replaces the whole path; the query is kept.
RedirectResponse computeRedirect(const config::Redirect& redirect, const RedirectRequest& request);

// The path after a UrlRewrite (Gateway API semantics). `path` is the path the router matched on
// (normalized, without the query), `match` the entry that matched (RouteMatchResult::match;
// nullptr = the rule's implicit match-all, i.e. PathPrefix "/").
//   ReplaceFullPath:    the whole path becomes rewrite.path.
//   ReplacePrefixMatch: the matched prefix is replaced on segment boundaries: prefix /foo with
//     /xyz turns /foo/bar into /xyz/bar and /foo into /xyz; with "/" or "" it turns /foo/bar into
//     /bar and /foo into /. An Exact match counts as a prefix equal to the whole path; a
//     RegularExpression match leaves the path unchanged (the validator rejects that combination).
// Returns `path` itself when nothing changes (no pathKind), else a view of `scratch`.
std::string_view rewritePath(const config::UrlRewrite& rewrite, std::string_view path,
                             const config::RouteMatch* match, std::string& scratch);

} // namespace fulcrum::router
