#pragma once

// Splitting a request target into the path the router matches and the query. Pure; used by the
// session and by the request-path fuzzer.

#include <string_view>

#include "proxy/http/parser.h"

namespace fulcrum::server {

// origin-form "/p?q" -> ("/p", "q"); absolute-form "http://h/p?q" -> ("/p", "q") (the authority
// is the Host the parser already took); "http://h" -> ("/", ""); asterisk-form "*" -> ("*", "").
inline void splitTarget(std::string_view target, std::string_view& path, std::string_view& query) {
  auto startsWithNoCase = [](std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && http::iequals(s.substr(0, prefix.size()), prefix);
  };
  const bool originForm = !target.empty() && target[0] == '/';
  if (!originForm &&
      (startsWithNoCase(target, "http://") || startsWithNoCase(target, "https://"))) {
    const size_t authority = target.find("//") + 2;
    const size_t end = target.find_first_of("/?", authority);
    target = end == std::string_view::npos ? std::string_view("/") : target.substr(end);
    if (!target.empty() && target[0] == '?') {
      path = "/";
      query = target.substr(1);
      return;
    }
  }
  const size_t q = target.find('?');
  if (q == std::string_view::npos) {
    path = target;
    query = {};
  } else {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
}

} // namespace fulcrum::server
