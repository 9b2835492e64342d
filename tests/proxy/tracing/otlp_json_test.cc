#include "proxy/tracing/otlp_json.h"

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fulcrum::tracing {
namespace {

SpanData sampleSpan() {
  SpanData s;
  s.traceId = traceIdFrom(0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL);
  s.spanId = spanIdFrom(0x1122334455667788ULL);
  s.parentSpanId = spanIdFrom(0x00f067aa0ba902b7ULL);
  s.startUnixNano = 1795737541123000000ULL;
  s.endUnixNano = 1795737541124500000ULL;
  s.method = "GET";
  s.path = "/v1/items";
  s.query = "id=7";
  s.host = "api.example.com";
  s.clientAddress = "127.0.0.1";
  s.protocolVersion = "1.1";
  s.status = 200;
  s.route = "api";
  s.pool = "api-v1";
  s.upstreamAddress = "127.0.0.1:9001";
  s.responseFlags = "-";
  s.requestId = "rid-1";
  return s;
}

std::map<std::string, nlohmann::json> attributes(const nlohmann::json& list) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& a : list) {
    out[a["key"].get<std::string>()] = a["value"];
  }
  return out;
}

TEST(OtlpJson, SpanHasTheOtlpShape) {
  std::string out;
  appendSpanJson(sampleSpan(), out);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(j["spanId"], "1122334455667788");
  EXPECT_EQ(j["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(j["name"], "GET");
  EXPECT_EQ(j["kind"], 2);
  EXPECT_EQ(j["startTimeUnixNano"], "1795737541123000000");
  EXPECT_EQ(j["endTimeUnixNano"], "1795737541124500000");
  EXPECT_FALSE(j.contains("status"));
  auto a = attributes(j["attributes"]);
  EXPECT_EQ(a["http.request.method"]["stringValue"], "GET");
  EXPECT_EQ(a["url.path"]["stringValue"], "/v1/items");
  EXPECT_EQ(a["url.query"]["stringValue"], "id=7");
  EXPECT_EQ(a["server.address"]["stringValue"], "api.example.com");
  EXPECT_EQ(a["client.address"]["stringValue"], "127.0.0.1");
  EXPECT_EQ(a["network.protocol.version"]["stringValue"], "1.1");
  EXPECT_EQ(a["http.response.status_code"]["intValue"], "200");
  EXPECT_EQ(a["fulcrum.route"]["stringValue"], "api");
  EXPECT_EQ(a["fulcrum.pool"]["stringValue"], "api-v1");
  EXPECT_EQ(a["fulcrum.upstream.address"]["stringValue"], "127.0.0.1:9001");
  EXPECT_EQ(a["fulcrum.request_id"]["stringValue"], "rid-1");
  EXPECT_EQ(a.count("fulcrum.response_flags"), 0u);
}

TEST(OtlpJson, ErrorsAndRootSpans) {
  SpanData s = sampleSpan();
  s.parentSpanId.reset();
  s.status = 503;
  s.responseFlags = "UH";
  s.route = {};
  s.pool = {};
  s.upstreamAddress = {};
  s.query = {};
  std::string out;
  appendSpanJson(s, out);
  const auto j = nlohmann::json::parse(out);
  EXPECT_FALSE(j.contains("parentSpanId"));
  EXPECT_EQ(j["status"]["code"], 2);
  EXPECT_EQ(j["status"]["message"], "UH");
  auto a = attributes(j["attributes"]);
  EXPECT_EQ(a["fulcrum.response_flags"]["stringValue"], "UH");
  EXPECT_EQ(a.count("fulcrum.route"), 0u);
  EXPECT_EQ(a.count("url.query"), 0u);

  // 4xx is not an error of the server span.
  s.status = 404;
  s.responseFlags = "NR";
  out.clear();
  appendSpanJson(s, out);
  EXPECT_FALSE(nlohmann::json::parse(out).contains("status"));
}

TEST(OtlpJson, ExportRequestWrapsABatch) {
  std::string spans;
  appendSpanJson(sampleSpan(), spans);
  spans.push_back(',');
  SpanData second = sampleSpan();
  second.spanId = spanIdFrom(42);
  second.path = "/a\"b";
  appendSpanJson(second, spans);
  std::string out;
  appendExportRequest("edge-proxy", "proxy-1", spans, out);
  const auto j = nlohmann::json::parse(out);
  const auto& rs = j["resourceSpans"];
  ASSERT_EQ(rs.size(), 1u);
  auto resource = attributes(rs[0]["resource"]["attributes"]);
  EXPECT_EQ(resource["service.name"]["stringValue"], "edge-proxy");
  EXPECT_EQ(resource["service.instance.id"]["stringValue"], "proxy-1");
  const auto& scope = rs[0]["scopeSpans"][0];
  EXPECT_EQ(scope["scope"]["name"], "fulcrum-proxy");
  ASSERT_EQ(scope["spans"].size(), 2u);
  EXPECT_EQ(scope["spans"][1]["spanId"], "000000000000002a");
  EXPECT_EQ(attributes(scope["spans"][1]["attributes"])["url.path"]["stringValue"], "/a\"b");
}

} // namespace
} // namespace fulcrum::tracing
