#include "proxy/access_log/formatter.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fulcrum::access_log {
namespace {

using namespace std::chrono_literals;

// 2026-11-26T23:59:01.123Z
SystemTime sampleTime() {
  return SystemTime(std::chrono::milliseconds(1795737541123LL));
}

AccessLogEntry sampleEntry() {
  AccessLogEntry e;
  e.start = sampleTime();
  e.requestId = "0123456789abcdef0123456789abcdef";
  e.traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.clientAddress = "127.0.0.1";
  e.method = "GET";
  e.host = "api.example.com";
  e.target = "/v1/items?id=7";
  e.protocol = "HTTP/1.1";
  e.userAgent = "curl/8.0";
  e.referer = "http://example.com/";
  e.status = 200;
  e.bytesReceived = 78;
  e.bytesSent = 1234;
  e.duration = 1234567ns;
  e.upstreamDuration = 1000us;
  e.upstreamAddress = "127.0.0.1:9001";
  e.route = "api";
  e.pool = "api-v1";
  e.responseFlags = "-";
  e.configRevision = "abcdef0123456789";
  e.worker = 3;
  return e;
}

TEST(AccessLogFormat, JsonLineHasEveryFieldTyped) {
  TimeFormatCache cache;
  std::string out;
  formatJson(sampleEntry(), cache, out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["time"], "2026-11-26T23:59:01.123Z");
  EXPECT_EQ(j["request_id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(j["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(j["client_address"], "127.0.0.1");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["host"], "api.example.com");
  EXPECT_EQ(j["path"], "/v1/items?id=7");
  EXPECT_EQ(j["protocol"], "HTTP/1.1");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["bytes_received"], 78);
  EXPECT_EQ(j["bytes_sent"], 1234);
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 0.001234);
  EXPECT_DOUBLE_EQ(j["upstream_duration"].get<double>(), 0.001);
  EXPECT_EQ(j["upstream_address"], "127.0.0.1:9001");
  EXPECT_EQ(j["route"], "api");
  EXPECT_EQ(j["pool"], "api-v1");
  EXPECT_EQ(j["response_flags"], "-");
  EXPECT_EQ(j["config_revision"], "abcdef0123456789");
  EXPECT_EQ(j["worker"], 3);
}

TEST(AccessLogFormat, JsonUnsetFieldsAreNull) {
  AccessLogEntry e;
  e.start = sampleTime();
  e.clientAddress = "::1";
  e.status = 400;
  e.responseFlags = "DPE";
  TimeFormatCache cache;
  std::string out;
  formatJson(e, cache, out);
  const auto j = nlohmann::json::parse(out);
  for (const char* key :
       {"request_id", "trace_id", "method", "host", "path", "protocol", "upstream_duration",
        "upstream_address", "route", "pool", "config_revision"}) {
    EXPECT_TRUE(j[key].is_null()) << key;
  }
  EXPECT_EQ(j["status"], 400);
  EXPECT_EQ(j["response_flags"], "DPE");
  EXPECT_EQ(j["duration"], 0.0);
}

TEST(AccessLogFormat, JsonEscapesEverythingAClientCanSend) {
  AccessLogEntry e = sampleEntry();
  const std::string nasty = std::string("/a\"b\\c\td\x01\x7f\xff\xc3\xa9\xe2\x82", 15);
  e.target = nasty;
  e.host = "h\nx";
  TimeFormatCache cache;
  std::string out;
  formatJson(e, cache, out);
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  const auto j = nlohmann::json::parse(out); // valid JSON (and valid UTF-8) whatever came in
  EXPECT_EQ(j["host"], "h\nx");
  // Valid UTF-8 (é) stays; invalid bytes become \u00XX code points.
  EXPECT_EQ(j["path"], "/a\"b\\c\td\x01\x7f\xc3\xbf\xc3\xa9\xc3\xa2\xc2\x82");
}

TEST(AccessLogFormat, JsonEscapingRoundTripsEveryAsciiByteAtEveryOffset) {
  // The escaper checks eight bytes at a time: put each special byte at each offset of a word.
  for (int c = 0; c < 0x80; ++c) {
    for (size_t at = 0; at < 19; ++at) {
      std::string value(19, 'a');
      value[at] = static_cast<char>(c);
      std::string out;
      appendJsonString(out, value);
      ASSERT_EQ(nlohmann::json::parse(out).get<std::string>(), value) << c << " at " << at;
    }
  }
}

TEST(AccessLogFormat, CombinedMatchesTheNginxShape) {
  TimeFormatCache cache;
  std::string out;
  formatCombined(sampleEntry(), cache, out);
  EXPECT_EQ(out, "127.0.0.1 - - [26/Nov/2026:23:59:01 +0000] \"GET /v1/items?id=7 HTTP/1.1\" 200 "
                 "1234 \"http://example.com/\" \"curl/8.0\"\n");
  // (The integration test matches the nginx `combined` regex; std::regex trips GCC 12's
  // -Wmaybe-uninitialized under the ASan preset.)
}

TEST(AccessLogFormat, CombinedEscapesQuotesAndHandlesUnparsedRequests) {
  AccessLogEntry e = sampleEntry();
  e.userAgent = "a\"b\n";
  e.referer = {};
  TimeFormatCache cache;
  std::string out;
  formatCombined(e, cache, out);
  EXPECT_NE(out.find("\"-\" \"a\\x22b\\x0a\""), std::string::npos) << out;

  AccessLogEntry bad;
  bad.start = sampleTime();
  bad.clientAddress = "10.0.0.1";
  bad.status = 400;
  out.clear();
  formatCombined(bad, cache, out);
  EXPECT_EQ(out, "10.0.0.1 - - [26/Nov/2026:23:59:01 +0000] \"-\" 400 0 \"-\" \"-\"\n");
}

TEST(AccessLogFormat, FormatLineIntoReusesItsScratch) {
  TimeFormatCache cache;
  std::string expected;
  formatJson(sampleEntry(), cache, expected);
  std::string scratch;
  EXPECT_EQ(formatLineInto(Format::Json, sampleEntry(), cache, scratch), expected);
  const size_t size = scratch.size();
  AccessLogEntry shorter = sampleEntry();
  shorter.target = "/";
  std::string expectedShort;
  formatJson(shorter, cache, expectedShort);
  EXPECT_EQ(formatLineInto(Format::Json, shorter, cache, scratch), expectedShort);
  EXPECT_EQ(scratch.size(), size);
  std::string combined;
  formatCombined(sampleEntry(), cache, combined);
  EXPECT_EQ(formatLineInto(Format::Combined, sampleEntry(), cache, scratch), combined);
}

TEST(AccessLogFormat, TimeCacheFollowsTheClock) {
  TimeFormatCache cache;
  std::string out;
  cache.appendRfc3339(sampleTime(), out);
  cache.appendRfc3339(sampleTime() + 5ms, out);
  cache.appendRfc3339(sampleTime() + 1s, out);
  cache.appendRfc3339(SystemTime(std::chrono::milliseconds(0)), out);
  EXPECT_EQ(out, "2026-11-26T23:59:01.123Z2026-11-26T23:59:01.128Z2026-11-26T23:59:02.123Z"
                 "1970-01-01T00:00:00.000Z");
}

TEST(AccessLogFormat, ParseFormat) {
  EXPECT_EQ(parseFormat("json"), Format::Json);
  EXPECT_EQ(parseFormat("combined"), Format::Combined);
  EXPECT_FALSE(parseFormat("JSON"));
  EXPECT_FALSE(parseFormat(""));
}

} // namespace
} // namespace fulcrum::access_log
