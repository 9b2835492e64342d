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
  BadTransferEncoding, // 501: other codings before the final chunked; bad codings (responses)
  BadStatusLine,       // responses: malformed status line (proxy answers 502)
  BadChunk,            // chunked body: bad size, overflow, missing CRLF, bad trailer
  // 400: a Transfer-Encoding that leaves the body length unreliable (RFC 9112 §6.1, §6.3): the
  // final coding is not chunked, chunked is applied twice, an empty list element, an HTAB after
  // the value, or any Transfer-Encoding in an HTTP/1.0 message.
  UnreliableTransferEncoding,
};

// The status the proxy answers a client with for a rejected request (0 for ParseError::None).
// Errors found in an upstream's response are the proxy's 502, whatever this says.
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
  // The target in origin-form: the target itself for origin-form ("/a?b") and asterisk-form ("*"),
  // the part after the authority for absolute-form ("http://h/a?b" -> "/a?b"; "/" when empty,
  // then a view of static storage; "?b" for "http://h?b", which the forwarder sends as "/?b"),
  // empty for CONNECT's authority-form.
  std::string_view path;
  uint8_t versionMinor = 1; // HTTP/1.<minor>; only 0 and 1 parse
  std::vector<HeaderField> headers;
  size_t headBytes = 0; // bytes of the head including the final CRLF CRLF (and leading CRLFs)
  BodyFraming framing = BodyFraming::None; // ContentLength includes "Content-Length: 0"
  uint64_t contentLength = 0;
  // The Host field's value; for an absolute-form target its authority instead (RFC 9112 §3.2.2:
  // the target's host wins over the Host field, which must still be present in HTTP/1.1).
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
  // The Content-Length value whenever the field is present, also when it does not frame the
  // body (responses to HEAD, 304): the proxy passes it on there.
  uint64_t contentLength = 0;
  bool keepAlive = true; // false also for UntilClose framing
  bool hasConnectionTokens = false;

  void clear();
};

// Parses one request head from the start of `buf`. Done: `out` is filled and out.headBytes says
// where the body (or the next pipelined request) starts. NeedMore: no complete head yet and no
// limit exceeded. Error: `error` says why; nothing of this message may be forwarded.
// The parser keeps no state between calls: after NeedMore, call again with the grown buffer.
// To stay linear for a client that trickles bytes, call again only when headMayAdvance() says so.
ParseStatus parseRequestHead(std::string_view buf, const Limits& limits, RequestHead& out,
                             ParseError& error);

// After a NeedMore on buf[0, parsedSize): whether parsing the grown `buf` can give another
// answer now, i.e. the new bytes hold an LF (a line ended) or `buf` is past limits.maxHeadBytes.
// Skipping a re-parse otherwise only delays an error, never a Done.
bool headMayAdvance(std::string_view buf, size_t parsedSize, const Limits& limits);

// Parses one response head. `requestMethodIsHead` and the status decide the body framing
// (RFC 9112 §6.3: HEAD, 1xx, 204 and 304 have no body).
ParseStatus parseResponseHead(std::string_view buf, const Limits& limits, bool requestMethodIsHead,
                              ResponseHead& out, ParseError& error);

// Incremental validator of a chunked body. The proxy forwards chunked bodies byte for byte as
// they validate (trailers included), so the decoder only needs to find where the message ends
// and to reject anything malformed before it is forwarded.
//
// Grammar (RFC 9112 §7.1), strictly: chunk-size is 1*HEXDIG below 2^63; extensions are
// `*( ";" token [ "=" ( token / quoted-string ) ] )` and a size line is at most kMaxSizeLine
// bytes; lines end in CRLF only; trailer fields are validated like header fields (token name,
// colon right after it, no CTL but HTAB in the value, no obs-fold), must not be Content-Length
// or Transfer-Encoding (RFC 9110 §6.5.1; an upstream that merges trailers must not see framing
// there) and the whole trailer section is at most kMaxTrailerBytes. Stricter than the RFC, because
// the body is forwarded verbatim and must not reach an upstream that reads it differently: no BWS
// around ";" and "=" (senders MUST NOT send it) and no quoted-pair in quoted strings (llhttp, for
// one, rejects both).
class ChunkedDecoder {
public:
  static constexpr uint32_t kMaxSizeLine = 4096;      // chunk-size + extensions, without CRLF
  static constexpr uint32_t kMaxTrailerBytes = 16384; // all trailer lines and the final CRLF

  struct Step {
    size_t consumed = 0;                 // bytes of `in` that belong to this body (forward these)
    uint64_t dataBytes = 0;              // of which chunk payload
    bool done = false;                   // the last chunk and trailers ended within `consumed`
    ParseError error = ParseError::None; // BadChunk; `consumed` then counts the valid bytes before
  };

  // Feeds the next bytes. After done or an error, feed() consumes nothing (and reports the same
  // done / error again).
  Step feed(std::string_view in);
  // Like feed(), but returns right after the first run of chunk payload, which `payload` views
  // (empty if the step reached none): for callers that strip the chunked coding, e.g. towards an
  // HTTP/1.0 client. Call again with the rest of `in` (from `consumed`).
  Step feedPayload(std::string_view in, std::string_view& payload);
  void reset();
  bool done() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }

private:
  enum class State : uint8_t {
    Size,         // hex digits of chunk-size
    ExtNameStart, // after ";": a token
    ExtName,
    ExtValueStart, // after "=": a token or a quoted-string
    ExtValue,
    ExtQuoted,
    ExtAfterQuoted,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart, // a trailer field or the final CRLF
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
    Failed,
  };
  template <bool kStopAfterData> Step run(std::string_view in, std::string_view* payload);
  void matchTrailerName(char c);
  bool isFramingTrailerName() const;
  static constexpr uint8_t kAllFramingNames = 0x3;

  State state_ = State::Size;
  uint64_t remaining_ = 0;
  uint32_t sizeDigits_ = 0;
  uint32_t lineBytes_ = 0;    // bounds the size line; position in a trailer name
  uint32_t trailerBytes_ = 0; // bounds the trailer section
  uint8_t trailerMatch_ = 0;  // framing field names the current trailer name may still be
};

// ASCII case-insensitive comparison for field names and tokens.
bool iequals(std::string_view a, std::string_view b);

// True for hop-by-hop fields (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
// Proxy-Connection) and for any field named in `connectionValue` (the Connection header's value).
bool isHopByHop(std::string_view name, std::string_view connectionValue);

// Whether `name` is a valid field name (a non-empty token) and `value` a valid field value
// (visible ASCII, obs-text, SP and HTAB, no leading or trailing whitespace): for validating
// configured header edits before they reach the hot path, which does not re-check them.
bool isValidFieldName(std::string_view name);
bool isValidFieldValue(std::string_view value);

} // namespace fulcrum::http
