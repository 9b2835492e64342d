// Micro-benchmarks of the data plane's HTTP/1.1 codec: head parsing (a browser-like request, a
// minimal curl request, a response), chunked decoding and head serialization. llhttp parses the
// same heads as a reference point. Run: build/bin/http_parser_bench (a Release build).

#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <llhttp.h>

#include "proxy/http/forward.h"
#include "proxy/http/parser.h"

namespace fulcrum::http {
namespace {

// ~500 bytes, 12 fields: what a browser sends for a page.
const std::string kBrowserRequest =
    "GET /products/search?q=load+balancer&page=2 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=3f2a9c1e7b; theme=dark; cart=17\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "\r\n";

const std::string kCurlRequest = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n"
                                 "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

const std::string kResponse = "HTTP/1.1 200 OK\r\n"
                              "Date: Mon, 27 Nov 2023 10:00:00 GMT\r\n"
                              "Content-Type: text/html; charset=utf-8\r\n"
                              "Content-Length: 12345\r\n"
                              "Cache-Control: private, max-age=0\r\n"
                              "ETag: \"5f3e-1a2b3c\"\r\n"
                              "Vary: Accept-Encoding\r\n"
                              "Server: backend/1.0\r\n"
                              "\r\n";

void parseRequestBench(benchmark::State& state, const std::string& text) {
  RequestHead head;
  ParseError error = ParseError::None;
  const Limits limits;
  for (auto _ : state) {
    const ParseStatus status = parseRequestHead(text, limits, head, error);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(head.headBytes);
  }
  if (parseRequestHead(text, limits, head, error) != ParseStatus::Done) {
    state.SkipWithError("head does not parse");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["head_bytes"] = static_cast<double>(text.size());
}

void BM_ParseRequest_Browser(benchmark::State& state) {
  parseRequestBench(state, kBrowserRequest);
}
BENCHMARK(BM_ParseRequest_Browser);

void BM_ParseRequest_Curl(benchmark::State& state) {
  parseRequestBench(state, kCurlRequest);
}
BENCHMARK(BM_ParseRequest_Curl);

void BM_ParseResponse(benchmark::State& state) {
  ResponseHead head;
  ParseError error = ParseError::None;
  const Limits limits;
  for (auto _ : state) {
    const ParseStatus status = parseResponseHead(kResponse, limits, false, head, error);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(head.headBytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
}
BENCHMARK(BM_ParseResponse);

// llhttp with the callbacks a proxy needs (field and value spans), for reference.
struct LlhttpSink {
  size_t spans = 0;
};

int onSpan(llhttp_t* p, const char*, size_t) {
  ++static_cast<LlhttpSink*>(p->data)->spans;
  return 0;
}

void llhttpBench(benchmark::State& state, const std::string& text, llhttp_type_t type) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_url = onSpan;
  settings.on_status = onSpan;
  settings.on_header_field = onSpan;
  settings.on_header_value = onSpan;
  settings.on_headers_complete = [](llhttp_t*) -> int { return HPE_PAUSED; };
  llhttp_t parser;
  LlhttpSink sink;
  for (auto _ : state) {
    llhttp_init(&parser, type, &settings);
    parser.data = &sink;
    const llhttp_errno_t err = llhttp_execute(&parser, text.data(), text.size());
    benchmark::DoNotOptimize(err);
  }
  benchmark::DoNotOptimize(sink.spans);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_Llhttp_Browser(benchmark::State& state) {
  llhttpBench(state, kBrowserRequest, HTTP_REQUEST);
}
BENCHMARK(BM_Llhttp_Browser);

void BM_Llhttp_Curl(benchmark::State& state) {
  llhttpBench(state, kCurlRequest, HTTP_REQUEST);
}
BENCHMARK(BM_Llhttp_Curl);

void BM_Llhttp_Response(benchmark::State& state) {
  llhttpBench(state, kResponse, HTTP_RESPONSE);
}
BENCHMARK(BM_Llhttp_Response);

void BM_ChunkedDecode(benchmark::State& state) {
  const auto chunkSize = static_cast<size_t>(state.range(0));
  std::string body;
  char sizeLine[32];
  for (size_t total = 0; total < 256 * 1024; total += chunkSize) {
    body.append(sizeLine, static_cast<size_t>(
                              std::snprintf(sizeLine, sizeof(sizeLine), "%zx\r\n", chunkSize)));
    body.append(chunkSize, 'x');
    body.append("\r\n");
  }
  body.append("0\r\n\r\n");
  ChunkedDecoder decoder;
  for (auto _ : state) {
    decoder.reset();
    const auto step = decoder.feed(body);
    benchmark::DoNotOptimize(step);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChunkedDecode)->Arg(64)->Arg(4096);

void BM_WriteUpstreamRequestHead(benchmark::State& state) {
  RequestHead head;
  ParseError error = ParseError::None;
  parseRequestHead(kBrowserRequest, Limits{}, head, error);
  ForwardOptions options;
  options.peerAddress = "203.0.113.7";
  options.generatedRequestId = "5b0c9e2a-77d1-4f7e-9b1e-2f4d6c8a0b13";
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    writeUpstreamRequestHead(head, options, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_WriteUpstreamRequestHead);

void BM_WriteDownstreamResponseHead(benchmark::State& state) {
  ResponseHead head;
  ParseError error = ParseError::None;
  parseResponseHead(kResponse, Limits{}, false, head, error);
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    const auto d = writeDownstreamResponseHead(head, ResponseOptions{}, out);
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_WriteDownstreamResponseHead);

// Parse + forward of one request, what a proxied request costs the codec end to end.
void BM_ParseAndForward_Browser(benchmark::State& state) {
  RequestHead head;
  ParseError error = ParseError::None;
  ForwardOptions options;
  options.peerAddress = "203.0.113.7";
  options.generatedRequestId = "5b0c9e2a-77d1-4f7e-9b1e-2f4d6c8a0b13";
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    parseRequestHead(kBrowserRequest, Limits{}, head, error);
    out.clear();
    writeUpstreamRequestHead(head, options, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBrowserRequest.size()));
}
BENCHMARK(BM_ParseAndForward_Browser);

} // namespace
} // namespace fulcrum::http

BENCHMARK_MAIN();
