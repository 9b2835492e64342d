#include "proxy/http/forward.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "proxy/http/chars.h"

namespace fulcrum::http {

using detail::FieldKind;

namespace {

constexpr size_t kMaxRequestIdBytes = 200;

// Appends to a std::string through a raw cursor: the string is grown once up front (to an
// estimate) and on the rare field that does not fit, instead of std::string::append's checks on
// every piece. The destructor trims the string to what was written.
class HeadWriter {
public:
  HeadWriter(std::string& out, size_t estimate) : out_(out) {
    const size_t used = out.size();
    out.resize(used + estimate);
    p_ = out.data() + used;
    end_ = out.data() + out.size();
  }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;
  ~HeadWriter() { out_.resize(static_cast<size_t>(p_ - out_.data())); }

  void put(std::string_view s) {
    reserve(s.size());
    copy(s);
  }
  void put(char c) {
    reserve(1);
    *p_++ = c;
  }
  [[gnu::always_inline]] void field(std::string_view name, std::string_view value) {
    reserve(name.size() + value.size() + 4);
    copy(name);
    *p_++ = ':';
    *p_++ = ' ';
    copy(value);
    *p_++ = '\r';
    *p_++ = '\n';
  }
  void number(uint64_t n) {
    reserve(20);
    p_ = std::to_chars(p_, p_ + 20, n).ptr;
  }
  [[gnu::always_inline]] void statusLine(uint8_t versionMinor, uint16_t status,
                                         std::string_view reason) {
    if (reason.empty()) {
      reason = reasonPhrase(status);
    }
    reserve(9 + 3 + 1 + reason.size() + 2);
    copy(versionMinor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    *p_++ = static_cast<char>('0' + status / 100 % 10);
    *p_++ = static_cast<char>('0' + status / 10 % 10);
    *p_++ = static_cast<char>('0' + status % 10);
    *p_++ = ' ';
    copy(reason);
    *p_++ = '\r';
    *p_++ = '\n';
  }

private:
  void reserve(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) [[unlikely]] {
      grow(n);
    }
  }
  [[gnu::noinline]] void grow(size_t n) {
    const auto used = static_cast<size_t>(p_ - out_.data());
    out_.resize(std::max(out_.size() * 2, used + n));
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  // Field names and values are mostly under 32 bytes: those are copied inline with two
  // overlapping loads and stores (reading exactly [s, s + n)), not through a memcpy call.
  [[gnu::always_inline]] void copy(std::string_view s) {
    const size_t n = s.size();
    const char* src = s.data();
    if (n >= 16) {
      if (n <= 32) {
        copyPair<16>(src, n);
      } else {
        std::memcpy(p_, src, n);
      }
    } else if (n >= 8) {
      copyPair<8>(src, n);
    } else if (n >= 4) {
      copyPair<4>(src, n);
    } else if (n != 0) { // an empty view may hold nullptr
      p_[0] = src[0];
      p_[n / 2] = src[n / 2];
      p_[n - 1] = src[n - 1];
    }
    p_ += n;
  }
  // kWidth <= n <= 2 * kWidth bytes: the first and the last kWidth, overlapping in the middle.
  template <size_t kWidth> [[gnu::always_inline]] void copyPair(const char* src, size_t n) {
    char head[kWidth];
    char tail[kWidth];
    std::memcpy(head, src, kWidth);
    std::memcpy(tail, src + n - kWidth, kWidth);
    std::memcpy(p_, head, kWidth);
    std::memcpy(p_ + n - kWidth, tail, kWidth);
  }

  std::string& out_;
  char* p_;
  char* end_;
};

// Whether `name` is listed in any Connection field of `headers`.
bool namedInConnection(std::string_view name, const std::vector<HeaderField>& headers) {
  for (const HeaderField& f : headers) {
    if (detail::classifyField(f.name) == FieldKind::Connection &&
        !detail::forEachListElement(
            f.value, [&](std::string_view token) { return !iequals(token, name); })) {
      return true;
    }
  }
  return false;
}

bool editedAway(std::string_view name, const HeaderEdits& edits) {
  for (std::string_view r : edits.remove) {
    if (iequals(r, name)) {
      return true;
    }
  }
  for (const HeaderField& s : edits.set) {
    if (iequals(s.name, name)) {
      return true;
    }
  }
  return false;
}

// The field kinds a writer produces itself, which edits may not add.
constexpr bool isManagedInRequest(FieldKind kind) {
  return kind != FieldKind::Other && kind != FieldKind::Expect;
}
constexpr bool isManagedInResponse(FieldKind kind) {
  return detail::isStaticHopByHop(kind) || kind == FieldKind::ContentLength;
}

template <bool kRequest> void writeEditFields(const HeaderEdits& edits, HeadWriter& w) {
  if (edits.set.empty() && edits.add.empty()) {
    return;
  }
  for (auto fields : {edits.set, edits.add}) {
    for (const HeaderField& f : fields) {
      const FieldKind kind = detail::classifyField(f.name);
      if (kRequest ? isManagedInRequest(kind) : isManagedInResponse(kind)) {
        continue;
      }
      w.field(f.name, f.value);
    }
  }
}

// A first guess of a head's size: the bytes it came in as plus room for what the proxy adds.
size_t estimateHeadBytes(size_t receivedHeadBytes, const HeaderEdits& edits) {
  size_t n = receivedHeadBytes + 256;
  if (edits.set.empty() && edits.add.empty()) {
    return n;
  }
  for (auto fields : {edits.set, edits.add}) {
    for (const HeaderField& f : fields) {
      n += f.name.size() + f.value.size() + 4;
    }
  }
  return n;
}

bool isSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) {
    return false;
  }
  for (char c : id) {
    if (!detail::is(c, detail::kTarget)) {
      return false;
    }
  }
  return true;
}

// Whether a request field is a Trace Context field the writer replaces or drops.
bool isReplacedTraceField(std::string_view name, const ForwardOptions& options) {
  if (name.size() == 11) {
    return !options.traceparent.empty() && iequals(name, "traceparent");
  }
  if (name.size() == 10) {
    return options.dropTracestate && iequals(name, "tracestate");
  }
  return false;
}

// Calls fn(entry) for the non-empty entries of a comma-separated list from right to left, OWS
// trimmed; stops when fn returns false.
template <class Fn> bool forEachListElementReverse(std::string_view list, Fn&& fn) {
  size_t end = list.size();
  for (;;) {
    const size_t comma = list.rfind(',', end == 0 ? 0 : end - 1);
    const size_t start = (comma == std::string_view::npos || comma >= end) ? 0 : comma + 1;
    size_t a = start;
    size_t b = end;
    while (a < b && detail::isOws(list[a])) {
      ++a;
    }
    while (b > a && detail::isOws(list[b - 1])) {
      --b;
    }
    if (b > a && !fn(list.substr(a, b - a))) {
      return false;
    }
    if (start == 0) {
      return true;
    }
    end = start - 1;
  }
}

} // namespace

void writeUpstreamRequestHead(const RequestHead& head, const ForwardOptions& options,
                              std::string& out) {
  HeadWriter w(out, estimateHeadBytes(head.headBytes, options.edits) + options.pathOverride.size() +
                        options.hostOverride.size() + options.peerAddress.size() +
                        options.generatedRequestId.size() + options.traceparent.size());
  w.put(head.method);
  w.put(' ');
  if (!options.pathOverride.empty()) {
    w.put(options.pathOverride);
  } else if (!head.path.empty()) {
    if (head.path.front() == '?') {
      w.put('/');
    }
    w.put(head.path);
  } else {
    w.put(head.target);
  }
  w.put(" HTTP/1.1\r\n");
  w.field("Host", options.hostOverride.empty() ? head.host : options.hostOverride);

  const bool hasEdits = !options.edits.remove.empty() || !options.edits.set.empty();
  bool hasXff = false;
  for (const HeaderField& f : head.headers) {
    const FieldKind kind = detail::classifyField(f.name);
    if (kind == FieldKind::Other || kind == FieldKind::Expect) {
      if ((hasEdits && editedAway(f.name, options.edits)) ||
          (head.hasConnectionTokens && namedInConnection(f.name, head.headers)) ||
          isReplacedTraceField(f.name, options)) {
        continue;
      }
      w.field(f.name, f.value);
    } else if (kind == FieldKind::XForwardedFor) {
      hasXff = true;
    }
  }
  writeEditFields<true>(options.edits, w);

  if (hasXff && head.hasConnectionTokens && namedInConnection("x-forwarded-for", head.headers)) {
    hasXff = false;
  }
  if (hasXff || !options.peerAddress.empty()) {
    w.put("X-Forwarded-For: ");
    bool first = true;
    if (hasXff) {
      for (const HeaderField& f : head.headers) {
        if (f.value.empty() || detail::classifyField(f.name) != FieldKind::XForwardedFor) {
          continue;
        }
        if (!first) {
          w.put(", ");
        }
        w.put(f.value);
        first = false;
      }
    }
    if (!options.peerAddress.empty()) {
      if (!first) {
        w.put(", ");
      }
      w.put(options.peerAddress);
    }
    w.put("\r\n");
  }
  w.put(options.https ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n");
  const std::string_view requestId = requestIdFor(head, options.generatedRequestId);
  if (!requestId.empty()) {
    w.field("X-Request-Id", requestId);
  }
  if (!options.traceparent.empty()) {
    w.field("traceparent", options.traceparent);
  }

  if (head.upgrade && options.allowUpgrade) {
    w.put("Connection: upgrade\r\n");
    for (const HeaderField& f : head.headers) {
      if (detail::classifyField(f.name) == FieldKind::Upgrade) {
        w.field("Upgrade", f.value);
      }
    }
  } else if (options.closeUpstream) {
    w.put("Connection: close\r\n");
  }

  switch (head.framing) {
  case BodyFraming::ContentLength:
    w.put("Content-Length: ");
    w.number(head.contentLength);
    w.put("\r\n");
    break;
  case BodyFraming::Chunked:
    w.put("Transfer-Encoding: chunked\r\n");
    break;
  case BodyFraming::None:
  case BodyFraming::UntilClose: // not a request framing
    break;
  }
  w.put("\r\n");
}

ResponseDisposition writeDownstreamResponseHead(const ResponseHead& head,
                                                const ResponseOptions& options, std::string& out) {
  const bool http10 = options.clientVersionMinor == 0;
  const bool interim = head.status < 200;
  const bool upgrade = head.status == 101 && options.allowUpgrade;
  ResponseDisposition d;
  d.dechunk = http10 && head.framing == BodyFraming::Chunked;
  d.close = !interim && (options.close || !options.clientKeepAlive ||
                         head.framing == BodyFraming::UntilClose || d.dechunk);

  HeadWriter w(out, estimateHeadBytes(head.headBytes, options.edits));
  w.statusLine(options.clientVersionMinor, head.status, head.reason);
  const bool hasEdits = !options.edits.remove.empty() || !options.edits.set.empty();
  bool hasContentLength = false;
  for (const HeaderField& f : head.headers) {
    const FieldKind kind = detail::classifyField(f.name);
    if (kind == FieldKind::ContentLength) {
      hasContentLength = true;
    }
    if (isManagedInResponse(kind) || (hasEdits && editedAway(f.name, options.edits)) ||
        (head.hasConnectionTokens && namedInConnection(f.name, head.headers))) {
      continue;
    }
    w.field(f.name, f.value);
  }
  writeEditFields<false>(options.edits, w);

  switch (head.framing) {
  case BodyFraming::ContentLength:
    w.put("Content-Length: ");
    w.number(head.contentLength);
    w.put("\r\n");
    break;
  case BodyFraming::Chunked:
    if (!d.dechunk) {
      w.put("Transfer-Encoding: ");
      bool first = true;
      for (const HeaderField& f : head.headers) {
        if (detail::classifyField(f.name) == FieldKind::TransferEncoding) {
          if (!first) {
            w.put(", ");
          }
          w.put(f.value);
          first = false;
        }
      }
      w.put("\r\n");
    }
    break;
  case BodyFraming::None:
    // HEAD and 304 responses may announce the length of the representation (RFC 9110 §8.6).
    if (hasContentLength && head.status >= 200 && head.status != 204) {
      w.put("Content-Length: ");
      w.number(head.contentLength);
      w.put("\r\n");
    }
    break;
  case BodyFraming::UntilClose:
    break;
  }

  if (upgrade) {
    w.put("Connection: upgrade\r\n");
    for (const HeaderField& f : head.headers) {
      if (detail::classifyField(f.name) == FieldKind::Upgrade) {
        w.field("Upgrade", f.value);
      }
    }
  } else if (d.close) {
    w.put("Connection: close\r\n");
  } else if (http10 && !interim) {
    w.put("Connection: keep-alive\r\n");
  }
  w.put("\r\n");
  return d;
}

namespace {

void writeErrorHead(uint16_t status, size_t bodyBytes, bool close, HeadWriter& w) {
  w.statusLine(1, status, {});
  w.put("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  w.number(bodyBytes);
  w.put(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
}

} // namespace

void writeErrorResponse(uint16_t status, std::string_view body, bool close, std::string& out) {
  HeadWriter w(out, 160 + body.size());
  writeErrorHead(status, body.size(), close, w);
  w.put(body);
}

void writeParseErrorResponse(ParseError error, std::string& out) {
  const uint16_t status = error == ParseError::None ? 400 : statusFor(error);
  const std::string_view reason = reasonPhrase(status);
  const std::string_view what = describe(error);
  HeadWriter w(out, 256);
  writeErrorHead(status, 3 + 1 + reason.size() + 2 + what.size() + 1, true, w);
  w.number(status);
  w.put(' ');
  w.put(reason);
  w.put(": ");
  w.put(what);
  w.put('\n');
}

std::string_view reasonPhrase(uint16_t status) {
  switch (status) {
  case 100:
    return "Continue";
  case 101:
    return "Switching Protocols";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 411:
    return "Length Required";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 417:
    return "Expectation Failed";
  case 421:
    return "Misdirected Request";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

std::string_view requestIdFor(const RequestHead& head, std::string_view generated) {
  std::string_view found;
  int count = 0;
  for (const HeaderField& f : head.headers) {
    if (detail::classifyField(f.name) == FieldKind::XRequestId) {
      found = f.value;
      ++count;
    }
  }
  if (count == 1 && isSaneRequestId(found) &&
      !(head.hasConnectionTokens && namedInConnection("x-request-id", head.headers))) {
    return found;
  }
  return generated;
}

std::string_view clientAddressFromXff(std::string_view xff, std::string_view peer,
                                      uint32_t trustedHops) {
  if (trustedHops == 0) {
    return peer;
  }
  std::string_view result = peer;
  uint32_t seen = 0;
  forEachListElementReverse(xff, [&](std::string_view entry) {
    result = entry;
    return ++seen < trustedHops;
  });
  return result;
}

std::string_view clientAddressFromXff(const RequestHead& head, std::string_view peer,
                                      uint32_t trustedHops) {
  if (trustedHops == 0 ||
      (head.hasConnectionTokens && namedInConnection("x-forwarded-for", head.headers))) {
    return peer;
  }
  std::string_view result = peer;
  uint32_t seen = 0;
  for (auto it = head.headers.rbegin(); it != head.headers.rend() && seen < trustedHops; ++it) {
    if (detail::classifyField(it->name) != FieldKind::XForwardedFor) {
      continue;
    }
    forEachListElementReverse(it->value, [&](std::string_view entry) {
      result = entry;
      return ++seen < trustedHops;
    });
  }
  return result;
}

} // namespace fulcrum::http
