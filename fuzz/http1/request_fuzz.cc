// Fuzzes the HTTP/1 head parser, the chunked decoder and the head writers over arbitrary bytes,
// asserting invariants rather than just "no crash":
//  - a parse result is Error exactly when an error is reported; NeedMore never past the head
//    limit; a Done head lies within the input and the limits, every view points into it, every
//    field name is a token and every value a valid field value; the head ends in CRLF CRLF;
//  - a Done head parses the same when cut right after it, and one byte less is NeedMore;
//  - the head we would forward upstream (and the response head we would send to a client) parse
//    again with the same framing;
//  - the chunked decoder gives the same result for the whole input, any split into two pieces
//    and byte-at-a-time feeding, and feedPayload() yields exactly dataBytes of payload.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/http/forward.h"
#include "proxy/http/parser.h"

namespace fulcrum::http {
namespace {

#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

bool inside(std::string_view view, std::string_view buf) {
  return view.empty() ||
         (view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size());
}

void checkFields(const std::vector<HeaderField>& headers, std::string_view head) {
  for (const HeaderField& f : headers) {
    FUZZ_CHECK(!f.name.empty() && inside(f.name, head) && inside(f.value, head));
    FUZZ_CHECK(isValidFieldName(f.name));
    FUZZ_CHECK(isValidFieldValue(f.value));
  }
}

struct Outcome {
  size_t consumed = 0;
  uint64_t dataBytes = 0;
  bool done = false;
  bool error = false;
  bool operator==(const Outcome&) const = default;
};

Outcome feedChunked(std::string_view body, size_t cut, bool byteAtATime) {
  ChunkedDecoder decoder;
  Outcome o;
  size_t from = 0;
  while (from < body.size() || from == 0) {
    size_t n = byteAtATime ? 1 : (from < cut ? cut - from : body.size() - from);
    n = std::min(n, body.size() - from);
    const auto step = decoder.feed(body.substr(from, n));
    FUZZ_CHECK(step.consumed <= n);
    FUZZ_CHECK(step.dataBytes <= step.consumed);
    o.consumed += step.consumed;
    o.dataBytes += step.dataBytes;
    if (step.error != ParseError::None) {
      FUZZ_CHECK(step.error == ParseError::BadChunk && decoder.failed() && !step.done);
      o.error = true;
      return o;
    }
    if (step.done) {
      FUZZ_CHECK(decoder.done());
      o.done = true;
      return o;
    }
    FUZZ_CHECK(step.consumed == n);
    from += n;
    if (n == 0) {
      break;
    }
  }
  return o;
}

Outcome dechunk(std::string_view body, std::string& payload) {
  ChunkedDecoder decoder;
  Outcome o;
  while (true) {
    std::string_view data;
    const auto step = decoder.feedPayload(body, data);
    FUZZ_CHECK(data.size() == step.dataBytes);
    FUZZ_CHECK(inside(data, body.substr(0, step.consumed)));
    payload.append(data);
    o.consumed += step.consumed;
    o.dataBytes += step.dataBytes;
    body.remove_prefix(step.consumed);
    if (step.error != ParseError::None) {
      o.error = true;
      return o;
    }
    if (step.done) {
      o.done = true;
      return o;
    }
    if (body.empty()) {
      return o;
    }
  }
}

void checkChunked(std::string_view body, size_t seed) {
  const Outcome whole = feedChunked(body, 0, false);
  FUZZ_CHECK(whole.consumed <= body.size());
  FUZZ_CHECK(feedChunked(body, seed % (body.size() + 1), false) == whole);
  if (body.size() <= 4096) {
    FUZZ_CHECK(feedChunked(body, 0, true) == whole);
  }
  std::string payload;
  const Outcome d = dechunk(body, payload);
  FUZZ_CHECK(d == whole);
  FUZZ_CHECK(payload.size() == whole.dataBytes);
}

void checkRequest(std::string_view in, const Limits& limits, size_t seed) {
  RequestHead head;
  ParseError error = ParseError::None;
  const ParseStatus status = parseRequestHead(in, limits, head, error);
  FUZZ_CHECK((status == ParseStatus::Error) == (error != ParseError::None));
  if (status == ParseStatus::Error) {
    const uint16_t code = statusFor(error);
    FUZZ_CHECK(code >= 400 && code < 600 && !describe(error).empty());
    return;
  }
  if (status == ParseStatus::NeedMore) {
    FUZZ_CHECK(in.size() <= limits.maxHeadBytes);
    return;
  }
  FUZZ_CHECK(head.headBytes <= in.size() && head.headBytes <= limits.maxHeadBytes);
  const std::string_view bytes = in.substr(0, head.headBytes);
  FUZZ_CHECK(bytes.size() >= 4 && bytes.substr(bytes.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(!head.method.empty() && inside(head.method, bytes));
  FUZZ_CHECK(!head.target.empty() && inside(head.target, bytes));
  FUZZ_CHECK(inside(head.host, bytes));
  FUZZ_CHECK(head.path == "/" || inside(head.path, bytes));
  FUZZ_CHECK(head.versionMinor <= 1);
  FUZZ_CHECK(head.headers.size() <= limits.maxHeaders);
  FUZZ_CHECK(head.framing != BodyFraming::UntilClose);
  FUZZ_CHECK(head.framing == BodyFraming::ContentLength || head.contentLength == 0);
  FUZZ_CHECK(head.contentLength < (uint64_t{1} << 63));
  FUZZ_CHECK(head.versionMinor == 1 || (head.framing != BodyFraming::Chunked && !head.upgrade));
  checkFields(head.headers, bytes);

  // Self-delimiting: the head alone parses the same; one byte less waits for more.
  RequestHead again;
  FUZZ_CHECK(parseRequestHead(bytes, limits, again, error) == ParseStatus::Done);
  FUZZ_CHECK(again.headBytes == head.headBytes && again.framing == head.framing &&
             again.contentLength == head.contentLength &&
             again.headers.size() == head.headers.size());
  FUZZ_CHECK(parseRequestHead(bytes.substr(0, bytes.size() - 1), limits, again, error) ==
             ParseStatus::NeedMore);

  // What we would send upstream is a valid head with the same framing.
  ForwardOptions options;
  options.peerAddress = "192.0.2.1";
  options.generatedRequestId = "gen-id";
  options.allowUpgrade = (seed & 1) != 0;
  options.https = (seed & 2) != 0;
  std::string out;
  writeUpstreamRequestHead(head, options, out);
  Limits big;
  big.maxHeadBytes = 1 << 20;
  big.maxRequestLine = 1 << 20;
  big.maxHeaders = 1000;
  ParseError outError = ParseError::None;
  const ParseStatus outStatus = parseRequestHead(out, big, again, outError);
  if (outStatus != ParseStatus::Done) {
    std::fprintf(stderr, "forwarded head does not parse (%s):\n%s\n",
                 std::string(describe(outError)).c_str(), out.c_str());
  }
  FUZZ_CHECK(outStatus == ParseStatus::Done);
  FUZZ_CHECK(again.headBytes == out.size());
  FUZZ_CHECK(again.method == head.method);
  FUZZ_CHECK(again.framing == head.framing && again.contentLength == head.contentLength);
  FUZZ_CHECK(again.versionMinor == 1);
  clientAddressFromXff(head, "192.0.2.1", static_cast<uint32_t>(seed % 4));
  requestIdFor(head, "gen");

  if (head.framing == BodyFraming::Chunked) {
    checkChunked(in.substr(head.headBytes), seed);
  }
}

void checkResponse(std::string_view in, const Limits& limits, size_t seed) {
  const bool isHead = (seed & 4) != 0;
  ResponseHead head;
  ParseError error = ParseError::None;
  const ParseStatus status = parseResponseHead(in, limits, isHead, head, error);
  FUZZ_CHECK((status == ParseStatus::Error) == (error != ParseError::None));
  if (status == ParseStatus::NeedMore) {
    FUZZ_CHECK(in.size() <= limits.maxHeadBytes);
  }
  if (status != ParseStatus::Done) {
    return;
  }
  FUZZ_CHECK(head.headBytes <= in.size() && head.headBytes <= limits.maxHeadBytes);
  const std::string_view bytes = in.substr(0, head.headBytes);
  FUZZ_CHECK(bytes.substr(bytes.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(head.status >= 100 && head.status <= 599 && head.versionMinor <= 1);
  FUZZ_CHECK(inside(head.reason, bytes));
  FUZZ_CHECK(head.framing != BodyFraming::UntilClose || !head.keepAlive);
  checkFields(head.headers, bytes);

  ResponseHead again;
  FUZZ_CHECK(parseResponseHead(bytes.substr(0, bytes.size() - 1), limits, isHead, again, error) ==
             ParseStatus::NeedMore);

  ResponseOptions options;
  options.clientVersionMinor = (seed & 8) != 0 ? 0 : 1;
  options.allowUpgrade = (seed & 16) != 0;
  std::string out;
  const ResponseDisposition d = writeDownstreamResponseHead(head, options, out);
  Limits big;
  big.maxHeadBytes = 1 << 20;
  big.maxRequestLine = 1 << 20;
  big.maxHeaders = 1000;
  FUZZ_CHECK(parseResponseHead(out, big, isHead, again, error) == ParseStatus::Done);
  FUZZ_CHECK(again.headBytes == out.size() && again.status == head.status);
  if (d.dechunk) {
    FUZZ_CHECK(again.framing == BodyFraming::UntilClose && d.close);
  } else if (head.framing == BodyFraming::None) {
    FUZZ_CHECK(again.framing == BodyFraming::None);
  } else {
    FUZZ_CHECK(again.framing == head.framing && again.contentLength == head.contentLength);
  }
  if (head.framing == BodyFraming::Chunked) {
    checkChunked(in.substr(head.headBytes), seed);
  }
}

} // namespace
} // namespace fulcrum::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fulcrum::http;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t seed = size;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    seed = seed * 131 + data[size - 1 - i];
  }
  checkRequest(in, Limits{}, seed);
  Limits small;
  small.maxRequestLine = 40;
  small.maxHeadBytes = 200;
  small.maxHeaders = 5;
  checkRequest(in, small, seed);
  checkResponse(in, Limits{}, seed);
  checkChunked(in, seed);
  return 0;
}
