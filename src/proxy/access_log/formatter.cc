#include "proxy/access_log/formatter.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

namespace fulcrum::access_log {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendNumber(std::string& out, uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

// Seconds with microsecond precision: "0.001234".
void appendSeconds(std::string& out, std::chrono::nanoseconds d) {
  const int64_t micros = std::max<int64_t>(0, d.count() / 1000);
  appendNumber(out, static_cast<uint64_t>(micros / 1'000'000));
  char frac[7];
  int64_t rest = micros % 1'000'000;
  for (int i = 5; i >= 0; --i) {
    frac[i] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  frac[6] = 0;
  out.push_back('.');
  out.append(frac, 6);
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

void appendOptionalString(std::string& out, std::string_view value) {
  if (value.empty()) {
    out.append("null");
  } else {
    appendJsonString(out, value);
  }
}

// nginx-style escaping inside a quoted field: ", \ and bytes outside 0x20..0x7e as \xHH.
void appendQuotedClf(std::string& out, std::string_view value) {
  if (value.empty()) {
    out.push_back('-');
    return;
  }
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
}

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

void TimeFormatCache::appendRfc3339(SystemTime t, std::string& out) {
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
  out.append(rfc_, 19);
  char frac[5] = {'.', 0, 0, 0, 'Z'};
  frac[1] = static_cast<char>('0' + milli / 100);
  frac[2] = static_cast<char>('0' + milli / 10 % 10);
  frac[3] = static_cast<char>('0' + milli % 10);
  out.append(frac, 5);
}

void TimeFormatCache::appendCommonLog(SystemTime t, std::string& out) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t second = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  if (t.time_since_epoch().count() < 0 && std::chrono::seconds(second) != t.time_since_epoch()) {
    --second;
  }
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
  out.append(clf_, 20);
  out.append(" +0000");
}

void appendJsonString(std::string& out, std::string_view value) {
  out.push_back('"');
  size_t i = 0;
  while (i < value.size()) {
    // Runs of plain printable ASCII go in one append.
    size_t j = i;
    while (j < value.size()) {
      const auto c = static_cast<unsigned char>(value[j]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) {
        break;
      }
      ++j;
    }
    out.append(value.data() + i, j - i);
    i = j;
    if (i == value.size()) {
      break;
    }
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c >= 0x80) {
      const size_t n = utf8Length(value, i);
      if (n != 0) {
        out.append(value.data() + i, n);
        i += n;
      } else {
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
        ++i;
      }
    } else {
      switch (c) {
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
        break;
      }
      ++i;
    }
  }
  out.push_back('"');
}

void formatJson(const AccessLogEntry& e, TimeFormatCache& time, std::string& out) {
  out.append("{\"time\":\"");
  time.appendRfc3339(e.start, out);
  out.append("\",\"request_id\":");
  appendOptionalString(out, e.requestId);
  out.append(",\"trace_id\":");
  appendOptionalString(out, e.traceId);
  out.append(",\"client_address\":");
  appendOptionalString(out, e.clientAddress);
  out.append(",\"method\":");
  appendOptionalString(out, e.method);
  out.append(",\"host\":");
  appendOptionalString(out, e.host);
  out.append(",\"path\":");
  appendOptionalString(out, e.target);
  out.append(",\"protocol\":");
  appendOptionalString(out, e.protocol);
  out.append(",\"status\":");
  appendNumber(out, e.status);
  out.append(",\"bytes_received\":");
  appendNumber(out, e.bytesReceived);
  out.append(",\"bytes_sent\":");
  appendNumber(out, e.bytesSent);
  out.append(",\"duration\":");
  appendSeconds(out, e.duration);
  out.append(",\"upstream_duration\":");
  if (e.upstreamDuration) {
    appendSeconds(out, *e.upstreamDuration);
  } else {
    out.append("null");
  }
  out.append(",\"upstream_address\":");
  appendOptionalString(out, e.upstreamAddress);
  out.append(",\"route\":");
  appendOptionalString(out, e.route);
  out.append(",\"pool\":");
  appendOptionalString(out, e.pool);
  out.append(",\"response_flags\":");
  appendJsonString(out, e.responseFlags.empty() ? std::string_view("-") : e.responseFlags);
  out.append(",\"config_revision\":");
  appendOptionalString(out, e.configRevision);
  out.append(",\"worker\":");
  appendNumber(out, e.worker);
  out.append("}\n");
}

void formatCombined(const AccessLogEntry& e, TimeFormatCache& time, std::string& out) {
  out.append(e.clientAddress.empty() ? std::string_view("-") : e.clientAddress);
  out.append(" - - [");
  time.appendCommonLog(e.start, out);
  out.append("] \"");
  if (e.method.empty()) {
    out.push_back('-');
  } else {
    appendQuotedClf(out, e.method);
    out.push_back(' ');
    appendQuotedClf(out, e.target);
    out.push_back(' ');
    appendQuotedClf(out, e.protocol);
  }
  out.append("\" ");
  appendNumber(out, e.status);
  out.push_back(' ');
  appendNumber(out, e.bytesSent);
  out.append(" \"");
  appendQuotedClf(out, e.referer);
  out.append("\" \"");
  appendQuotedClf(out, e.userAgent);
  out.append("\"\n");
}

void formatLine(Format format, const AccessLogEntry& entry, TimeFormatCache& time,
                std::string& out) {
  if (format == Format::Combined) {
    formatCombined(entry, time, out);
  } else {
    formatJson(entry, time, out);
  }
}

} // namespace fulcrum::access_log
