#include "proxy/tracing/otlp_json.h"

#include <charconv>

#include "proxy/access_log/formatter.h"

namespace fulcrum::tracing {

namespace {

using access_log::appendJsonString;

void appendNumber(std::string& out, uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

template <size_t N> void appendHexId(std::string& out, const std::array<uint8_t, N>& id) {
  char buf[2 * N];
  writeHex(id.data(), N, buf);
  out.push_back('"');
  out.append(buf, 2 * N);
  out.push_back('"');
}

class Attributes {
public:
  explicit Attributes(std::string& out) : out_(out) { out_.append("\"attributes\":["); }
  ~Attributes() { out_.push_back(']'); }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;

  void string(std::string_view key, std::string_view value) {
    if (value.empty()) {
      return;
    }
    open(key);
    out_.append("{\"stringValue\":");
    appendJsonString(out_, value);
    out_.append("}}");
  }
  void integer(std::string_view key, uint64_t value) {
    open(key);
    out_.append("{\"intValue\":\"");
    appendNumber(out_, value);
    out_.append("\"}}");
  }

private:
  void open(std::string_view key) {
    if (!first_) {
      out_.push_back(',');
    }
    first_ = false;
    out_.append("{\"key\":\"");
    out_.append(key);
    out_.append("\",\"value\":");
  }
  std::string& out_;
  bool first_ = true;
};

} // namespace

void appendSpanJson(const SpanData& span, std::string& out) {
  out.append("{\"traceId\":");
  appendHexId(out, span.traceId);
  out.append(",\"spanId\":");
  appendHexId(out, span.spanId);
  if (span.parentSpanId) {
    out.append(",\"parentSpanId\":");
    appendHexId(out, *span.parentSpanId);
  }
  out.append(",\"name\":");
  appendJsonString(out, span.method.empty() ? std::string_view("HTTP") : span.method);
  out.append(",\"kind\":");
  appendNumber(out, kSpanKindServer);
  out.append(",\"startTimeUnixNano\":\"");
  appendNumber(out, span.startUnixNano);
  out.append("\",\"endTimeUnixNano\":\"");
  appendNumber(out, span.endUnixNano);
  out.append("\",");
  {
    Attributes a(out);
    a.string("http.request.method", span.method);
    a.string("url.path", span.path);
    a.string("url.query", span.query);
    a.string("server.address", span.host);
    a.string("client.address", span.clientAddress);
    a.string("network.protocol.version", span.protocolVersion);
    if (span.status != 0) {
      a.integer("http.response.status_code", span.status);
    }
    a.string("fulcrum.route", span.route);
    a.string("fulcrum.pool", span.pool);
    a.string("fulcrum.upstream.address", span.upstreamAddress);
    if (span.responseFlags != "-") {
      a.string("fulcrum.response_flags", span.responseFlags);
    }
    a.string("fulcrum.request_id", span.requestId);
  }
  if (span.status == 0 || span.status >= 500) {
    out.append(",\"status\":{\"code\":");
    appendNumber(out, kStatusCodeError);
    if (!span.responseFlags.empty() && span.responseFlags != "-") {
      out.append(",\"message\":");
      appendJsonString(out, span.responseFlags);
    }
    out.push_back('}');
  }
  out.push_back('}');
}

void appendExportRequest(std::string_view serviceName, std::string_view instanceId,
                         std::string_view spans, std::string& out) {
  out.append("{\"resourceSpans\":[{\"resource\":{");
  {
    Attributes a(out);
    a.string("service.name", serviceName);
    a.string("service.instance.id", instanceId);
  }
  out.append("},\"scopeSpans\":[{\"scope\":{\"name\":\"fulcrum-proxy\"},\"spans\":[");
  out.append(spans);
  out.append("]}]}]}");
}

} // namespace fulcrum::tracing
