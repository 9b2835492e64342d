#pragma once

// The HTTP/1.1 request parser of fulcrum-echo (RFC 9112): a request head parser that works in
// place on the connection's input buffer, and an incremental chunked-body decoder that counts
// and discards data. Neither owns memory nor touches sockets; both are single-threaded objects
// owned by one connection.
//
// Strict where ambiguity could hide a framing bug in the proxy under test: bare LF, obs-fold,
// whitespace before the colon, invalid bytes in names or values, conflicting or repeated
// Content-Length / Transfer-Encoding, transfer codings other than `chunked`, a missing or
// repeated Host in HTTP/1.1 and oversized heads are all rejected with a status to answer.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fulcrum::echo {

// Limits of one request head. A head that does not fit is answered with 431.
inline constexpr size_t kMaxHeadBytes = 64 * 1024;
inline constexpr size_t kMaxHeaders = 128;

struct Header {
  std::string_view name;  // as received
  std::string_view value; // without surrounding whitespace
};

enum class BodyFraming { None, ContentLength, Chunked };

// A parsed request head. Every view points into the buffer given to RequestParser::parse() and
// stays valid only as long as those bytes do.
struct RequestHead {
  std::string_view method;
  std::string_view target;
  std::string_view version; // "HTTP/1.0" or "HTTP/1.1"
  bool http11 = true;
  std::vector<Header> headers; // in order, as received
  BodyFraming framing = BodyFraming::None;
  uint64_t contentLength = 0;
  bool keepAlive = true;       // after the version's default and the Connection header
  bool expectContinue = false; // `Expect: 100-continue`
  bool unknownExpectation = false;
};

enum class ParseStatus { Incomplete, Complete, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::Incomplete;
  size_t consumed = 0;       // Complete: bytes of the head, including leading empty lines
  int errorStatus = 0;       // Error: the status to answer (400, 431, 505) before closing
  std::string_view reason{}; // Error: why, for the response body and tests
};

// Parses one request head at a time from the front of a buffer. Call parse() again with the
// same (possibly grown) data after Incomplete; it resumes its scan where it stopped.
class RequestParser {
public:
  ParseResult parse(std::string_view data, RequestHead& head);

private:
  ParseResult parseComplete(std::string_view head, size_t consumed, RequestHead& out);

  size_t scanned_ = 0; // bytes already known not to end the head
};

// Decodes a chunked body (RFC 9112 §7.1) incrementally, counting and dropping the data. Chunk
// extensions and trailer fields are read and ignored within a per-line limit.
class ChunkedDecoder {
public:
  struct Step {
    size_t consumed = 0; // bytes of the input used by this call
    bool done = false;   // the last chunk and the trailer section have been read
    bool error = false;  // malformed framing; the connection cannot be reused
  };

  // Feeds the next bytes of the body. After done or error, further calls consume nothing.
  Step feed(std::string_view data);

  uint64_t dataBytes() const { return dataBytes_; }

private:
  enum class State {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
    Error
  };

  State state_ = State::Size;
  uint64_t chunkLeft_ = 0;
  size_t sizeDigits_ = 0;
  size_t lineBytes_ = 0;
  uint64_t dataBytes_ = 0;
};

} // namespace fulcrum::echo
