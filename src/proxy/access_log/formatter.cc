#include "proxy/access_log/formatter.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

namespace fulcrum::access_log {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Writes into a std::string through a raw cursor: the caller sizes the string once for the worst
// case (`bound` bytes), the destructor trims it to what was written. Saves the capacity checks of
// a push_back/append per piece.
class Cursor {
public:
  Cursor(std::string& out, size_t bound) : out_(out) {
    const size_t used = out.size();
    out.resize(used + bound);
    p_ = out.data() + used;
  }
  // Writes from the start of `scratch`, which keeps its size (and so is never zero-filled again
  // once large enough); the caller takes the result from written().
  struct Scratch {};
  Cursor(std::string& scratch, size_t bound, Scratch) : out_(scratch), trim_(false) {
    if (scratch.size() < bound) {
      scratch.resize(std::max(bound, 2 * scratch.size()));
    }
    p_ = scratch.data();
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (trim_) {
      out_.resize(static_cast<size_t>(p_ - out_.data()));
    }
  }
  std::string_view written() const {
    return std::string_view(out_.data(), static_cast<size_t>(p_ - out_.data()));
  }

  void put(char c) { *p_++ = c; }
  void put(std::string_view s) {
    if (!s.empty()) {
      std::memcpy(p_, s.data(), s.size());
      p_ += s.size();
    }
  }
  void number(uint64_t v) { p_ = std::to_chars(p_, p_ + 20, v).ptr; }
  // Seconds with microsecond precision: "0.001234".
  void seconds(std::chrono::nanoseconds d) {
    const int64_t micros = std::max<int64_t>(0, d.count() / 1000);
    number(static_cast<uint64_t>(micros / 1'000'000));
    *p_++ = '.';
    int64_t rest = micros % 1'000'000;
    for (int i = 5; i >= 0; --i) {
      p_[i] = static_cast<char>('0' + rest % 10);
      rest /= 10;
    }
    p_ += 6;
  }
  void jsonString(std::string_view value); // at most 6 * size + 2 bytes
  // A value known to need no escaping (tokens, config names, addresses, hex): quoted as is.
  void jsonTrusted(std::string_view value) {
    *p_++ = '"';
    put(value);
    *p_++ = '"';
  }
  void jsonOptional(std::string_view value, bool trusted) {
    if (value.empty()) {
      put("null");
    } else if (trusted) {
      jsonTrusted(value);
    } else {
      jsonString(value);
    }
  }
  void clfQuoted(std::string_view value); // at most 4 * size bytes (1 when empty)
  char*& cursor() { return p_; }

private:
  std::string& out_;
  bool trim_ = true;
  char* p_;
};

// Worst-case bytes of a JSON-escaped / CLF-escaped value.
constexpr size_t jsonBound(std::string_view v) {
  return 6 * v.size() + 2;
}

// Whether any of the 8 bytes of `w` needs JSON escaping: < 0x20, '"', '\\', 0x7f or >= 0x80.
inline bool needsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  auto hasZero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  const uint64_t below = (w - kOnes * 0x20) & ~w & kHigh;
  return (w & kHigh) != 0 || below != 0 || hasZero(w ^ (kOnes * '"')) != 0 ||
         hasZero(w ^ (kOnes * '\\')) != 0 || hasZero(w ^ (kOnes * 0x7f)) != 0;
}

void put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10 % 10);
  p[1] = static_cast<char>('0' + v % 10);
}

void put4(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 1000 % 10);
  p[1] = static_cast<char>('0' + v / 100 % 10);
  p[2] = static_cast<char>('0' + v / 10 % 10);
  p[3] = static_cast<char>('0' + v % 10);
}

std::tm utc(int64_t second) {
  const std::time_t t = static_cast<std::time_t>(second);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return tm;
}

// The length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8Length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  uint32_t cp = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

void Cursor::jsonString(std::string_view value) {
  char* p = p_;
  *p++ = '"';
  const char* s = value.data();
  const size_t n = value.size();
  size_t i = 0;
  while (i < n) {
    // Eight plain bytes at a time, the usual case.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (needsEscape(w)) {
        break;
      }
      std::memcpy(p, &w, 8);
      p += 8;
      i += 8;
    }
    if (i == n) {
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      *p++ = static_cast<char>(c);
      ++i;
      continue;
    }
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const size_t len = utf8Length(value, i); len != 0) {
        std::memcpy(p, s + i, len);
        p += len;
        i += len;
        continue;
      }
    }
    *p++ = '\\';
    switch (c) {
    case '\n':
      *p++ = 'n';
      break;
    case '\r':
      *p++ = 'r';
      break;
    case '\t':
      *p++ = 't';
      break;
    default:
      std::memcpy(p, "u00", 3);
      p[3] = kHex[c >> 4];
      p[4] = kHex[c & 0xf];
      p += 5;
      break;
    }
    ++i;
  }
  *p++ = '"';
  p_ = p;
}

// nginx-style escaping inside a quoted field: ", \ and bytes outside 0x20..0x7e as \xHH; "-" for
// an empty value.
void Cursor::clfQuoted(std::string_view value) {
  if (value.empty()) {
    *p_++ = '-';
    return;
  }
  char* p = p_;
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
      p[0] = '\\';
      p[1] = 'x';
      p[2] = kHex[c >> 4];
      p[3] = kHex[c & 0xf];
      p += 4;
    } else {
      *p++ = ch;
    }
  }
  p_ = p;
}

constexpr size_t kTimeBytes = 32; // either time format, with room to spare

} // namespace

std::optional<Format> parseFormat(std::string_view name) {
  if (name == "json") {
    return Format::Json;
  }
  if (name == "combined") {
    return Format::Combined;
  }
  return std::nullopt;
}

char* TimeFormatCache::writeRfc3339(SystemTime t, char* out) {
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  int64_t second = ms / 1000;
  int64_t milli = ms % 1000;
  if (milli < 0) {
    milli += 1000;
    --second;
  }
  if (second != rfcSecond_) {
    const std::tm tm = utc(second);
    put4(rfc_, tm.tm_year + 1900);
    rfc_[4] = '-';
    put2(rfc_ + 5, tm.tm_mon + 1);
    rfc_[7] = '-';
    put2(rfc_ + 8, tm.tm_mday);
    rfc_[10] = 'T';
    put2(rfc_ + 11, tm.tm_hour);
    rfc_[13] = ':';
    put2(rfc_ + 14, tm.tm_min);
    rfc_[16] = ':';
    put2(rfc_ + 17, tm.tm_sec);
    rfcSecond_ = second;
  }
  std::memcpy(out, rfc_, 19);
  out[19] = '.';
  out[20] = static_cast<char>('0' + milli / 100);
  out[21] = static_cast<char>('0' + milli / 10 % 10);
  out[22] = static_cast<char>('0' + milli % 10);
  out[23] = 'Z';
  return out + 24;
}

char* TimeFormatCache::writeCommonLog(SystemTime t, char* out) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t second = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  if (second != clfSecond_) {
    const std::tm tm = utc(second);
    put2(clf_, tm.tm_mday);
    clf_[2] = '/';
    std::memcpy(clf_ + 3, kMonths[tm.tm_mon], 3);
    clf_[6] = '/';
    put4(clf_ + 7, tm.tm_year + 1900);
    clf_[11] = ':';
    put2(clf_ + 12, tm.tm_hour);
    clf_[14] = ':';
    put2(clf_ + 15, tm.tm_min);
    clf_[17] = ':';
    put2(clf_ + 18, tm.tm_sec);
    clfSecond_ = second;
  }
  std::memcpy(out, clf_, 20);
  std::memcpy(out + 20, " +0000", 6);
  return out + 26;
}

void TimeFormatCache::appendRfc3339(SystemTime t, std::string& out) {
  char buf[kTimeBytes];
  out.append(buf, writeRfc3339(t, buf));
}

void TimeFormatCache::appendCommonLog(SystemTime t, std::string& out) {
  char buf[kTimeBytes];
  out.append(buf, writeCommonLog(t, buf));
}

void appendJsonString(std::string& out, std::string_view value) {
  Cursor c(out, jsonBound(value));
  c.jsonString(value);
}

namespace {

// Field names, punctuation, numbers and the time: well under 512 bytes.
size_t jsonLineBound(const AccessLogEntry& e) {
  return 512 + jsonBound(e.requestId) + jsonBound(e.host) + jsonBound(e.target) + e.traceId.size() +
         e.clientAddress.size() + e.method.size() + e.protocol.size() + e.upstreamAddress.size() +
         e.route.size() + e.pool.size() + e.responseFlags.size() + e.configRevision.size();
}

size_t combinedLineBound(const AccessLogEntry& e) {
  return 128 + e.clientAddress.size() +
         4 * (e.method.size() + e.target.size() + e.protocol.size() + e.referer.size() +
              e.userAgent.size());
}

void writeJson(const AccessLogEntry& e, TimeFormatCache& time, Cursor& c) {
  c.put("{\"time\":\"");
  c.cursor() = time.writeRfc3339(e.start, c.cursor());
  c.put("\",\"request_id\":");
  c.jsonOptional(e.requestId, false);
  c.put(",\"trace_id\":");
  c.jsonOptional(e.traceId, true); // hex of our own
  c.put(",\"client_address\":");
  c.jsonOptional(e.clientAddress, true); // an IP address of our own formatting
  c.put(",\"method\":");
  c.jsonOptional(e.method, true); // a token: no quote, backslash or control byte
  c.put(",\"host\":");
  c.jsonOptional(e.host, false);
  c.put(",\"path\":");
  c.jsonOptional(e.target, false);
  c.put(",\"protocol\":");
  c.jsonOptional(e.protocol, true);
  c.put(",\"status\":");
  c.number(e.status);
  c.put(",\"bytes_received\":");
  c.number(e.bytesReceived);
  c.put(",\"bytes_sent\":");
  c.number(e.bytesSent);
  c.put(",\"duration\":");
  c.seconds(e.duration);
  c.put(",\"upstream_duration\":");
  if (e.upstreamDuration) {
    c.seconds(*e.upstreamDuration);
  } else {
    c.put("null");
  }
  // Addresses, config names (validated: letters, digits, '.', '_', '-'), flags and the revision
  // hash need no escaping.
  c.put(",\"upstream_address\":");
  c.jsonOptional(e.upstreamAddress, true);
  c.put(",\"route\":");
  c.jsonOptional(e.route, true);
  c.put(",\"pool\":");
  c.jsonOptional(e.pool, true);
  c.put(",\"response_flags\":");
  c.jsonTrusted(e.responseFlags.empty() ? std::string_view("-") : e.responseFlags);
  c.put(",\"config_revision\":");
  c.jsonOptional(e.configRevision, true);
  c.put(",\"worker\":");
  c.number(e.worker);
  c.put("}\n");
}

void writeCombined(const AccessLogEntry& e, TimeFormatCache& time, Cursor& c) {
  c.put(e.clientAddress.empty() ? std::string_view("-") : e.clientAddress);
  c.put(" - - [");
  c.cursor() = time.writeCommonLog(e.start, c.cursor());
  c.put("] \"");
  if (e.method.empty()) {
    c.put('-');
  } else {
    c.clfQuoted(e.method);
    c.put(' ');
    c.clfQuoted(e.target);
    c.put(' ');
    c.clfQuoted(e.protocol);
  }
  c.put("\" ");
  c.number(e.status);
  c.put(' ');
  c.number(e.bytesSent);
  c.put(" \"");
  c.clfQuoted(e.referer);
  c.put("\" \"");
  c.clfQuoted(e.userAgent);
  c.put("\"\n");
}

} // namespace

void formatJson(const AccessLogEntry& e, TimeFormatCache& time, std::string& out) {
  Cursor c(out, jsonLineBound(e));
  writeJson(e, time, c);
}

void formatCombined(const AccessLogEntry& e, TimeFormatCache& time, std::string& out) {
  Cursor c(out, combinedLineBound(e));
  writeCombined(e, time, c);
}

void formatLine(Format format, const AccessLogEntry& entry, TimeFormatCache& time,
                std::string& out) {
  if (format == Format::Combined) {
    formatCombined(entry, time, out);
  } else {
    formatJson(entry, time, out);
  }
}

std::string_view formatLineInto(Format format, const AccessLogEntry& entry, TimeFormatCache& time,
                                std::string& scratch) {
  if (format == Format::Combined) {
    Cursor c(scratch, combinedLineBound(entry), Cursor::Scratch{});
    writeCombined(entry, time, c);
    return c.written();
  }
  Cursor c(scratch, jsonLineBound(entry), Cursor::Scratch{});
  writeJson(entry, time, c);
  return c.written();
}

} // namespace fulcrum::access_log
