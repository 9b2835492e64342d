#include "control/line_diff.h"

#include <algorithm>

#include <fmt/format.h>

namespace fulcrum::control {
namespace {

// Beyond this many differing lines the script degrades to "delete all, insert all" of the
// middle part, bounding time and memory (the trace is O(D^2)).
constexpr long kMaxEditDistance = 20000;

} // namespace

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    if (newline == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, newline));
    text.remove_prefix(newline + 1);
  }
  return lines;
}

std::vector<Edit> diffLines(const std::vector<std::string_view>& a,
                            const std::vector<std::string_view>& b) {
  std::vector<Edit> script;
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
    script.push_back({EditKind::Keep, prefix, prefix});
    ++prefix;
  }
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const long n = static_cast<long>(a.size() - prefix - suffix);
  const long m = static_cast<long>(b.size() - prefix - suffix);
  auto A = [&](long i) { return a[prefix + static_cast<size_t>(i)]; };
  auto B = [&](long j) { return b[prefix + static_cast<size_t>(j)]; };

  // Myers: v[k] = furthest x on diagonal k; trace[d] = v over k in [-d-1, d+1] before step d.
  const long max = n + m;
  std::vector<long> v(static_cast<size_t>(2 * max + 3), 0);
  auto at = [&](long k) -> long& { return v[static_cast<size_t>(k + max + 1)]; };
  std::vector<std::vector<long>> trace;
  long found = -1;
  for (long d = 0; d <= max && d <= kMaxEditDistance; ++d) {
    trace.emplace_back(v.begin() + (max + 1 - d - 1), v.begin() + (max + 1 + d + 2));
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? at(k + 1) : at(k - 1) + 1;
      long y = x - k;
      while (x < n && y < m && A(x) == B(y)) {
        ++x;
        ++y;
      }
      at(k) = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) {
      break;
    }
  }

  std::vector<Edit> middle;
  if (found < 0) {
    for (long i = 0; i < n; ++i) {
      middle.push_back({EditKind::Delete, prefix + static_cast<size_t>(i), prefix});
    }
    for (long j = 0; j < m; ++j) {
      middle.push_back(
          {EditKind::Insert, prefix + static_cast<size_t>(n), prefix + static_cast<size_t>(j)});
    }
  } else {
    long x = n;
    long y = m;
    for (long d = found; d >= 0; --d) {
      const auto& row = trace[static_cast<size_t>(d)];
      auto prev = [&](long k) { return row[static_cast<size_t>(k + d + 1)]; };
      long k = x - y;
      long prevK = (k == -d || (k != d && prev(k - 1) < prev(k + 1))) ? k + 1 : k - 1;
      long prevX = d == 0 ? 0 : prev(prevK);
      long prevY = d == 0 ? 0 : prevX - prevK;
      while (x > prevX && y > prevY) {
        --x;
        --y;
        middle.push_back(
            {EditKind::Keep, prefix + static_cast<size_t>(x), prefix + static_cast<size_t>(y)});
      }
      if (d > 0) {
        if (x == prevX) {
          --y;
          middle.push_back(
              {EditKind::Insert, prefix + static_cast<size_t>(x), prefix + static_cast<size_t>(y)});
        } else {
          --x;
          middle.push_back(
              {EditKind::Delete, prefix + static_cast<size_t>(x), prefix + static_cast<size_t>(y)});
        }
      }
    }
    std::reverse(middle.begin(), middle.end());
  }
  script.insert(script.end(), middle.begin(), middle.end());
  for (size_t i = 0; i < suffix; ++i) {
    script.push_back({EditKind::Keep, a.size() - suffix + i, b.size() - suffix + i});
  }
  return script;
}

std::string unifiedDiff(std::string_view oldText, std::string_view newText,
                        std::string_view oldName, std::string_view newName, size_t context) {
  auto a = splitLines(oldText);
  auto b = splitLines(newText);
  auto script = diffLines(a, b);
  std::vector<size_t> changes;
  for (size_t i = 0; i < script.size(); ++i) {
    if (script[i].kind != EditKind::Keep) {
      changes.push_back(i);
    }
  }
  if (changes.empty()) {
    return "";
  }
  std::string out = fmt::format("--- {}\n+++ {}\n", oldName, newName);
  size_t c = 0;
  while (c < changes.size()) {
    size_t begin = changes[c] > context ? changes[c] - context : 0;
    size_t last = changes[c];
    while (c + 1 < changes.size() && changes[c + 1] - last <= 2 * context + 1) {
      last = changes[++c];
    }
    ++c;
    size_t end = std::min(script.size(), last + context + 1);
    size_t oldCount = 0;
    size_t newCount = 0;
    std::string body;
    for (size_t i = begin; i < end; ++i) {
      const Edit& e = script[i];
      switch (e.kind) {
      case EditKind::Keep:
        ++oldCount;
        ++newCount;
        body += fmt::format(" {}\n", a[e.oldLine]);
        break;
      case EditKind::Delete:
        ++oldCount;
        body += fmt::format("-{}\n", a[e.oldLine]);
        break;
      case EditKind::Insert:
        ++newCount;
        body += fmt::format("+{}\n", b[e.newLine]);
        break;
      }
    }
    // GNU convention: an empty range starts at the line before it.
    size_t oldStart = script[begin].oldLine + (oldCount > 0 ? 1 : 0);
    size_t newStart = script[begin].newLine + (newCount > 0 ? 1 : 0);
    out += fmt::format("@@ -{},{} +{},{} @@\n", oldStart, oldCount, newStart, newCount);
    out += body;
  }
  return out;
}

} // namespace fulcrum::control
