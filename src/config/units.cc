#include "config/units.h"

#include <array>
#include <cctype>
#include <limits>

#include <fmt/format.h>

namespace fulcrum::config {
namespace {

using u128 = unsigned __int128;

constexpr uint64_t kNanosPerMilli = 1'000'000;

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr std::array<Unit, 4> kDurationUnits{{
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

constexpr std::array<Unit, 5> kSizeUnits{{
    {"B", 1},
    {"KiB", uint64_t{1} << 10},
    {"MiB", uint64_t{1} << 20},
    {"GiB", uint64_t{1} << 30},
    {"TiB", uint64_t{1} << 40},
}};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool allNumeric(std::string_view text) {
  bool digit = false;
  for (char c : text) {
    if (isDigit(c)) {
      digit = true;
    } else if (c != '.' && c != '-' && c != '+') {
      return false;
    }
  }
  return digit;
}

} // namespace

Result<Duration> parseDuration(std::string_view text) {
  if (text.empty()) {
    return Error{"expected a duration such as \"2s\" or \"250ms\", got an empty string"};
  }
  if (allNumeric(text)) {
    return Error{fmt::format("duration \"{}\" needs a unit (ms, s, m or h), e.g. \"{}s\" or "
                             "\"{}ms\"",
                             text, text, text)};
  }
  if (text.front() == '-') {
    return Error{fmt::format("duration \"{}\" must not be negative", text)};
  }
  auto invalid = [&] {
    return Error{
        fmt::format("invalid duration \"{}\": expected e.g. \"250ms\", \"2s\", \"1m30s\"", text)};
  };
  constexpr u128 kMax = std::numeric_limits<int64_t>::max();
  u128 total = 0;
  size_t i = 0;
  while (i < text.size()) {
    u128 whole = 0;
    size_t start = i;
    while (i < text.size() && isDigit(text[i])) {
      whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
      if (whole > kMax) {
        return Error{fmt::format("duration \"{}\" is too large", text)};
      }
      ++i;
    }
    u128 fraction = 0;
    u128 scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      size_t fractionStart = i;
      while (i < text.size() && isDigit(text[i])) {
        // Digits beyond 18 cannot change a millisecond-resolution result unless nonzero, in which
        // case the sub-millisecond check below rejects the value anyway.
        if (i - fractionStart < 18) {
          fraction = fraction * 10 + static_cast<unsigned>(text[i] - '0');
          scale *= 10;
        } else if (text[i] != '0') {
          return Error{fmt::format("duration \"{}\" is finer than a millisecond", text)};
        }
        ++i;
      }
      if (i == fractionStart) {
        return invalid();
      }
    }
    if (i == start) {
      return invalid();
    }
    size_t unitStart = i;
    while (i < text.size() && isAlpha(text[i])) {
      ++i;
    }
    std::string_view unit = text.substr(unitStart, i - unitStart);
    if (unit.empty()) {
      return Error{
          fmt::format("duration \"{}\" needs a unit (ms, s, m or h) after each number", text)};
    }
    const Unit* found = nullptr;
    for (const auto& u : kDurationUnits) {
      if (u.name == unit) {
        found = &u;
      }
    }
    if (found == nullptr) {
      return Error{
          fmt::format("unknown unit \"{}\" in duration \"{}\": use ms, s, m or h", unit, text)};
    }
    u128 part = whole * found->factor;
    u128 fractionNanos = fraction * found->factor;
    if (fractionNanos % scale != 0) {
      return Error{fmt::format("duration \"{}\" is finer than a millisecond", text)};
    }
    part += fractionNanos / scale;
    total += part;
    if (total > kMax) {
      return Error{fmt::format("duration \"{}\" is too large", text)};
    }
  }
  if (total % kNanosPerMilli != 0) {
    return Error{fmt::format("duration \"{}\" is finer than a millisecond", text)};
  }
  return Duration(static_cast<int64_t>(total / kNanosPerMilli));
}

Result<uint64_t> parseSize(std::string_view text) {
  if (text.empty()) {
    return Error{"expected a size such as \"16KiB\" or a number of bytes, got an empty string"};
  }
  if (text.front() == '-') {
    return Error{fmt::format("size \"{}\" must not be negative", text)};
  }
  u128 value = 0;
  size_t i = 0;
  while (i < text.size() && isDigit(text[i])) {
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
    if (value > std::numeric_limits<uint64_t>::max()) {
      return Error{fmt::format("size \"{}\" is too large", text)};
    }
    ++i;
  }
  if (i == 0) {
    return Error{
        fmt::format("invalid size \"{}\": expected e.g. \"512B\", \"16KiB\", \"1MiB\" or a number "
                    "of bytes",
                    text)};
  }
  std::string_view unit = text.substr(i);
  if (unit.empty()) {
    return static_cast<uint64_t>(value);
  }
  if (unit.front() == '.') {
    return Error{fmt::format("size \"{}\" must be a whole number; use a smaller unit", text)};
  }
  for (const auto& u : kSizeUnits) {
    if (u.name == unit) {
      value *= u.factor;
      if (value > std::numeric_limits<uint64_t>::max()) {
        return Error{fmt::format("size \"{}\" is too large", text)};
      }
      return static_cast<uint64_t>(value);
    }
  }
  return Error{
      fmt::format("unknown unit \"{}\" in size \"{}\": use B, KiB, MiB, GiB or TiB", unit, text)};
}

std::string formatDuration(Duration duration) {
  int64_t ms = duration.count();
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  const int64_t hours = ms / 3'600'000;
  const int64_t minutes = ms / 60'000 % 60;
  const int64_t seconds = ms / 1000 % 60;
  const int64_t millis = ms % 1000;
  if (hours != 0) {
    out += fmt::format("{}h", hours);
  }
  if (minutes != 0) {
    out += fmt::format("{}m", minutes);
  }
  if (seconds != 0) {
    out += fmt::format("{}s", seconds);
  }
  if (millis != 0) {
    out += fmt::format("{}ms", millis);
  }
  return out;
}

std::string formatSize(uint64_t bytes) {
  for (auto it = kSizeUnits.rbegin(); it != kSizeUnits.rend(); ++it) {
    if (it->factor > 1 && bytes != 0 && bytes % it->factor == 0) {
      return fmt::format("{}{}", bytes / it->factor, it->name);
    }
  }
  return fmt::format("{}", bytes);
}

} // namespace fulcrum::config
