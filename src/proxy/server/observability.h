#pragma once

// Per-worker access-log and tracing state, and the per-request record a Session fills for them.
//
// Threading: a WorkerObservability belongs to one worker (its settings are written once by the
// main thread before the worker starts); a RequestLog belongs to one Session. Nothing here is
// shared between workers: lines and spans leave through the worker's own SpscByteRing.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time_source.h"
#include "proxy/access_log/formatter.h"
#include "proxy/access_log/spsc_ring.h"
#include "proxy/tracing/trace_context.h"

namespace fulcrum::server {

struct WorkerObservability {
  // Access log: null when off.
  access_log::SpscByteRing* accessLog = nullptr;
  access_log::Format format = access_log::Format::Json;
  uint64_t accessLogThreshold = UINT64_MAX; // access_log::sampleThreshold(ratio)
  // Spans: null when no collector is configured (traceparent is still handled).
  access_log::SpscByteRing* spans = nullptr;
  uint64_t traceThreshold = UINT64_MAX; // sampling of new traces (parent-based otherwise)

  // Worker scratch.
  access_log::TimeFormatCache timeCache;
  std::string line;     // access-log scratch (formatLineInto: only grows)
  std::string spanLine; // the encoded span

  bool recording() const { return accessLog != nullptr || spans != nullptr; }

  // Wall-clock time for a monotonic time point, from an offset refreshed every 256 calls (one
  // clock read instead of two per request; a step of the wall clock shows within 256 lines).
  SystemTime wallTime(const TimeSource& time, MonotonicTime mono) {
    if ((wallCalls++ & 255) == 0) {
      wallOffset =
          time.systemTime().time_since_epoch() -
          std::chrono::duration_cast<SystemTime::duration>(time.monotonicTime().time_since_epoch());
    }
    return SystemTime(wallOffset +
                      std::chrono::duration_cast<SystemTime::duration>(mono.time_since_epoch()));
  }
  uint32_t wallCalls = 0;
  SystemTime::duration wallOffset{};
};

// What the access log and the span of one request need beyond the Session's own state. The
// request head's fields are copied (into `text`) when the request starts, because the head's
// views into the connection buffer do not survive the body.
struct RequestLog {
  struct Slice {
    uint32_t offset = 0;
    uint32_t size = 0;
  };

  bool pending = false; // a request started and was not logged yet
  MonotonicTime start{};
  MonotonicTime upstreamStart{}; // last try's request head sent; {} = never went upstream
  MonotonicTime upstreamEnd{};   // response complete
  uint64_t bytesIn = 0;
  uint64_t bytesOut = 0;
  uint8_t versionMinor = 1;

  std::string text;
  Slice method, host, target, requestId, userAgent, referer;

  // Trace Context of this hop.
  tracing::TraceId traceId{};
  tracing::SpanId spanId{};
  std::optional<tracing::SpanId> parentId;
  bool sampled = false;
  bool traced = false; // the ids below are set (a parsed request)
  bool keepTracestate = false;
  int64_t pool = -1; // the pool index once the split picked one
  char traceparent[tracing::kTraceparentSize] = {0};

  std::string_view view(Slice s) const { return std::string_view(text).substr(s.offset, s.size); }
  Slice keep(std::string_view s) {
    Slice slice{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(s.size())};
    text.append(s);
    return slice;
  }
};

} // namespace fulcrum::server
