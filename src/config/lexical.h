#pragma once

// Lexical checks shared by the decoder: names, hostnames, HTTP tokens, paths, and the "did you
// mean" suggestion for misspelled keys and enum values.
//
// Pure functions; any thread. Each check returns std::nullopt when the input is fine, else a
// message fragment that names the input.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace fulcrum::config {

// ASCII lowercase copy.
std::string toLower(std::string_view text);

// RFC 9110 token (header names, methods): one or more tchar.
bool isToken(std::string_view text);

// Object names (listeners, routes, pools): letters, digits, '.', '_', '-'; starts with a letter or
// digit; at most 128 characters. They appear in metrics labels and URLs.
std::optional<std::string> checkName(std::string_view name);

// A lowercase DNS hostname (RFC 1123 labels). With allowWildcard, a leading "*." is allowed and
// nowhere else.
std::optional<std::string> checkHostname(std::string_view host, bool allowWildcard);

// A path used for Exact or PathPrefix matching or as a replacement path: starts with '/', has no
// query, fragment, whitespace, control characters, encoded slashes or dot segments (requests are
// normalized before matching, so such a value could never match).
std::optional<std::string> checkPath(std::string_view path);

// A request target for a health check: starts with '/', may carry a query, no whitespace, control
// characters or fragment.
std::optional<std::string> checkRequestTarget(std::string_view target);

// A header field value (RFC 9110 field-value): no control characters other than HTAB, no DEL.
std::optional<std::string> checkFieldValue(std::string_view value);

// The candidate closest to `word`: equal ignoring case, '-' and '_' (so `health_check` finds
// `healthCheck`), or within a small edit distance. std::nullopt when nothing is close.
std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> candidates);

// `; did you mean "x"?` or an empty string.
std::string didYouMean(std::string_view word, std::span<const std::string_view> candidates);

// Quotes `text` for a message, escaping control characters and shortening long values.
std::string quote(std::string_view text);

} // namespace fulcrum::config
