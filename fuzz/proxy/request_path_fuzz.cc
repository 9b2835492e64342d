// Fuzzes the data plane's request path in-process: whatever the proxy accepts and forwards must
// be one unambiguous request upstream — the forwarded head re-parses (strictly) with the same
// method, framing and Content-Length, never gains a second Host / Content-Length /
// Transfer-Encoding, and the forwarded body bytes (as the chunked decoder delimits them) are a
// prefix of the input. See docs/life_of_a_request.md for the phases mirrored here.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "proxy/http/forward.h"
#include "proxy/http/parser.h"
#include "proxy/router/route_table.h"
#include "proxy/server/request_target.h"
#include "proxy/snapshot/snapshot.h"

namespace {

using namespace fulcrum;

constexpr const char* kConfig = R"(apiVersion: fulcrum/v1
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - name: api
    hostnames: [api.example.com, "*.example.org"]
    rules:
      - matches: [{path: {type: PathPrefix, value: /v1}, method: GET}]
        backends: [{pool: a, weight: 3}, {pool: b, weight: 1}]
      - matches: [{path: {type: RegularExpression, value: "/r/[0-9]+"}}]
        backends: [{pool: b}]
  - name: rest
    rules:
      - backends: [{pool: a}]
pools:
  - name: a
    endpoints: [{address: 127.0.0.1:9001}]
  - name: b
    endpoints: [{address: 127.0.0.1:9002}]
)";

const snapshot::Snapshot& theSnapshot() {
  static snapshot::SnapshotConstSharedPtr snap = [] {
    auto loaded = config::loadString(kConfig, "fuzz.yaml");
    if (!loaded.ok()) {
      std::abort();
    }
    stats::StatsSlots slots;
    snapshot::CompileInput input;
    input.config = std::move(*loaded.config);
    auto compiled = snapshot::compileSnapshot(std::move(input), slots);
    if (!compiled) {
      std::abort();
    }
    return compiled.value();
  }();
  return *snap;
}

size_t countField(const http::RequestHead& head, std::string_view name) {
  size_t n = 0;
  for (const auto& f : head.headers) {
    n += http::iequals(f.name, name) ? 1 : 0;
  }
  return n;
}

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const snapshot::Snapshot& snap = theSnapshot();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const http::Limits limits{2048, 8192, 64};

  http::RequestHead req;
  http::ParseError error = http::ParseError::None;
  if (http::parseRequestHead(input, limits, req, error) != http::ParseStatus::Done) {
    return 0;
  }
  check(req.headBytes <= input.size());

  std::string_view path;
  std::string_view query;
  server::splitTarget(req.target, path, query);
  std::string scratch;
  auto normalized = router::normalizePath(path, scratch, false);
  if (!normalized) {
    return 0;
  }
  const router::RequestView view{req.host, normalized.value(), query, req.method,
                                 std::span<const http::HeaderField>(req.headers)};
  const router::RouteMatchResult match = snap.routes->lookup(view);
  if (match.rule == nullptr) {
    return 0;
  }
  const uint32_t pool = router::pickBackend(*match.rule, size * 0x9e3779b97f4a7c15ULL);
  check(pool == router::kNoBackend || pool < snap.pools.size());

  http::ForwardOptions options;
  options.peerAddress = "192.0.2.1";
  options.generatedRequestId = "0123456789abcdef0123456789abcdef";
  std::string out;
  http::writeUpstreamRequestHead(req, options, out);

  // The forwarded head is one strict, unambiguous request with the same semantics.
  http::RequestHead forwarded;
  http::ParseError forwardedError = http::ParseError::None;
  const http::Limits loose{1u << 20, 1u << 20, 4096};
  check(http::parseRequestHead(out, loose, forwarded, forwardedError) == http::ParseStatus::Done);
  check(forwarded.headBytes == out.size());
  check(forwarded.method == req.method);
  check(forwarded.framing == req.framing);
  check(forwarded.framing != http::BodyFraming::ContentLength ||
        forwarded.contentLength == req.contentLength);
  check(countField(forwarded, "host") == 1);
  check(countField(forwarded, "content-length") <= 1);
  check(countField(forwarded, "transfer-encoding") <= 1);
  check(countField(forwarded, "connection") == 0 || forwarded.upgrade || !forwarded.keepAlive);

  // The body the session would forward: a prefix of the input, delimited the same way.
  const std::string_view body = input.substr(req.headBytes);
  if (req.framing == http::BodyFraming::Chunked) {
    http::ChunkedDecoder decoder;
    const auto step = decoder.feed(body);
    check(step.consumed <= body.size());
    check(step.dataBytes <= step.consumed);
  }
  return 0;
}
