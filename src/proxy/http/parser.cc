#include "proxy/http/parser.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <new>
#include <type_traits>

#include "proxy/http/chars.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Decisions this parser makes where RFC 9110 / 9112 leave a choice (docs/adr/0004-http1-codec.md
// has the why):
//  - Identical Content-Length values, as repeated fields or as a list ("5, 5"), fold to one
//    (RFC 9110 §8.6); the proxy re-emits a single field. Differing values are rejected.
//  - Requests: Transfer-Encoding must be exactly "chunked". A final coding other than chunked,
//    chunked twice, empty list elements or Transfer-Encoding in HTTP/1.0 are 400
//    (UnreliableTransferEncoding); other codings before a final chunked are 501.
//    Content-Length together with Transfer-Encoding is rejected, not resolved (RFC 9112 §6.3).
//  - Responses: codings ending in chunked are Chunked; codings not ending in chunked read until
//    close (§6.3 rule 4); chunked twice or not last, CL with TE, TE in HTTP/1.0 are errors.
//  - Versions: HTTP/1.0 and HTTP/1.1 only; other well-formed versions are 505 (not "treat 1.2
//    as 1.1"), anything else 400. Lines end in CRLF only.
//  - Up to kMaxLeadingEmptyLines CRLFs before a request line are skipped (RFC 9112 §2.2).
//  - Request methods are any token; targets are origin-form, absolute-form with an http or
//    https scheme, asterisk-form for OPTIONS and authority-form (host:port) for CONNECT.
//  - A status line without the SP before an empty reason ("HTTP/1.1 200\r\n") is accepted.
//  - Stricter than the RFC where another parser could read the framing differently: an HTAB in
//    the trailing whitespace of Content-Length or Transfer-Encoding, and the method PRI (the
//    HTTP/2 preface) are rejected.

namespace fulcrum::http {

using detail::CharClass;
using detail::FieldKind;
using detail::is;

namespace {

constexpr unsigned kMaxLeadingEmptyLines = 4;
// Content-Length and chunk sizes must stay below 2^63, so that offsets fit a signed 64-bit.
constexpr uint64_t kMaxLength = (uint64_t{1} << 63) - 1;
constexpr std::string_view kRootPath = "/";

// What the field loop learns about the fields that matter for framing and connection handling.
struct FieldSummary {
  uint32_t hostCount = 0;
  std::string_view host;
  bool hasContentLength = false;
  bool hasTransferEncoding = false;
  bool teUnreliable = false; // an empty list element or a trailing HTAB
  bool teLastIsChunked = false;
  uint32_t teCodings = 0;
  uint32_t teChunked = 0;
  uint64_t contentLength = 0;
  bool connClose = false;
  bool connKeepAlive = false;
  bool connUpgrade = false;
  bool connOther = false;
  bool hasUpgradeField = false;
  bool expectContinue = false;
};

ParseError noteContentLength(std::string_view value, FieldSummary& s) {
  const char* p = value.data();
  const char* const end = p + value.size();
  for (;;) {
    const char* const digits = p;
    uint64_t n = 0;
    while (p < end && is(*p, detail::kDigit)) {
      const auto d = static_cast<uint64_t>(*p - '0');
      if (n > (kMaxLength - d) / 10) {
        return ParseError::BadContentLength;
      }
      n = n * 10 + d;
      ++p;
    }
    if (p == digits) {
      return ParseError::BadContentLength;
    }
    if (s.hasContentLength && n != s.contentLength) {
      return ParseError::ConflictingContentLength;
    }
    s.hasContentLength = true;
    s.contentLength = n;
    while (p < end && detail::isOws(*p)) {
      ++p;
    }
    if (p == end) {
      return ParseError::None;
    }
    if (*p != ',') {
      return ParseError::BadContentLength;
    }
    ++p;
    while (p < end && detail::isOws(*p)) {
      ++p;
    }
  }
}

void noteTransferEncoding(std::string_view value, FieldSummary& s) {
  s.hasTransferEncoding = true;
  detail::forEachListElement<true>(value, [&](std::string_view coding) {
    if (coding.empty()) {
      s.teUnreliable = true;
      return true;
    }
    ++s.teCodings;
    s.teLastIsChunked = detail::equalsLower(coding, "chunked");
    if (s.teLastIsChunked) {
      ++s.teChunked;
    }
    return true;
  });
}

void noteConnection(std::string_view value, FieldSummary& s) {
  // The usual single tokens first.
  if (detail::equalsLower(value, "keep-alive")) {
    s.connKeepAlive = true;
    return;
  }
  if (detail::equalsLower(value, "close")) {
    s.connClose = true;
    return;
  }
  detail::forEachListElement(value, [&](std::string_view token) {
    if (detail::equalsLower(token, "close")) {
      s.connClose = true;
    } else if (detail::equalsLower(token, "keep-alive")) {
      s.connKeepAlive = true;
    } else if (detail::equalsLower(token, "upgrade")) {
      s.connUpgrade = true;
    } else {
      s.connOther = true;
    }
    return true;
  });
}

// Whether every byte of `v` is allowed in a Host value. Bytes of the buffer up to `readable`
// (>= v's end) may be read: with 16 of them from v's start, the usual bytes (letters, digits,
// '.', '-', ':') are checked 16 at a time and only the others (and bytes past v) by the table.
bool isHostValue(std::string_view v, const char* readable) {
  const char* p = v.data();
  const char* const end = p + v.size();
#if defined(__SSE2__)
  const __m128i kCase = _mm_set1_epi8(0x20);
  const __m128i kBeforeA = _mm_set1_epi8('a' - 1);
  const __m128i kAfterZ = _mm_set1_epi8('z' + 1);
  const __m128i kBefore0 = _mm_set1_epi8('0' - 1);
  const __m128i kAfterColon = _mm_set1_epi8(':' + 1); // digits and ':' are adjacent
  const __m128i kDot = _mm_set1_epi8('.');
  const __m128i kDash = _mm_set1_epi8('-');
  while (p < end && readable - p >= 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i folded = _mm_or_si128(b, kCase);
    const __m128i letter =
        _mm_and_si128(_mm_cmpgt_epi8(folded, kBeforeA), _mm_cmplt_epi8(folded, kAfterZ));
    const __m128i digitOrColon =
        _mm_and_si128(_mm_cmpgt_epi8(b, kBefore0), _mm_cmplt_epi8(b, kAfterColon));
    const __m128i good =
        _mm_or_si128(_mm_or_si128(letter, digitOrColon),
                     _mm_or_si128(_mm_cmpeq_epi8(b, kDot), _mm_cmpeq_epi8(b, kDash)));
    const auto n = static_cast<unsigned>(std::min<ptrdiff_t>(end - p, 16));
    unsigned other = (static_cast<unsigned>(_mm_movemask_epi8(good)) ^ 0xFFFFu) &
                     (n == 16 ? 0xFFFFu : (1u << n) - 1);
    for (; other != 0; other &= other - 1) {
      if (!is(p[__builtin_ctz(other)], detail::kHost)) {
        return false;
      }
    }
    p += n;
  }
#else
  (void)readable;
#endif
  for (; p < end; ++p) {
    if (!is(*p, detail::kHost)) {
      return false;
    }
  }
  return true;
}

// Appends fields to the head's vector. It keeps its capacity across requests (clear()), so after
// warm-up this is push_back's inline path: a compare and a 32-byte store, no call.
class FieldBatch {
public:
  explicit FieldBatch(std::vector<HeaderField>& out) : out_(out) {}
  FieldBatch(const FieldBatch&) = delete;
  FieldBatch& operator=(const FieldBatch&) = delete;

  size_t size() const { return out_.size(); }
  // flatten: push_back is inlined here (GCC otherwise calls it, ~20 instructions a field).
  [[gnu::flatten]] void add(const HeaderField& f) { out_.push_back(f); }

private:
  std::vector<HeaderField>& out_;
};

// Parses header fields from `p` up to and including the empty line. Done: `p` is past the empty
// line. NeedMore: ran out of bytes before it.
template <bool kRequest>
ParseStatus parseFields(const char*& pp, const char* end, uint32_t maxHeaders,
                        std::vector<HeaderField>& out, FieldSummary& s, ParseError& error) {
  FieldBatch headers(out);
  const char* p = pp;
  for (;;) {
    if (p == end) {
      return ParseStatus::NeedMore;
    }
    const char c = *p;
    if (c == '\r') {
      if (end - p < 2) {
        return ParseStatus::NeedMore;
      }
      if (p[1] != '\n') {
        error = ParseError::BareLineFeed;
        return ParseStatus::Error;
      }
      pp = p + 2;
      return ParseStatus::Done;
    }
    if (c == '\n') {
      error = ParseError::BareLineFeed;
      return ParseStatus::Error;
    }
    if (detail::isOws(c)) {
      // obs-fold, or whitespace between the start line and the first field (RFC 9112 §2.2).
      error = ParseError::ObsFold;
      return ParseStatus::Error;
    }
    const char* const name = p;
    p = detail::skipToken(p, end);
    if (p == end) {
      return ParseStatus::NeedMore;
    }
    if (*p != ':' || p == name) {
      error = ParseError::BadHeaderName;
      return ParseStatus::Error;
    }
    const auto nameLen = static_cast<size_t>(p - name);
    ++p;
    while (p < end && detail::isOws(*p)) {
      ++p;
    }
    const char* const value = p;
    for (;;) {
      p = detail::scanFieldContent(p, end);
      if (p == end) {
        return ParseStatus::NeedMore;
      }
      if (*p != '\t') {
        break;
      }
      ++p;
    }
    if (*p != '\r') {
      error = *p == '\n' ? ParseError::BareLineFeed : ParseError::BadHeaderValue;
      return ParseStatus::Error;
    }
    if (end - p < 2) {
      return ParseStatus::NeedMore;
    }
    if (p[1] != '\n') {
      error = ParseError::BadHeaderValue; // bare CR
      return ParseStatus::Error;
    }
    const char* valueEnd = p;
    while (valueEnd > value && detail::isOws(valueEnd[-1])) {
      --valueEnd;
    }
    p += 2;
    if (headers.size() >= maxHeaders) {
      error = ParseError::TooManyHeaders;
      return ParseStatus::Error;
    }
    // Classify from these locals, not from the stored field: reading back the fresh store
    // stalls store forwarding.
    const HeaderField field{std::string_view(name, nameLen),
                            std::string_view(value, static_cast<size_t>(valueEnd - value))};
    headers.add(field);

    switch (detail::classifyField(field.name)) {
    case FieldKind::Host:
      if constexpr (kRequest) {
        if (++s.hostCount > 1) {
          error = ParseError::MultipleHost;
          return ParseStatus::Error;
        }
        if (!isHostValue(field.value, end)) {
          error = ParseError::BadHeaderValue;
          return ParseStatus::Error;
        }
        s.host = field.value;
      }
      break;
    case FieldKind::ContentLength:
      // An HTAB after the value is valid OWS, but llhttp for one rejects it after a length and
      // does not see "chunked" before it: reject what some upstream would read differently.
      if (std::memchr(valueEnd, '\t', static_cast<size_t>(p - 2 - valueEnd)) != nullptr) {
        error = ParseError::BadContentLength;
        return ParseStatus::Error;
      }
      error = noteContentLength(field.value, s);
      if (error != ParseError::None) {
        return ParseStatus::Error;
      }
      break;
    case FieldKind::TransferEncoding:
      if (std::memchr(valueEnd, '\t', static_cast<size_t>(p - 2 - valueEnd)) != nullptr) {
        s.teUnreliable = true;
      }
      noteTransferEncoding(field.value, s);
      break;
    case FieldKind::Connection:
      noteConnection(field.value, s);
      break;
    case FieldKind::Upgrade:
      s.hasUpgradeField = true;
      break;
    case FieldKind::Expect:
      if (detail::equalsLower(field.value, "100-continue")) {
        s.expectContinue = true;
      }
      break;
    default:
      break;
    }
  }
}

// Matches "HTTP/" DIGIT "." DIGIT against the n bytes at p: returns 8 for a full match, else
// the index of the first mismatching byte, or n when all n bytes match a prefix.
size_t matchVersion(const char* p, size_t n) {
  if (n >= 8) {
    static constexpr char kHttp11[] = "HTTP/1.1";
    if (detail::load64(p) == detail::load64(kHttp11)) {
      return 8;
    }
  }
  constexpr char kPattern[] = "HTTP/#.#";
  const size_t k = std::min<size_t>(n, 8);
  for (size_t i = 0; i < k; ++i) {
    const bool ok =
        kPattern[i] == '#' ? detail::isDigitChar(static_cast<uint8_t>(p[i])) : p[i] == kPattern[i];
    if (!ok) {
      return i;
    }
  }
  return k;
}

// authority-form for CONNECT: uri-host ":" port, port 1*5DIGIT.
bool isAuthorityForm(std::string_view t) {
  const size_t colon = t.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == t.size() ||
      t.size() - colon - 1 > 5) {
    return false;
  }
  for (size_t i = colon + 1; i < t.size(); ++i) {
    if (!is(t[i], detail::kDigit)) {
      return false;
    }
  }
  for (size_t i = 0; i < colon; ++i) {
    if (!is(t[i], detail::kHost) || t[i] == '/') {
      return false;
    }
  }
  return true;
}

// Classifies the request-target and fills out.path, and `authority` for absolute-form.
bool checkTarget(RequestHead& out, std::string_view& authority) {
  const std::string_view t = out.target;
  if (out.method == "CONNECT") {
    return isAuthorityForm(t);
  }
  if (t[0] == '/') {
    out.path = t;
    return true;
  }
  if (t == "*") {
    out.path = t;
    return out.method == "OPTIONS";
  }
  size_t schemeLen = 0;
  if (t.size() > 7 && detail::equalsLower(t.substr(0, 7), "http://")) {
    schemeLen = 7;
  } else if (t.size() > 8 && detail::equalsLower(t.substr(0, 8), "https://")) {
    schemeLen = 8;
  } else {
    return false;
  }
  const std::string_view rest = t.substr(schemeLen);
  const size_t authEnd = std::min(rest.find_first_of("/?#"), rest.size());
  authority = rest.substr(0, authEnd);
  if (authority.empty() || !isHostValue(authority, authority.data() + authority.size())) {
    return false;
  }
  const std::string_view path = rest.substr(authEnd);
  if (path.empty()) {
    out.path = kRootPath;
  } else if (path[0] == '/') {
    out.path = path;
  } else if (path[0] == '?') {
    out.path = path; // "http://h?q": the path is empty; the forwarder sends "/?q"
  } else {
    return false; // a fragment right after the authority
  }
  return true;
}

} // namespace

void RequestHead::clear() {
  method = {};
  target = {};
  path = {};
  versionMinor = 1;
  headers.clear();
  headBytes = 0;
  framing = BodyFraming::None;
  contentLength = 0;
  host = {};
  keepAlive = true;
  expectContinue = false;
  upgrade = false;
  hasConnectionTokens = false;
}

void ResponseHead::clear() {
  versionMinor = 1;
  status = 0;
  reason = {};
  headers.clear();
  headBytes = 0;
  framing = BodyFraming::None;
  contentLength = 0;
  keepAlive = true;
  hasConnectionTokens = false;
}

ParseStatus parseRequestHead(std::string_view buf, const Limits& limits, RequestHead& out,
                             ParseError& error) {
  out.clear();
  error = ParseError::None;
  const char* const begin = buf.data();
  const bool truncated = buf.size() > limits.maxHeadBytes;
  const char* const end = begin + (truncated ? limits.maxHeadBytes : buf.size());
  const auto fail = [&error](ParseError e) {
    error = e;
    return ParseStatus::Error;
  };
  const auto incomplete = [&] {
    return truncated ? fail(ParseError::HeadTooLarge) : ParseStatus::NeedMore;
  };

  const char* p = begin;
  for (unsigned emptyLines = 0;; ++emptyLines) {
    if (p == end) {
      return incomplete();
    }
    if (*p == '\n') {
      return fail(ParseError::BareLineFeed);
    }
    if (*p != '\r') {
      break;
    }
    if (end - p < 2) {
      return incomplete();
    }
    if (p[1] != '\n') {
      return fail(ParseError::BareLineFeed);
    }
    if (emptyLines == kMaxLeadingEmptyLines) {
      return fail(ParseError::BadMethod);
    }
    p += 2;
  }

  // The request line, CR included, must lie within [lineStart, lineEnd): a line that reaches
  // lineEnd without its CR is longer than maxRequestLine.
  const char* const lineStart = p;
  const size_t maxLine = limits.maxRequestLine;
  const char* const lineEnd =
      static_cast<size_t>(end - lineStart) > maxLine ? lineStart + maxLine + 1 : end;
  const auto lineIncomplete = [&] {
    return static_cast<size_t>(lineEnd - lineStart) > maxLine ? fail(ParseError::UriTooLong)
                                                              : incomplete();
  };

  p = detail::skipToken(p, lineEnd);
  if (p == lineEnd) {
    return lineIncomplete();
  }
  if (*p != ' ' || p == lineStart) {
    return fail(ParseError::BadMethod);
  }
  out.method = std::string_view(lineStart, static_cast<size_t>(p - lineStart));
  if (out.method == "PRI") {
    // Reserved for the HTTP/2 connection preface (RFC 9113 §3.4); never a real request.
    return fail(ParseError::BadMethod);
  }

  const char* const target = ++p;
  p = detail::scanTarget(p, lineEnd);
  if (p == lineEnd) {
    return lineIncomplete();
  }
  if (*p != ' ') {
    if (p == target || (*p != '\r' && *p != '\n')) {
      return fail(ParseError::BadRequestTarget); // a byte no target may hold
    }
    if (*p == '\r' && end - p < 2) {
      return incomplete();
    }
    // "GET /\r\n" (HTTP/0.9) has no version; a lone CR or LF is a broken line.
    return fail(*p == '\r' && p[1] == '\n' ? ParseError::BadVersion : ParseError::BareLineFeed);
  }
  if (p == target) {
    return fail(ParseError::BadRequestTarget);
  }
  out.target = std::string_view(target, static_cast<size_t>(p - target));
  std::string_view authority;
  if (!checkTarget(out, authority)) {
    return fail(ParseError::BadRequestTarget);
  }
  ++p;

  const size_t matched = matchVersion(p, static_cast<size_t>(lineEnd - p));
  if (matched < 8) {
    return p + matched == lineEnd ? lineIncomplete() : fail(ParseError::BadVersion);
  }
  const char* const cr = p + 8;
  if (cr == lineEnd) {
    return lineIncomplete();
  }
  if (*cr != '\r') {
    return fail(*cr == '\n' ? ParseError::BareLineFeed : ParseError::BadVersion);
  }
  if (end - cr < 2) {
    return incomplete();
  }
  if (cr[1] != '\n') {
    return fail(ParseError::BareLineFeed);
  }
  if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) {
    return fail(ParseError::UnsupportedVersion);
  }
  out.versionMinor = static_cast<uint8_t>(p[7] - '0');
  p = cr + 2;

  FieldSummary s;
  const ParseStatus st = parseFields<true>(p, end, limits.maxHeaders, out.headers, s, error);
  if (st == ParseStatus::NeedMore) {
    return incomplete();
  }
  if (st == ParseStatus::Error) {
    return st;
  }

  const bool http11 = out.versionMinor == 1;
  if (http11 && s.hostCount == 0) {
    return fail(ParseError::MissingHost);
  }
  out.host = authority.empty() ? s.host : authority;

  if (s.hasTransferEncoding) {
    if (s.hasContentLength) {
      return fail(ParseError::ContentLengthWithTransferEncoding);
    }
    if (!http11 || s.teUnreliable || !s.teLastIsChunked || s.teChunked > 1) {
      return fail(ParseError::UnreliableTransferEncoding);
    }
    if (s.teCodings != 1) {
      return fail(ParseError::BadTransferEncoding);
    }
    out.framing = BodyFraming::Chunked;
  } else if (s.hasContentLength) {
    out.framing = BodyFraming::ContentLength;
    out.contentLength = s.contentLength;
  }

  out.keepAlive = !s.connClose && (http11 || s.connKeepAlive);
  out.upgrade = http11 && s.connUpgrade && s.hasUpgradeField;
  out.expectContinue = http11 && s.expectContinue;
  out.hasConnectionTokens = s.connOther;
  out.headBytes = static_cast<size_t>(p - begin);
  return ParseStatus::Done;
}

ParseStatus parseResponseHead(std::string_view buf, const Limits& limits, bool requestMethodIsHead,
                              ResponseHead& out, ParseError& error) {
  out.clear();
  error = ParseError::None;
  const char* const begin = buf.data();
  const bool truncated = buf.size() > limits.maxHeadBytes;
  const char* const end = begin + (truncated ? limits.maxHeadBytes : buf.size());
  const auto fail = [&error](ParseError e) {
    error = e;
    return ParseStatus::Error;
  };
  const auto incomplete = [&] {
    return truncated ? fail(ParseError::HeadTooLarge) : ParseStatus::NeedMore;
  };

  const size_t maxLine = limits.maxRequestLine;
  const char* const lineEnd =
      static_cast<size_t>(end - begin) > maxLine ? begin + maxLine + 1 : end;
  const auto lineIncomplete = [&] {
    return static_cast<size_t>(lineEnd - begin) > maxLine ? fail(ParseError::HeadTooLarge)
                                                          : incomplete();
  };

  const char* p = begin;
  const size_t matched = matchVersion(p, static_cast<size_t>(lineEnd - p));
  if (matched < 8) {
    return p + matched == lineEnd ? lineIncomplete() : fail(ParseError::BadStatusLine);
  }
  p += 8;
  // SP status-code, then SP reason or (tolerated) CR. The usual complete line in one test.
  const auto isDigit = [](char c) { return static_cast<unsigned char>(c - '0') < 10; };
  if (lineEnd - p >= 4 && p[0] == ' ' && isDigit(p[1]) && isDigit(p[2]) && isDigit(p[3])) {
    p += 4;
  } else {
    for (size_t i = 0; i < 4; ++i, ++p) {
      if (p == lineEnd) {
        return lineIncomplete();
      }
      if (i == 0 ? *p != ' ' : !is(*p, detail::kDigit)) {
        return fail(ParseError::BadStatusLine);
      }
    }
  }
  if (begin[5] != '1' || (begin[7] != '0' && begin[7] != '1')) {
    return fail(ParseError::UnsupportedVersion);
  }
  const auto status =
      static_cast<uint16_t>((p[-3] - '0') * 100 + (p[-2] - '0') * 10 + (p[-1] - '0'));
  if (status < 100 || status > 599) {
    return fail(ParseError::BadStatusLine);
  }
  if (p == lineEnd) {
    return lineIncomplete();
  }
  const char* reason = p;
  if (*p == ' ') {
    reason = ++p;
    for (;;) {
      p = detail::scanFieldContent(p, lineEnd);
      if (p == lineEnd) {
        return lineIncomplete();
      }
      if (*p != '\t') {
        break;
      }
      ++p;
    }
  }
  if (*p != '\r') {
    return fail(*p == '\n' ? ParseError::BareLineFeed : ParseError::BadStatusLine);
  }
  if (end - p < 2) {
    return incomplete();
  }
  if (p[1] != '\n') {
    return fail(ParseError::BareLineFeed);
  }
  out.versionMinor = static_cast<uint8_t>(begin[7] - '0');
  out.status = status;
  out.reason = std::string_view(reason, static_cast<size_t>(p - reason));
  p += 2;

  FieldSummary s;
  const ParseStatus st = parseFields<false>(p, end, limits.maxHeaders, out.headers, s, error);
  if (st == ParseStatus::NeedMore) {
    return incomplete();
  }
  if (st == ParseStatus::Error) {
    return st;
  }

  const bool http11 = out.versionMinor == 1;
  if (s.hasTransferEncoding) {
    if (s.hasContentLength) {
      return fail(ParseError::ContentLengthWithTransferEncoding);
    }
    if (!http11 || s.teUnreliable) {
      return fail(ParseError::UnreliableTransferEncoding);
    }
    // chunked applied twice, or not as the last coding: never valid (RFC 9112 §6.1).
    if (s.teChunked > 1 || (s.teChunked == 1 && !s.teLastIsChunked)) {
      return fail(ParseError::BadTransferEncoding);
    }
  }
  out.contentLength = s.contentLength;
  if (requestMethodIsHead || status < 200 || status == 204 || status == 304) {
    out.framing = BodyFraming::None;
  } else if (s.hasTransferEncoding) {
    out.framing = s.teLastIsChunked ? BodyFraming::Chunked : BodyFraming::UntilClose;
  } else if (s.hasContentLength) {
    out.framing = BodyFraming::ContentLength;
  } else {
    out.framing = BodyFraming::UntilClose;
  }
  out.keepAlive =
      !s.connClose && (http11 || s.connKeepAlive) && out.framing != BodyFraming::UntilClose;
  out.hasConnectionTokens = s.connOther;
  out.headBytes = static_cast<size_t>(p - begin);
  return ParseStatus::Done;
}

bool headMayAdvance(std::string_view buf, size_t parsedSize, const Limits& limits) {
  if (buf.size() > limits.maxHeadBytes) {
    return true;
  }
  if (parsedSize >= buf.size()) {
    return false;
  }
  // A CR at the end of the old bytes may have been waiting for this LF.
  return std::memchr(buf.data() + parsedSize, '\n', buf.size() - parsedSize) != nullptr;
}

uint16_t statusFor(ParseError error) {
  switch (error) {
  case ParseError::None:
    return 0;
  case ParseError::UriTooLong:
    return 414;
  case ParseError::UnsupportedVersion:
    return 505;
  case ParseError::HeadTooLarge:
  case ParseError::TooManyHeaders:
    return 431;
  case ParseError::BadTransferEncoding:
    return 501;
  case ParseError::BadStatusLine:
    return 502;
  case ParseError::BadMethod:
  case ParseError::BadRequestTarget:
  case ParseError::BadVersion:
  case ParseError::BadHeaderName:
  case ParseError::BadHeaderValue:
  case ParseError::ObsFold:
  case ParseError::BareLineFeed:
  case ParseError::MissingHost:
  case ParseError::MultipleHost:
  case ParseError::BadContentLength:
  case ParseError::ConflictingContentLength:
  case ParseError::ContentLengthWithTransferEncoding:
  case ParseError::BadChunk:
  case ParseError::UnreliableTransferEncoding:
    return 400;
  }
  return 400;
}

std::string_view describe(ParseError error) {
  switch (error) {
  case ParseError::None:
    return "no error";
  case ParseError::BadMethod:
    return "invalid method";
  case ParseError::BadRequestTarget:
    return "invalid request target";
  case ParseError::UriTooLong:
    return "request line too long";
  case ParseError::BadVersion:
    return "invalid HTTP version";
  case ParseError::UnsupportedVersion:
    return "HTTP version not supported";
  case ParseError::HeadTooLarge:
    return "header section too large";
  case ParseError::TooManyHeaders:
    return "too many header fields";
  case ParseError::BadHeaderName:
    return "invalid header field name";
  case ParseError::BadHeaderValue:
    return "invalid header field value";
  case ParseError::ObsFold:
    return "obsolete line folding";
  case ParseError::BareLineFeed:
    return "line not terminated by CRLF";
  case ParseError::MissingHost:
    return "missing Host";
  case ParseError::MultipleHost:
    return "more than one Host";
  case ParseError::BadContentLength:
    return "invalid Content-Length";
  case ParseError::ConflictingContentLength:
    return "conflicting Content-Length values";
  case ParseError::ContentLengthWithTransferEncoding:
    return "Content-Length together with Transfer-Encoding";
  case ParseError::BadTransferEncoding:
    return "unsupported Transfer-Encoding";
  case ParseError::BadStatusLine:
    return "invalid status line";
  case ParseError::BadChunk:
    return "invalid chunked encoding";
  case ParseError::UnreliableTransferEncoding:
    return "Transfer-Encoding does not end in chunked";
  }
  return "invalid request";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (detail::kLower[static_cast<uint8_t>(a[i])] != detail::kLower[static_cast<uint8_t>(b[i])]) {
      return false;
    }
  }
  return true;
}

bool isHopByHop(std::string_view name, std::string_view connectionValue) {
  const bool maybeToken = name.find('\r') == std::string_view::npos; // classifyField's contract
  if (maybeToken && detail::isStaticHopByHop(detail::classifyField(name))) {
    return true;
  }
  return !detail::forEachListElement(connectionValue,
                                     [&](std::string_view token) { return !iequals(token, name); });
}

bool isValidFieldName(std::string_view name) {
  return !name.empty() &&
         detail::skipToken(name.data(), name.data() + name.size()) == name.data() + name.size();
}

bool isValidFieldValue(std::string_view value) {
  if (!value.empty() && (detail::isOws(value.front()) || detail::isOws(value.back()))) {
    return false;
  }
  for (char c : value) {
    if (!is(c, detail::kFieldValue)) {
      return false;
    }
  }
  return true;
}

// ---- ChunkedDecoder -------------------------------------------------------------------------

void ChunkedDecoder::reset() {
  state_ = State::Size;
  remaining_ = 0;
  sizeDigits_ = 0;
  lineBytes_ = 0;
  trailerBytes_ = 0;
  trailerMatch_ = 0;
}

namespace {
// The framing fields a trailer section must not carry (RFC 9110 §6.5.1), by bit of trailerMatch_.
constexpr std::string_view kFramingTrailerNames[] = {"content-length", "transfer-encoding"};
} // namespace

void ChunkedDecoder::matchTrailerName(char c) {
  const auto lower = detail::kLower[static_cast<uint8_t>(c)];
  for (unsigned i = 0; i < std::size(kFramingTrailerNames); ++i) {
    const std::string_view name = kFramingTrailerNames[i];
    if (lineBytes_ >= name.size() || static_cast<uint8_t>(name[lineBytes_]) != lower) {
      trailerMatch_ = static_cast<uint8_t>(trailerMatch_ & ~(1u << i));
    }
  }
  ++lineBytes_;
}

bool ChunkedDecoder::isFramingTrailerName() const {
  for (unsigned i = 0; i < std::size(kFramingTrailerNames); ++i) {
    if ((trailerMatch_ & (1u << i)) != 0 && lineBytes_ == kFramingTrailerNames[i].size()) {
      return true;
    }
  }
  return false;
}

ChunkedDecoder::Step ChunkedDecoder::feed(std::string_view in) {
  return run<false>(in, nullptr);
}

ChunkedDecoder::Step ChunkedDecoder::feedPayload(std::string_view in, std::string_view& payload) {
  payload = {};
  return run<true>(in, &payload);
}

template <bool kStopAfterData>
ChunkedDecoder::Step ChunkedDecoder::run(std::string_view in, std::string_view* payload) {
  Step step;
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;
  const auto fail = [&] {
    state_ = State::Failed;
    step.consumed = static_cast<size_t>(p - begin);
    step.error = ParseError::BadChunk;
    return step;
  };

  while (p < end) {
    const char c = *p;
    switch (state_) {
    case State::Size:
      if (is(c, detail::kHex)) {
        const uint64_t d = is(c, detail::kDigit) ? static_cast<uint64_t>(c - '0')
                                                 : static_cast<uint64_t>((c | 0x20) - 'a' + 10);
        if (remaining_ > (kMaxLength - d) / 16) {
          return fail();
        }
        remaining_ = remaining_ * 16 + d;
        ++sizeDigits_;
      } else if (sizeDigits_ == 0) {
        return fail();
      } else if (c == '\r') {
        state_ = State::SizeLf;
      } else if (c == ';') {
        state_ = State::ExtNameStart;
      } else {
        return fail();
      }
      break;
    case State::ExtNameStart:
      if (!is(c, detail::kToken)) {
        return fail();
      }
      state_ = State::ExtName;
      break;
    case State::ExtName:
      if (c == '\r') {
        state_ = State::SizeLf;
      } else if (c == ';') {
        state_ = State::ExtNameStart;
      } else if (c == '=') {
        state_ = State::ExtValueStart;
      } else if (!is(c, detail::kToken)) {
        return fail();
      }
      break;
    case State::ExtValueStart:
      if (c == '"') {
        state_ = State::ExtQuoted;
      } else if (is(c, detail::kToken)) {
        state_ = State::ExtValue;
      } else {
        return fail();
      }
      break;
    case State::ExtValue:
      if (c == '\r') {
        state_ = State::SizeLf;
      } else if (c == ';') {
        state_ = State::ExtNameStart;
      } else if (!is(c, detail::kToken)) {
        return fail();
      }
      break;
    case State::ExtQuoted:
      // qdtext only: a backslash (quoted-pair) is rejected, see the class comment.
      if (c == '"') {
        state_ = State::ExtAfterQuoted;
      } else if (!is(c, detail::kQdText)) {
        return fail();
      }
      break;
    case State::ExtAfterQuoted:
      if (c == '\r') {
        state_ = State::SizeLf;
      } else if (c == ';') {
        state_ = State::ExtNameStart;
      } else {
        return fail();
      }
      break;
    case State::SizeLf:
      if (c != '\n') {
        return fail();
      }
      state_ = remaining_ == 0 ? State::TrailerStart : State::Data;
      ++p;
      continue;
    case State::Data: {
      const uint64_t take = std::min<uint64_t>(remaining_, static_cast<uint64_t>(end - p));
      if constexpr (kStopAfterData) {
        *payload = std::string_view(p, static_cast<size_t>(take));
      }
      p += take;
      remaining_ -= take;
      step.dataBytes += take;
      if (remaining_ == 0) {
        state_ = State::DataCr;
      }
      if constexpr (kStopAfterData) {
        step.consumed = static_cast<size_t>(p - begin);
        return step;
      }
      continue;
    }
    case State::DataCr:
      if (c != '\r') {
        return fail();
      }
      state_ = State::DataLf;
      ++p;
      continue;
    case State::DataLf:
      if (c != '\n') {
        return fail();
      }
      state_ = State::Size;
      sizeDigits_ = 0;
      lineBytes_ = 0;
      ++p;
      continue;
    case State::TrailerStart:
      if (++trailerBytes_ > kMaxTrailerBytes) {
        return fail();
      }
      if (c == '\r') {
        state_ = State::FinalLf;
      } else if (is(c, detail::kToken)) {
        state_ = State::TrailerName;
        lineBytes_ = 0;
        trailerMatch_ = kAllFramingNames;
        matchTrailerName(c);
      } else {
        return fail(); // obs-fold, empty name, bare LF
      }
      ++p;
      continue;
    case State::TrailerName:
      if (++trailerBytes_ > kMaxTrailerBytes) {
        return fail();
      }
      if (c == ':') {
        if (trailerMatch_ != 0 && isFramingTrailerName()) {
          return fail(); // a framing field in trailers
        }
        state_ = State::TrailerValue;
      } else if (is(c, detail::kToken)) {
        matchTrailerName(c);
      } else {
        return fail();
      }
      ++p;
      continue;
    case State::TrailerValue:
      if (++trailerBytes_ > kMaxTrailerBytes) {
        return fail();
      }
      if (c == '\r') {
        state_ = State::TrailerLf;
      } else if (!is(c, detail::kFieldValue)) {
        return fail();
      }
      ++p;
      continue;
    case State::TrailerLf:
      if (++trailerBytes_ > kMaxTrailerBytes || c != '\n') {
        return fail();
      }
      state_ = State::TrailerStart;
      ++p;
      continue;
    case State::FinalLf:
      if (++trailerBytes_ > kMaxTrailerBytes || c != '\n') {
        return fail();
      }
      state_ = State::Done;
      ++p;
      step.consumed = static_cast<size_t>(p - begin);
      step.done = true;
      return step;
    case State::Done:
      step.done = true;
      return step;
    case State::Failed:
      step.error = ParseError::BadChunk;
      return step;
    }
    // Size-line states break to here: one byte of the size line (its CR not counted).
    if (state_ != State::SizeLf && ++lineBytes_ > kMaxSizeLine) {
      return fail();
    }
    ++p;
  }
  step.consumed = static_cast<size_t>(p - begin);
  if (state_ == State::Done) {
    step.done = true;
  } else if (state_ == State::Failed) {
    step.error = ParseError::BadChunk;
  }
  return step;
}

} // namespace fulcrum::http
