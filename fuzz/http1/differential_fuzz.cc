// Differential fuzzing of our HTTP/1 request parser against llhttp 8.1 in strict mode
// (LLHTTP_STRICT_MODE=1, no lenient flags), the parser Node.js and many backends use.
//
// The property: whenever we accept a request head, llhttp accepts it too, ends it at the same
// byte, and agrees on method, target, version, Content-Length and chunked-ness; and whenever our
// chunked decoder completes a body, llhttp completes the message at the same byte. We may reject
// what llhttp accepts (we are stricter), never the reverse on framing.
//
// Documented cases where llhttp rejects what we accept (none of them moves a message boundary;
// each is recognised below and anything else aborts):
//  - Methods outside llhttp's fixed list ("FOO / HTTP/1.1"): RFC 9110 §9.1 allows any token.
//  - Identical repeated or listed Content-Length ("5, 5"): RFC 9110 §8.6 allows folding; we
//    forward one Content-Length, so the upstream never sees the repetition.
//  - llhttp 8.1 quirks in chunk extensions: it rejects a token value followed by another
//    extension ("1;a=b;c") while accepting one after a quoted value: extensions never contain
//    CR or LF, so the line ends at the same byte for both.
// Where we are stricter (we reject, llhttp accepts), nothing is asserted; the unit tests list
// those cases (obs-fold in trailers, empty trailer names, chunk sizes of 2^63 and more, empty
// chunk extension values, Transfer-Encoding other than exactly "chunked", ...).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <llhttp.h>

#include "proxy/http/parser.h"

namespace fulcrum::http {
namespace {

[[noreturn]] void mismatch(const char* what, std::string_view input, const llhttp_t* p) {
  std::fprintf(stderr, "differential mismatch: %s\nllhttp: %s (%s)\ninput (%zu bytes): ", what,
               llhttp_errno_name(llhttp_get_errno(p)),
               llhttp_get_error_reason(p) != nullptr ? llhttp_get_error_reason(p) : "",
               input.size());
  for (unsigned char c : input.substr(0, 512)) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      std::fputc(c, stderr);
    } else {
      std::fprintf(stderr, "\\x%02x", c);
    }
  }
  std::fputc('\n', stderr);
  std::abort();
}

struct Capture {
  std::string url;
  bool headersComplete = false;
  bool messageComplete = false;
  uint16_t flags = 0;
  uint64_t contentLength = 0;
  uint8_t major = 0;
  uint8_t minor = 0;
  uint8_t method = 0;
};

int onUrl(llhttp_t* p, const char* at, size_t n) {
  static_cast<Capture*>(p->data)->url.append(at, n);
  return 0;
}

int onHeadersComplete(llhttp_t* p) {
  auto* c = static_cast<Capture*>(p->data);
  c->headersComplete = true;
  c->flags = p->flags;
  c->contentLength = p->content_length;
  c->major = p->http_major;
  c->minor = p->http_minor;
  c->method = p->method;
  return HPE_PAUSED;
}

int onMessageComplete(llhttp_t* p) {
  static_cast<Capture*>(p->data)->messageComplete = true;
  return HPE_PAUSED;
}

// The methods llhttp parses in requests (llhttp_method_name aborts on others).
bool llhttpKnowsMethod(std::string_view method) {
#define FULCRUM_LLHTTP_METHOD(num, name, string)                                                   \
  if (method == #string) {                                                                         \
    return true;                                                                                   \
  }
  HTTP_METHOD_MAP(FULCRUM_LLHTTP_METHOD)
#undef FULCRUM_LLHTTP_METHOD
  return false;
}

bool contentLengthRepeated(const RequestHead& head) {
  int count = 0;
  for (const HeaderField& f : head.headers) {
    if (iequals(f.name, "content-length")) {
      ++count;
      if (f.value.find(',') != std::string_view::npos) {
        return true;
      }
    }
  }
  return count > 1;
}

// Whether a chunk-size line holds an extension with a token value followed by ';' (an llhttp 8.1
// quirk, see above).
bool hasTokenValueThenExtension(std::string_view body) {
  bool inSizeLine = true;
  bool inQuoted = false;
  bool afterEquals = false;
  bool tokenValue = false;
  // Only approximates the grammar: used to classify, after our decoder validated the body.
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (!inSizeLine) {
      break;
    }
    if (inQuoted) {
      inQuoted = c != '"';
      continue;
    }
    if (c == '"') {
      inQuoted = true;
      tokenValue = false;
    } else if (c == '=') {
      afterEquals = true;
    } else if (c == ';') {
      if (afterEquals && tokenValue) {
        return true;
      }
      afterEquals = false;
      tokenValue = false;
    } else if (c == '\r') {
      inSizeLine = false;
    } else if (afterEquals) {
      tokenValue = true;
    }
  }
  return false;
}

bool anyChunkLineHasTokenValueThenExtension(std::string_view body) {
  // Walk chunk by chunk with our own decoder's view of the sizes.
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      return hasTokenValueThenExtension(body.substr(pos)); // a line still being read
    }
    const std::string_view line = body.substr(pos, eol + 1 - pos);
    if (hasTokenValueThenExtension(line)) {
      return true;
    }
    uint64_t size = 0;
    for (char c : line) {
      const int d = c >= '0' && c <= '9'                     ? c - '0'
                    : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                             : -1;
      if (d < 0) {
        break;
      }
      size = size * 16 + static_cast<uint64_t>(d);
    }
    if (size == 0) {
      return false;
    }
    pos = eol + 2 + size + 2;
  }
  return false;
}

} // namespace
} // namespace fulcrum::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fulcrum::http;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  RequestHead head;
  ParseError error = ParseError::None;
  if (parseRequestHead(in, Limits{}, head, error) != ParseStatus::Done) {
    return 0;
  }

  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_url = onUrl;
  settings.on_headers_complete = onHeadersComplete;
  settings.on_message_complete = onMessageComplete;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  Capture capture;
  parser.data = &capture;

  llhttp_errno_t err = llhttp_execute(&parser, in.data(), in.size());
  if (!capture.headersComplete) {
    if (err == HPE_INVALID_METHOD && !llhttpKnowsMethod(head.method)) {
      return 0;
    }
    if ((err == HPE_INVALID_CONTENT_LENGTH || err == HPE_UNEXPECTED_CONTENT_LENGTH) &&
        contentLengthRepeated(head)) {
      return 0;
    }
    mismatch("we accept a head that llhttp rejects", in, &parser);
  }
  const char* pos = llhttp_get_error_pos(&parser);
  if (err != HPE_PAUSED || pos != in.data() + head.headBytes) {
    mismatch("the head ends at a different byte", in, &parser);
  }
  if (!llhttpKnowsMethod(head.method) ||
      head.method != llhttp_method_name(static_cast<llhttp_method_t>(capture.method))) {
    mismatch("method differs", in, &parser);
  }
  if (capture.url != head.target) {
    mismatch("target differs", in, &parser);
  }
  if (capture.major != 1 || capture.minor != head.versionMinor) {
    mismatch("version differs", in, &parser);
  }
  const bool chunked = (capture.flags & F_CHUNKED) != 0;
  const bool hasLength = (capture.flags & F_CONTENT_LENGTH) != 0;
  switch (head.framing) {
  case BodyFraming::Chunked:
    if (!chunked || hasLength) {
      mismatch("llhttp does not see a chunked body", in, &parser);
    }
    break;
  case BodyFraming::ContentLength:
    if (chunked || !hasLength || capture.contentLength != head.contentLength) {
      mismatch("Content-Length differs", in, &parser);
    }
    break;
  case BodyFraming::None:
  case BodyFraming::UntilClose:
    if (chunked || hasLength) {
      mismatch("llhttp sees a body we do not", in, &parser);
    }
    break;
  }

  // Bodies: where does the message end?
  if (head.upgrade || head.method == "CONNECT") {
    return 0; // llhttp hands the rest of the stream over; so does the proxy
  }
  const std::string_view body = in.substr(head.headBytes);
  uint64_t expectedEnd = 0;
  bool expectComplete = false;
  if (head.framing == BodyFraming::Chunked) {
    ChunkedDecoder decoder;
    const auto step = decoder.feed(body);
    if (step.error != ParseError::None) {
      return 0; // we reject the body; llhttp may or may not
    }
    expectComplete = step.done;
    expectedEnd = head.headBytes + step.consumed;
  } else {
    const uint64_t length = head.framing == BodyFraming::ContentLength ? head.contentLength : 0;
    expectComplete = length <= body.size();
    expectedEnd = head.headBytes + length;
  }
  llhttp_resume(&parser);
  err = llhttp_execute(&parser, pos, static_cast<size_t>(in.data() + in.size() - pos));
  if (expectComplete) {
    if (!capture.messageComplete) {
      if (head.framing == BodyFraming::Chunked && err == HPE_INVALID_CHUNK_SIZE &&
          anyChunkLineHasTokenValueThenExtension(body)) {
        return 0;
      }
      mismatch("our body completes, llhttp's does not", in, &parser);
    }
    if (llhttp_get_error_pos(&parser) != in.data() + expectedEnd) {
      mismatch("the body ends at a different byte", in, &parser);
    }
  } else if (capture.messageComplete) {
    mismatch("llhttp completes a body we still read", in, &parser);
  } else if (err != HPE_OK &&
             !(head.framing == BodyFraming::Chunked && err == HPE_INVALID_CHUNK_SIZE &&
               anyChunkLineHasTokenValueThenExtension(body))) {
    mismatch("llhttp rejects a body we still read", in, &parser);
  }
  return 0;
}
