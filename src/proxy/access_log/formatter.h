#pragma once

// Access-log line formats. A worker fills an AccessLogEntry (views into the session's own copies
// of the request's fields) at the end of a request and appends one line to a per-worker string,
// which then goes whole into its SpscByteRing (writer.h). Formatting never allocates once the
// output string has grown to a line's size.
//
//   json      one object per line, typed values, unset -> null (docs/observability.md lists keys)
//   combined  nginx's predefined format:
//             $remote_addr - - [$time_local] "$request" $status $bytes_sent "$referer" "$agent"
//             (time in UTC, "+0000"; bytes are the whole response, head included)
//
// Thread-safety: pure functions; a TimeFormatCache belongs to one thread (one per worker).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time_source.h"

namespace fulcrum::access_log {

enum class Format : uint8_t { Json, Combined };

// "json" / "combined"; nullopt otherwise.
std::optional<Format> parseFormat(std::string_view name);

// Fields the JSON format writes without escaping, so callers must pass only such values: traceId
// (hex), clientAddress and upstreamAddress (addresses), method (an HTTP token), protocol, route and
// pool (config names), responseFlags, configRevision. requestId, host and target are escaped.
struct AccessLogEntry {
  SystemTime start;           // when the request head was complete (UTC)
  std::string_view requestId; // the X-Request-Id sent upstream; empty = none
  std::string_view traceId;   // 32 hex; empty = none
  std::string_view clientAddress;
  std::string_view method; // empty when the head never parsed (400, 408, ...)
  std::string_view host;
  std::string_view target;    // path and query as received
  std::string_view protocol;  // "HTTP/1.1"
  std::string_view userAgent; // combined only
  std::string_view referer;   // combined only
  uint16_t status = 0;        // 0: no response was sent (connection closed)
  uint64_t bytesReceived = 0; // request head + body bytes read from the client
  uint64_t bytesSent = 0;     // response bytes written to the client, head included
  std::chrono::nanoseconds duration{0};
  std::optional<std::chrono::nanoseconds> upstreamDuration; // set when a request went upstream
  std::string_view upstreamAddress;                         // empty = none
  std::string_view route;                                   // empty = no route matched
  std::string_view pool;
  std::string_view responseFlags; // "-" when none
  std::string_view configRevision;
  uint32_t worker = 0;
};

// Remembers the formatted text of the last whole second, so that a worker formats the date part
// once a second instead of once a line.
class TimeFormatCache {
public:
  // Appends "YYYY-MM-DDTHH:MM:SS.mmmZ".
  void appendRfc3339(SystemTime t, std::string& out);
  // Appends "DD/Mon/YYYY:HH:MM:SS +0000" (nginx $time_local in UTC).
  void appendCommonLog(SystemTime t, std::string& out);
  // The same into `out` (24 / 26 bytes); return the end.
  char* writeRfc3339(SystemTime t, char* out);
  char* writeCommonLog(SystemTime t, char* out);

private:
  int64_t rfcSecond_ = INT64_MIN;
  char rfc_[20] = {0}; // "YYYY-MM-DDTHH:MM:SS"
  int64_t clfSecond_ = INT64_MIN;
  char clf_[21] = {0}; // "DD/Mon/YYYY:HH:MM:SS"
};

// Appends one line (with its '\n').
void formatJson(const AccessLogEntry& entry, TimeFormatCache& time, std::string& out);
void formatCombined(const AccessLogEntry& entry, TimeFormatCache& time, std::string& out);
void formatLine(Format format, const AccessLogEntry& entry, TimeFormatCache& time,
                std::string& out);
// The same line written from the start of `scratch`, which is only ever grown (the worker's
// reusable buffer: no zero-filling per line); returns the line, valid until the next call.
std::string_view formatLineInto(Format format, const AccessLogEntry& entry, TimeFormatCache& time,
                                std::string& scratch);

// Appends `value` as a JSON string (quotes included): ", \ and control bytes escaped; bytes that
// are not valid UTF-8 become \u00XX of their value, so every line is valid JSON.
void appendJsonString(std::string& out, std::string_view value);

} // namespace fulcrum::access_log
