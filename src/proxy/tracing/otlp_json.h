#pragma once

// The OTLP/HTTP JSON encoding of spans (opentelemetry-proto ExportTraceServiceRequest, JSON
// mapping per the OTLP spec: lowerCamelCase field names, trace and span ids as lowercase hex,
// 64-bit integers as decimal strings, enums as numbers).
//
// A worker encodes each sampled span with appendSpanJson (one object, no newline) and hands the
// text to the exporter thread, which wraps a batch of them with appendExportRequest.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/tracing/trace_context.h"

namespace fulcrum::tracing {

inline constexpr int kSpanKindServer = 2;
inline constexpr int kStatusCodeError = 2;

struct SpanData {
  TraceId traceId{};
  SpanId spanId{};
  std::optional<SpanId> parentSpanId;
  uint64_t startUnixNano = 0;
  uint64_t endUnixNano = 0;
  std::string_view method;          // name of the span and http.request.method; empty: "HTTP"
  std::string_view path;            // url.path (without the query)
  std::string_view query;           // url.query, omitted when empty
  std::string_view host;            // server.address
  std::string_view clientAddress;   // client.address
  std::string_view protocolVersion; // network.protocol.version ("1.1")
  uint16_t status = 0;              // http.response.status_code, omitted when 0
  std::string_view route;           // fulcrum.route
  std::string_view pool;            // fulcrum.pool
  std::string_view upstreamAddress; // fulcrum.upstream.address
  std::string_view responseFlags;   // fulcrum.response_flags, omitted when "-" or empty
  std::string_view requestId;       // fulcrum.request_id
};

// Appends one span object. Status is ERROR (with the response flag as message) for 5xx and for
// requests that ended without a response, unset otherwise (4xx is the client's error, per the
// OpenTelemetry HTTP semantic conventions for server spans).
void appendSpanJson(const SpanData& span, std::string& out);

// Appends {"resourceSpans":[{"resource":{service.name, service.instance.id},
// "scopeSpans":[{"scope":{"name":"fulcrum-proxy"},"spans":[<spans>]}]}]} where `spans` is
// span objects separated by commas.
void appendExportRequest(std::string_view serviceName, std::string_view instanceId,
                         std::string_view spans, std::string& out);

} // namespace fulcrum::tracing
