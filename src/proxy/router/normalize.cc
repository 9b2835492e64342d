// normalizePath (see route_table.h). Runs on the worker for every request, so the common case
// (nothing to change) only scans the path once and returns it untouched.

#include <cstring>

#include "proxy/router/route_table.h"

namespace fulcrum::router {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool isUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// True if `path` has a "." or ".." segment, an empty segment (when merging) or any '%'.
bool needsWork(std::string_view path, bool mergeSlashes) {
  if (!mergeSlashes && path.size() <= 64) {
    // The usual short path: without a '%' or a '.' nothing can change. One pass without the
    // memchr calls below (three for "/").
    bool special = false;
    for (const char c : path) {
      special |= (c == '%') | (c == '.');
    }
    if (!special) {
      return false;
    }
  }
  if (path.find('%') != std::string_view::npos) {
    return true;
  }
  for (size_t i = path.find('/'); i != std::string_view::npos; i = path.find('/', i + 1)) {
    size_t n = path.size() - i - 1; // bytes after this '/'
    const char* p = path.data() + i + 1;
    if (n >= 1 && p[0] == '.' && (n == 1 || p[1] == '/')) {
      return true; // "/." or "/./"
    }
    if (n >= 2 && p[0] == '.' && p[1] == '.' && (n == 2 || p[2] == '/')) {
      return true; // "/.." or "/../"
    }
    if (mergeSlashes && n >= 1 && p[0] == '/') {
      return true;
    }
  }
  return false;
}

const char kHex[] = "0123456789ABCDEF";

} // namespace

Result<std::string_view> normalizePath(std::string_view path, std::string& scratch,
                                       bool mergeSlashes) {
  if (path == "*") {
    return path;
  }
  if (path.empty() || path.front() != '/') {
    return Error{"path must start with '/'"};
  }
  if (!needsWork(path, mergeSlashes)) {
    return path;
  }

  // Pass 1: percent-decoding into `scratch`.
  scratch.clear();
  scratch.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c != '%') {
      scratch.push_back(c);
      continue;
    }
    int hi = i + 2 < path.size() ? hexValue(path[i + 1]) : -1;
    int lo = i + 2 < path.size() ? hexValue(path[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Error{"malformed percent-encoding in path"};
    }
    auto decoded = static_cast<unsigned char>(hi * 16 + lo);
    if (decoded == '/' || decoded == '\\' || decoded == 0) {
      return Error{"encoded '/', '\\' or NUL in path"};
    }
    if (isUnreserved(decoded)) {
      scratch.push_back(static_cast<char>(decoded));
    } else {
      scratch.push_back('%');
      scratch.push_back(kHex[hi]);
      scratch.push_back(kHex[lo]);
    }
    i += 2;
  }

  // Pass 2: dot segments and (optionally) empty segments, in place: the output never grows, so
  // the write position `w` never passes the read position. The output always starts with '/'.
  char* s = scratch.data();
  size_t n = scratch.size();
  size_t w = 0; // output is s[0, w)
  size_t r = 0; // s[r] == '/' at the top of the loop
  while (r < n) {
    size_t end = r + 1;
    while (end < n && s[end] != '/') {
      ++end;
    }
    size_t len = end - r - 1; // segment s[r + 1, end)
    bool last = end == n;
    const char* seg = s + r + 1;
    if (len == 1 && seg[0] == '.') {
      if (last) {
        s[w++] = '/'; // "/a/." -> "/a/"
      }
    } else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
      while (w > 0 && s[w - 1] != '/') {
        --w; // drop the last output segment...
      }
      if (w > 0) {
        --w; // ...and its '/' (at the root nothing is left to drop: clamped)
      }
      if (last) {
        s[w++] = '/'; // "/a/b/.." -> "/a/"
      }
    } else if (len == 0 && mergeSlashes && !last) {
      // "//" -> "/": skip the empty segment (a final empty segment is the trailing slash)
    } else if (len == 0 && mergeSlashes && last && w > 0 && s[w - 1] == '/') {
      // "/a//" merged: the trailing slash is already there
    } else {
      std::memmove(s + w + 1, seg, len);
      s[w] = '/';
      w += len + 1;
    }
    r = end;
  }
  if (w == 0) {
    s[w++] = '/';
  }
  scratch.resize(w);
  return std::string_view(scratch);
}

} // namespace fulcrum::router
