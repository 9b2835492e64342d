#include "config/lexical.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace fulcrum::config {
namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isTchar(char c) {
  if (isAlnum(c)) {
    return true;
  }
  switch (c) {
  case '!':
  case '#':
  case '$':
  case '%':
  case '&':
  case '\'':
  case '*':
  case '+':
  case '-':
  case '.':
  case '^':
  case '_':
  case '`':
  case '|':
  case '~':
    return true;
  default:
    return false;
  }
}

bool isControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::string squash(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '-' && c != '_') {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
  return out;
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  std::vector<size_t> prev2(m + 1);
  std::vector<size_t> prev(m + 1);
  std::vector<size_t> cur(m + 1);
  for (size_t j = 0; j <= m; ++j) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2.swap(prev);
    prev.swap(cur);
  }
  return prev[m];
}

} // namespace

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTchar);
}

std::optional<std::string> checkName(std::string_view name) {
  if (name.empty()) {
    return "name must not be empty";
  }
  if (name.size() > 128) {
    return fmt::format("name {} is longer than 128 characters", quote(name));
  }
  bool ok = isAlnum(name.front()) && std::all_of(name.begin(), name.end(), [](char c) {
              return isAlnum(c) || c == '.' || c == '_' || c == '-';
            });
  if (!ok) {
    return fmt::format("invalid name {}: use letters, digits, '.', '_' and '-', starting with a "
                       "letter or digit",
                       quote(name));
  }
  return std::nullopt;
}

std::optional<std::string> checkHostname(std::string_view host, bool allowWildcard) {
  if (host.empty()) {
    return "hostname must not be empty";
  }
  std::string_view rest = host;
  if (rest == "*") {
    return allowWildcard ? std::optional<std::string>(
                               "a bare \"*\" is not a hostname; leave hostnames empty to match "
                               "any host, or use a wildcard such as \"*.example.com\"")
                         : std::optional<std::string>("\"*\" is not a hostname");
  }
  if (rest.starts_with("*.")) {
    if (!allowWildcard) {
      return fmt::format("invalid hostname {}: wildcards are not allowed here", quote(host));
    }
    rest.remove_prefix(2);
  }
  if (host.size() > 253) {
    return fmt::format("hostname {} is longer than 253 characters", quote(host));
  }
  size_t start = 0;
  while (true) {
    size_t dot = rest.find('.', start);
    std::string_view label =
        rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.find('*') != std::string_view::npos) {
      return fmt::format("invalid hostname {}: a wildcard is only allowed as a leading \"*.\"",
                         quote(host));
    }
    if (label.empty()) {
      return fmt::format("invalid hostname {}: empty label", quote(host));
    }
    if (label.size() > 63) {
      return fmt::format("invalid hostname {}: label longer than 63 characters", quote(host));
    }
    bool ok = label.front() != '-' && label.back() != '-' &&
              std::all_of(label.begin(), label.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
              });
    if (!ok) {
      return fmt::format("invalid hostname {}: labels are letters, digits and '-' (not at either "
                         "end); no port, scheme or path",
                         quote(host));
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return std::nullopt;
}

std::optional<std::string> checkRequestTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return fmt::format("path {} must start with '/'", quote(target));
  }
  for (char c : target) {
    if (isControl(c) || c == ' ' || static_cast<unsigned char>(c) >= 0x80) {
      return fmt::format("path {} contains whitespace, control or non-ASCII characters",
                         quote(target));
    }
    if (c == '#') {
      return fmt::format("path {} must not contain a fragment ('#')", quote(target));
    }
  }
  return std::nullopt;
}

std::optional<std::string> checkPath(std::string_view path) {
  if (auto error = checkRequestTarget(path)) {
    return error;
  }
  if (path.find('?') != std::string_view::npos) {
    return fmt::format("path {} must not contain a query ('?'); match query parameters with "
                       "queryParams",
                       quote(path));
  }
  std::string lower = toLower(path);
  if (lower.find("%2f") != std::string::npos || lower.find("%5c") != std::string::npos) {
    return fmt::format("path {} must not contain an encoded '/' or '\\'", quote(path));
  }
  if (path.find("//") != std::string_view::npos || path.find("/./") != std::string_view::npos ||
      path.find("/../") != std::string_view::npos || path.ends_with("/.") ||
      path.ends_with("/..")) {
    return fmt::format("path {} is not normalized (no \"//\", \".\" or \"..\" segments): requests "
                       "are normalized before matching, so it could never match",
                       quote(path));
  }
  return std::nullopt;
}

std::optional<std::string> checkFieldValue(std::string_view value) {
  for (char c : value) {
    if (isControl(c) && c != '\t') {
      return fmt::format("header value {} contains a control character", quote(value));
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> candidates) {
  const std::string squashed = squash(word);
  for (auto candidate : candidates) {
    if (squash(candidate) == squashed) {
      return candidate;
    }
  }
  // Suggestions are for typos in short words; long inputs are not worth the quadratic cost.
  if (word.size() > 64) {
    return std::nullopt;
  }
  const size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::optional<std::string_view> best;
  size_t bestDistance = limit + 1;
  for (auto candidate : candidates) {
    size_t d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

std::string didYouMean(std::string_view word, std::span<const std::string_view> candidates) {
  auto best = closestMatch(word, candidates);
  return best ? fmt::format("; did you mean \"{}\"?", *best) : std::string();
}

std::string quote(std::string_view text) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  size_t shown = 0;
  for (char c : text) {
    if (shown == kMax) {
      out += "...";
      break;
    }
    ++shown;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (isControl(c)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

} // namespace fulcrum::config
