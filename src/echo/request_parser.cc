#include "echo/request_parser.h"

#include <array>
#include <cstring>

namespace fulcrum::echo {

namespace {

constexpr size_t kMaxChunkLineBytes = 4096;    // a chunk-size line with its extensions
constexpr size_t kMaxTrailerBytes = 64 * 1024; // the whole trailer section
constexpr size_t kMaxChunkSizeDigits = 16;

constexpr std::array<bool, 256> makeTcharTable() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) {
    table[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    table[c] = true;
    table[c - 'a' + 'A'] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}

constexpr std::array<bool, 256> kTchar = makeTcharTable();

bool isToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!kTchar[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  return true;
}

// A control byte other than HTAB (RFC 9110 §5.5: field values are VCHAR, obs-text, SP, HTAB).
bool isForbiddenFieldByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7f;
}

bool isValidTarget(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return false;
    }
  }
  return true;
}

// `lower` must be lower case.
bool equalsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != lower[i]) {
      return false;
    }
  }
  return true;
}

std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls fn(token) for each trimmed, non-empty element of a comma-separated list.
template <class Fn> void forEachListElement(std::string_view list, Fn fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = trimWhitespace(list.substr(0, comma));
    if (!element.empty()) {
      fn(element);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

ParseResult fail(int status, std::string_view reason) {
  return ParseResult{ParseStatus::Error, 0, status, reason};
}

} // namespace

ParseResult RequestParser::parse(std::string_view data, RequestHead& head) {
  // RFC 9112 §2.2: ignore empty lines before the request-line (left over after a body).
  size_t start = 0;
  while (start + 1 < data.size() && data[start] == '\r' && data[start + 1] == '\n') {
    start += 2;
  }
  size_t from = scanned_ > start ? scanned_ : start;
  for (;;) {
    const void* found = std::memchr(data.data() + from, '\n', data.size() - from);
    if (found == nullptr) {
      if (data.size() >= kMaxHeadBytes) {
        scanned_ = 0;
        return fail(431, "request head too large");
      }
      scanned_ = data.size();
      return ParseResult{};
    }
    size_t lf = static_cast<size_t>(static_cast<const char*>(found) - data.data());
    if (lf == start || data[lf - 1] != '\r') {
      scanned_ = 0;
      return fail(400, "bare LF in request head");
    }
    if (lf >= start + 3 && data[lf - 2] == '\n' && data[lf - 3] == '\r') {
      scanned_ = 0;
      if (lf + 1 > kMaxHeadBytes) {
        return fail(431, "request head too large");
      }
      return parseComplete(data.substr(start, lf + 1 - start), lf + 1, head);
    }
    from = lf + 1;
  }
}

// `text` is a whole head ending in CRLF CRLF whose every LF follows a CR.
ParseResult RequestParser::parseComplete(std::string_view text, size_t consumed, RequestHead& out) {
  out.headers.clear();
  out.framing = BodyFraming::None;
  out.contentLength = 0;
  out.expectContinue = false;
  out.unknownExpectation = false;

  size_t eol = text.find("\r\n");
  std::string_view line = text.substr(0, eol);
  text.remove_prefix(eol + 2);

  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || !isToken(line.substr(0, sp1))) {
    return fail(400, "invalid method");
  }
  out.method = line.substr(0, sp1);
  line.remove_prefix(sp1 + 1);
  size_t sp2 = line.find(' ');
  if (sp2 == std::string_view::npos || !isValidTarget(line.substr(0, sp2))) {
    return fail(400, "invalid request target");
  }
  out.target = line.substr(0, sp2);
  out.version = line.substr(sp2 + 1);
  if (out.version == "HTTP/1.1") {
    out.http11 = true;
  } else if (out.version == "HTTP/1.0") {
    out.http11 = false;
  } else if (out.version.size() == 8 && out.version.substr(0, 5) == "HTTP/" &&
             hexValue(out.version[5]) >= 0 && hexValue(out.version[5]) <= 9 &&
             out.version[6] == '.' && hexValue(out.version[7]) >= 0 &&
             hexValue(out.version[7]) <= 9) {
    return fail(505, "unsupported HTTP version");
  } else {
    return fail(400, "invalid HTTP version");
  }

  bool sawContentLength = false;
  bool sawTransferEncoding = false;
  bool connectionClose = false;
  bool connectionKeepAlive = false;
  int hosts = 0;
  for (;;) {
    eol = text.find("\r\n");
    line = text.substr(0, eol);
    text.remove_prefix(eol + 2);
    if (line.empty()) {
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return fail(400, "obsolete line folding");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return fail(400, "header field without colon");
    }
    std::string_view name = line.substr(0, colon);
    if (!isToken(name)) {
      return fail(400, "invalid header field name");
    }
    std::string_view value = trimWhitespace(line.substr(colon + 1));
    for (char c : value) {
      if (isForbiddenFieldByte(c)) {
        return fail(400, "invalid byte in header field value");
      }
    }
    if (out.headers.size() == kMaxHeaders) {
      return fail(431, "too many header fields");
    }
    out.headers.push_back(Header{name, value});

    if (equalsIgnoreCase(name, "content-length")) {
      if (sawContentLength) {
        return fail(400, "repeated Content-Length");
      }
      sawContentLength = true;
      if (value.empty()) {
        return fail(400, "invalid Content-Length");
      }
      uint64_t length = 0;
      for (char c : value) {
        if (c < '0' || c > '9' || length > (UINT64_MAX / 2 - 9) / 10) {
          return fail(400, "invalid Content-Length");
        }
        length = length * 10 + static_cast<uint64_t>(c - '0');
      }
      out.contentLength = length;
      out.framing = BodyFraming::ContentLength;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      if (sawTransferEncoding) {
        return fail(400, "repeated Transfer-Encoding");
      }
      sawTransferEncoding = true;
      if (!equalsIgnoreCase(value, "chunked")) {
        return fail(400, "unsupported Transfer-Encoding");
      }
      out.framing = BodyFraming::Chunked;
    } else if (equalsIgnoreCase(name, "connection")) {
      forEachListElement(value, [&](std::string_view option) {
        connectionClose |= equalsIgnoreCase(option, "close");
        connectionKeepAlive |= equalsIgnoreCase(option, "keep-alive");
      });
    } else if (equalsIgnoreCase(name, "expect")) {
      if (equalsIgnoreCase(value, "100-continue")) {
        out.expectContinue = true;
      } else {
        out.unknownExpectation = true;
      }
    } else if (equalsIgnoreCase(name, "host")) {
      ++hosts;
    }
  }

  if (sawContentLength && sawTransferEncoding) {
    return fail(400, "both Content-Length and Transfer-Encoding");
  }
  if (sawTransferEncoding && !out.http11) {
    return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  }
  if (out.http11 && hosts != 1) {
    return fail(400, hosts == 0 ? "missing Host" : "repeated Host");
  }
  out.keepAlive = out.http11 ? !connectionClose : connectionKeepAlive && !connectionClose;
  return ParseResult{ParseStatus::Complete, consumed, 0, {}};
}

ChunkedDecoder::Step ChunkedDecoder::feed(std::string_view data) {
  size_t i = 0;
  const size_t n = data.size();
  auto failAt = [&] {
    state_ = State::Error;
    return Step{i, false, true};
  };
  while (i < n && state_ != State::Done && state_ != State::Error) {
    char c = data[i];
    switch (state_) {
    case State::Size: {
      int digit = hexValue(c);
      if (digit >= 0) {
        if (++sizeDigits_ > kMaxChunkSizeDigits || (chunkLeft_ >> 59) != 0) {
          return failAt();
        }
        chunkLeft_ = chunkLeft_ * 16 + static_cast<uint64_t>(digit);
      } else if (sizeDigits_ == 0) {
        return failAt();
      } else if (c == '\r') {
        state_ = State::SizeLf;
      } else if (c == ';' || c == ' ' || c == '\t') {
        lineBytes_ = sizeDigits_ + 1;
        state_ = State::Extension;
      } else {
        return failAt();
      }
      ++i;
      break;
    }
    case State::Extension:
      if (c == '\r') {
        state_ = State::SizeLf;
      } else if (isForbiddenFieldByte(c) || ++lineBytes_ > kMaxChunkLineBytes) {
        return failAt();
      }
      ++i;
      break;
    case State::SizeLf:
      if (c != '\n') {
        return failAt();
      }
      ++i;
      sizeDigits_ = 0;
      if (chunkLeft_ == 0) {
        lineBytes_ = 0;
        state_ = State::TrailerStart;
      } else {
        state_ = State::Data;
      }
      break;
    case State::Data: {
      uint64_t take = n - i < chunkLeft_ ? n - i : chunkLeft_;
      i += take;
      chunkLeft_ -= take;
      dataBytes_ += take;
      if (chunkLeft_ == 0) {
        state_ = State::DataCr;
      }
      break;
    }
    case State::DataCr:
      if (c != '\r') {
        return failAt();
      }
      ++i;
      state_ = State::DataLf;
      break;
    case State::DataLf:
      if (c != '\n') {
        return failAt();
      }
      ++i;
      state_ = State::Size;
      break;
    case State::TrailerStart:
      if (c == '\r') {
        ++i;
        state_ = State::EndLf;
      } else {
        state_ = State::Trailer; // the byte is examined again as part of the field line
      }
      break;
    case State::Trailer:
      if (c == '\r') {
        state_ = State::TrailerLf;
      } else if (isForbiddenFieldByte(c) || ++lineBytes_ > kMaxTrailerBytes) {
        return failAt();
      }
      ++i;
      break;
    case State::TrailerLf:
      if (c != '\n') {
        return failAt();
      }
      ++i;
      state_ = State::TrailerStart;
      break;
    case State::EndLf:
      if (c != '\n') {
        return failAt();
      }
      ++i;
      state_ = State::Done;
      break;
    case State::Done:
    case State::Error:
      break;
    }
  }
  return Step{i, state_ == State::Done, state_ == State::Error};
}

} // namespace fulcrum::echo
