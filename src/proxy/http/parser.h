#pragma once

// Strict HTTP/1.1 message-head parsing (RFC 9112) and chunked-body framing, behind a narrow
// interface: the parser knows nothing of sockets, routing or who owns the buffer.
//
// Zero-copy: every string_view in a parsed head points into the caller's buffer and is valid as
// long as those bytes are. Heads are reusable objects: `clear()` keeps their capacity, so a
// connection parses requests without allocating after warm-up.
//
// Thread-safety: none; each worker owns its heads and decoders. No exceptions are thrown.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fulcrum::http {

struct HeaderField {
  std::string_view name;  // as received (case preserved); compare with iequals()
  std::string_view value; // leading/trailing OWS stripped
};

enum class BodyFraming : uint8_t {
  None,          // no body (also requests without CL/TE, HEAD responses, 1xx/204/304)
  ContentLength, // exactly contentLength bytes
  Chunked,       // chunked transfer coding, ends with the last chunk and trailers
  UntilClose,    // responses only: body runs until the upstream closes
};

// Why a message was rejected. Each maps to a status (statusFor) and a short text (describe).
enum class ParseError : uint8_t {
  None,
  BadMethod,                // 400: empty or non-token method
  BadRequestTarget,         // 400: empty target, or bytes not allowed in a target
  UriTooLong,               // 414: request line over limits.maxRequestLine
  BadVersion,               // 400: malformed HTTP-version
  UnsupportedVersion,       // 505: a well-formed version other than 1.0 / 1.1
  HeadTooLarge,             // 431: head over limits.maxHeadBytes
  TooManyHeaders,           // 431: more than limits.maxHeaders fields
  BadHeaderName,            // 400: empty or non-token field name, or whitespace before colon
  BadHeaderValue,           // 400: CTL, NUL or bare CR in a field value
  ObsFold,                  // 400: obsolete line folding
  BareLineFeed,             // 400: LF not preceded by CR where CRLF is required / bare CR
  MissingHost,              // 400: HTTP/1.1 request without Host
  MultipleHost,             // 400: more than one Host field
  BadContentLength,         // 400: non-digits, empty, or overflow
  ConflictingContentLength, // 400: differing Content-Length values
  ContentLengthWithTransferEncoding, // 400
  BadTransferEncoding,               // 501 for requests: anything but a final, single "chunked"
  BadStatusLine,                     // responses: malformed status line (proxy answers 502)
  BadChunk,                          // chunked body: bad size, overflow, missing CRLF, bad trailer
};

// The status the proxy answers a client with for a rejected request.
uint16_t statusFor(ParseError error);
// A short, stable description, e.g. "Content-Length together with Transfer-Encoding".
std::string_view describe(ParseError error);

enum class ParseStatus : uint8_t { Done, NeedMore, Error };

struct Limits {
  uint32_t maxRequestLine = 8 * 1024;
  uint32_t maxHeadBytes = 64 * 1024;
  uint32_t maxHeaders = 100;
};

struct RequestHead {
  std::string_view method;
  std::string_view target;
  uint8_t versionMinor = 1; // HTTP/1.<minor>; only 0 and 1 parse
  std::vector<HeaderField> headers;
  size_t headBytes = 0; // bytes of the head including the final CRLF CRLF
  BodyFraming framing = BodyFraming::None;
  uint64_t contentLength = 0;
  std::string_view host;
  bool keepAlive = true; // per version default and Connection: close / keep-alive
  bool expectContinue = false;
  bool upgrade = false;             // Connection: upgrade with an Upgrade field
  bool hasConnectionTokens = false; // Connection names other headers (see isHopByHop)

  void clear();
};

struct ResponseHead {
  uint8_t versionMinor = 1;
  uint16_t status = 0;
  std::string_view reason;
  std::vector<HeaderField> headers;
  size_t headBytes = 0;
  BodyFraming framing = BodyFraming::None;
  uint64_t contentLength = 0;
  bool keepAlive = true;
  bool hasConnectionTokens = false;

  void clear();
};

// Parses one request head from the start of `buf`. Done: `out` is filled and out.headBytes says
// where the body (or the next pipelined request) starts. NeedMore: no complete head yet and no
// limit exceeded. Error: `error` says why; nothing of this message may be forwarded.
ParseStatus parseRequestHead(std::string_view buf, const Limits& limits, RequestHead& out,
                             ParseError& error);

// Parses one response head. `requestMethodIsHead` and the status decide the body framing
// (RFC 9112 §6.3: HEAD, 1xx, 204 and 304 have no body).
ParseStatus parseResponseHead(std::string_view buf, const Limits& limits, bool requestMethodIsHead,
                              ResponseHead& out, ParseError& error);

// Incremental validator of a chunked body. The proxy forwards chunked bodies byte for byte as
// they validate (trailers included), so the decoder only needs to find where the message ends
// and to reject anything malformed before it is forwarded.
class ChunkedDecoder {
public:
  struct Step {
    size_t consumed = 0;    // bytes of `in` that belong to this body (forward these)
    uint64_t dataBytes = 0; // of which chunk payload
    bool done = false;      // the last chunk and trailers ended within `consumed`
    ParseError error = ParseError::None;
  };

  // Feeds the next bytes. After done or an error, feed() consumes nothing.
  Step feed(std::string_view in);
  void reset();
  bool done() const { return state_ == State::Done; }

private:
  enum class State : uint8_t {
    Size,
    SizeExt,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
    Failed,
  };
  State state_ = State::Size;
  uint64_t remaining_ = 0;
  uint32_t sizeDigits_ = 0;
  uint32_t lineBytes_ = 0; // bounds extensions and trailer lines
};

// ASCII case-insensitive comparison for field names and tokens.
bool iequals(std::string_view a, std::string_view b);

// True for hop-by-hop fields (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
// Proxy-Connection) and for any field named in `connectionValue` (the Connection header's value).
bool isHopByHop(std::string_view name, std::string_view connectionValue);

} // namespace fulcrum::http
