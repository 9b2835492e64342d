#include "proxy/http/parser.h"

#include "proxy/http/chars.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fulcrum::http {
namespace {

using namespace std::string_literals;

struct Parsed {
  ParseStatus status;
  ParseError error;
};

Parsed parse(std::string_view text, RequestHead& head, const Limits& limits = {}) {
  ParseError error = ParseError::None;
  const ParseStatus status = parseRequestHead(text, limits, head, error);
  return {status, error};
}

Parsed parseResponse(std::string_view text, ResponseHead& head, bool isHead = false,
                     const Limits& limits = {}) {
  ParseError error = ParseError::None;
  const ParseStatus status = parseResponseHead(text, limits, isHead, head, error);
  return {status, error};
}

std::string_view fieldValue(const RequestHead& head, std::string_view name) {
  for (const HeaderField& f : head.headers) {
    if (iequals(f.name, name)) {
      return f.value;
    }
  }
  return "<absent>";
}

// ---- rejected requests ------------------------------------------------------------------------

struct BadRequest {
  const char* what;
  std::string text;
  ParseError error;
  uint16_t status;
};

Limits smallLimits() {
  Limits l;
  l.maxRequestLine = 64;
  l.maxHeadBytes = 256;
  l.maxHeaders = 4;
  return l;
}

std::vector<BadRequest> badRequests() {
  const std::string h = "GET / HTTP/1.1\r\nHost: a\r\n";
  using E = ParseError;
  return {
      // framing
      {"CL with TE", h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::ContentLengthWithTransferEncoding, 400},
      {"TE with CL", h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       E::ContentLengthWithTransferEncoding, 400},
      {"CL with bad TE", h + "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n",
       E::ContentLengthWithTransferEncoding, 400},
      {"differing CL fields", h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
       E::ConflictingContentLength, 400},
      {"differing CL list", h + "Content-Length: 5, 6\r\n\r\n", E::ConflictingContentLength, 400},
      {"CL not a number", h + "Content-Length: abc\r\n\r\n", E::BadContentLength, 400},
      {"CL empty", h + "Content-Length:\r\n\r\n", E::BadContentLength, 400},
      {"CL negative", h + "Content-Length: -1\r\n\r\n", E::BadContentLength, 400},
      {"CL plus sign", h + "Content-Length: +5\r\n\r\n", E::BadContentLength, 400},
      {"CL hex", h + "Content-Length: 0x10\r\n\r\n", E::BadContentLength, 400},
      {"CL inner space", h + "Content-Length: 1 0\r\n\r\n", E::BadContentLength, 400},
      {"CL empty list element", h + "Content-Length: 5,,5\r\n\r\n", E::BadContentLength, 400},
      {"CL trailing comma", h + "Content-Length: 5,\r\n\r\n", E::BadContentLength, 400},
      {"CL trailing tab", h + "Content-Length: 5 \t\r\n\r\n", E::BadContentLength, 400},
      {"CL overflow u64", h + "Content-Length: 99999999999999999999\r\n\r\n", E::BadContentLength,
       400},
      {"CL 2^63", h + "Content-Length: 9223372036854775808\r\n\r\n", E::BadContentLength, 400},
      {"TE gzip, chunked", h + "Transfer-Encoding: gzip, chunked\r\n\r\n", E::BadTransferEncoding,
       501},
      {"TE split gzip / chunked",
       h + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", E::BadTransferEncoding,
       501},
      {"TE chunked, gzip", h + "Transfer-Encoding: chunked, gzip\r\n\r\n",
       E::UnreliableTransferEncoding, 400},
      {"TE gzip", h + "Transfer-Encoding: gzip\r\n\r\n", E::UnreliableTransferEncoding, 400},
      {"TE identity", h + "Transfer-Encoding: identity\r\n\r\n", E::UnreliableTransferEncoding,
       400},
      {"TE chunked twice", h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::UnreliableTransferEncoding, 400},
      {"TE chunked, chunked", h + "Transfer-Encoding: chunked, chunked\r\n\r\n",
       E::UnreliableTransferEncoding, 400},
      {"TE empty element", h + "Transfer-Encoding: chunked,\r\n\r\n", E::UnreliableTransferEncoding,
       400},
      {"TE empty", h + "Transfer-Encoding:\r\n\r\n", E::UnreliableTransferEncoding, 400},
      {"TE trailing tab", h + "Transfer-Encoding: chunked\t\r\n\r\n", E::UnreliableTransferEncoding,
       400},
      {"TE xchunked", h + "Transfer-Encoding: xchunked\r\n\r\n", E::UnreliableTransferEncoding,
       400},
      {"TE chunked with params", h + "Transfer-Encoding: chunked;q=1\r\n\r\n",
       E::UnreliableTransferEncoding, 400},
      {"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::UnreliableTransferEncoding, 400},
      // line structure and bytes
      {"obs-fold", h + "X-A: a\r\n b\r\n\r\n", E::ObsFold, 400},
      {"obs-fold with tab", h + "X-A: a\r\n\tb\r\n\r\n", E::ObsFold, 400},
      {"space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", E::ObsFold, 400},
      {"bare CR in value", h + "X-A: a\rb\r\n\r\n", E::BadHeaderValue, 400},
      {"bare CR after target", "GET /\rHTTP/1.1\r\nHost: a\r\n\r\n", E::BareLineFeed, 400},
      {"bare CR after version", "GET / HTTP/1.1\rHost: a\r\n\r\n", E::BareLineFeed, 400},
      {"bare CR as empty line", h + "\rX\r\n\r\n", E::BareLineFeed, 400},
      {"bare CR leading", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", E::BareLineFeed, 400},
      {"bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", E::BareLineFeed, 400},
      {"bare LF field", "GET / HTTP/1.1\r\nHost: a\n\r\n", E::BareLineFeed, 400},
      {"bare LF end of head", h + "\n", E::BareLineFeed, 400},
      {"bare LF leading", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", E::BareLineFeed, 400},
      {"NUL in value", h + "X-A: a\0b\r\n\r\n"s, E::BadHeaderValue, 400},
      {"CTL in value", h + "X-A: a\x01z\r\n\r\n", E::BadHeaderValue, 400},
      {"ESC in value", h + "X-A: \x1b[31m\r\n\r\n", E::BadHeaderValue, 400},
      {"DEL in value", h + "X-A: a\x7fz\r\n\r\n", E::BadHeaderValue, 400},
      {"CTL in long value", h + "X-A: " + std::string(40, 'v') + "\x0b" + "z\r\n\r\n",
       E::BadHeaderValue, 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", E::BadHeaderName, 400},
      {"tab before colon", h + "X-A\t: a\r\n\r\n", E::BadHeaderName, 400},
      {"non-token name", h + "X(A): a\r\n\r\n", E::BadHeaderName, 400},
      {"non-ASCII name", h + "X-\xc3\xa4: a\r\n\r\n", E::BadHeaderName, 400},
      {"empty name", h + ": a\r\n\r\n", E::BadHeaderName, 400},
      {"no colon", h + "X-A\r\n\r\n", E::BadHeaderName, 400},
      // Host
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: a\r\n\r\n", E::MissingHost, 400},
      {"two Host", h + "Host: a\r\n\r\n", E::MultipleHost, 400},
      {"two Host, 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", E::MultipleHost, 400},
      {"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E::BadHeaderValue, 400},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", E::BadHeaderValue, 400},
      // versions
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", E::UnsupportedVersion, 505},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", E::UnsupportedVersion, 505},
      {"HTTP/0.9 line", "GET / HTTP/0.9\r\n\r\n", E::UnsupportedVersion, 505},
      {"HTTP/11", "GET / HTTP/11\r\nHost: a\r\n\r\n", E::BadVersion, 400},
      {"lower-case http", "GET / http/1.1\r\nHost: a\r\n\r\n", E::BadVersion, 400},
      {"HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", E::BadVersion, 400},
      {"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", E::BadVersion, 400},
      {"garbage version", "GET / FOO\r\nHost: a\r\n\r\n", E::BadVersion, 400},
      {"no version (0.9)", "GET /\r\n\r\n", E::BadVersion, 400},
      // request line
      {"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadMethod, 400},
      {"non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadMethod, 400},
      {"PRI method", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadMethod, 400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", E::BadMethod, 400},
      {"tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", E::BadMethod, 400},
      {"too many leading CRLFs", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
       E::BadMethod, 400},
      {"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"target with 0x80", "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"target with DEL", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"target with CTL", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"target with tab", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"long target with NUL", "GET /" + std::string(33, 'a') + "\0 HTTP/1.1\r\n\r\n"s,
       E::BadRequestTarget, 400},
      {"relative target", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"ftp absolute-form", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"empty authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"userinfo in absolute-form", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
       E::BadRequestTarget, 400},
      {"CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      {"CONNECT without port", "CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestTarget, 400},
      // limits (smallLimits: line 64, head 256, 4 fields)
      {"request line too long", "GET /" + std::string(80, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
       E::UriTooLong, 414},
      {"request line too long, incomplete", "GET /" + std::string(70, 'a'), E::UriTooLong, 414},
      {"too many fields", h + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", E::TooManyHeaders, 431},
      {"head too large", h + "X-A: " + std::string(300, 'v') + "\r\n\r\n", E::HeadTooLarge, 431},
      {"head too large, incomplete", h + "X-A: " + std::string(300, 'v'), E::HeadTooLarge, 431},
  };
}

TEST(ParserTest, RejectsMalformedRequests) {
  const auto cases = badRequests();
  ASSERT_GE(cases.size(), 40u);
  for (const BadRequest& c : cases) {
    RequestHead head;
    const Parsed r = parse(c.text, head, smallLimits());
    EXPECT_EQ(r.status, ParseStatus::Error) << c.what;
    EXPECT_EQ(static_cast<int>(r.error), static_cast<int>(c.error))
        << c.what << ": " << describe(r.error);
    EXPECT_EQ(statusFor(r.error), c.status) << c.what;
    EXPECT_FALSE(describe(r.error).empty());
  }
}

// Every prefix of a rejected head either still waits for bytes or fails the same way; no
// prefix may be accepted.
TEST(ParserTest, PrefixesOfMalformedRequestsAreNeverAccepted) {
  for (const BadRequest& c : badRequests()) {
    for (size_t n = 0; n <= c.text.size(); ++n) {
      RequestHead head;
      const Parsed r = parse(std::string_view(c.text).substr(0, n), head, smallLimits());
      EXPECT_NE(r.status, ParseStatus::Done) << c.what << " prefix " << n;
    }
  }
}

// ---- accepted requests ------------------------------------------------------------------------

TEST(ParserTest, ParsesSimpleGet) {
  const std::string text = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
                           "User-Agent:  curl/8.0 \t\r\nAccept: */*\r\nX-Empty:\r\n\r\n";
  RequestHead head;
  const Parsed r = parse(text, head);
  ASSERT_EQ(r.status, ParseStatus::Done) << describe(r.error);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?q=1");
  EXPECT_EQ(head.path, "/index.html?q=1");
  EXPECT_EQ(head.versionMinor, 1);
  EXPECT_EQ(head.host, "example.com");
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(head.headers[1].name, "User-Agent");
  EXPECT_EQ(head.headers[1].value, "curl/8.0");
  EXPECT_EQ(head.headers[3].value, "");
  EXPECT_EQ(head.headBytes, text.size());
  EXPECT_EQ(head.framing, BodyFraming::None);
  EXPECT_TRUE(head.keepAlive);
  EXPECT_FALSE(head.upgrade);
  EXPECT_FALSE(head.expectContinue);
  EXPECT_FALSE(head.hasConnectionTokens);
}

TEST(ParserTest, ViewsPointIntoTheBuffer) {
  const std::string text = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  RequestHead head;
  ASSERT_EQ(parse(text, head).status, ParseStatus::Done);
  EXPECT_EQ(head.method.data(), text.data());
  EXPECT_EQ(head.host.data(), text.data() + text.find("h\r\n"));
  EXPECT_EQ(head.framing, BodyFraming::ContentLength);
  EXPECT_EQ(head.contentLength, 3u);
  EXPECT_EQ(text.substr(head.headBytes), "abc");
}

TEST(ParserTest, ParsesPipelinedRequests) {
  const std::string first = "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  const std::string second = "GET /two HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
  const std::string text = first + second;
  RequestHead head;
  ASSERT_EQ(parse(text, head).status, ParseStatus::Done);
  EXPECT_EQ(head.target, "/one");
  EXPECT_EQ(head.contentLength, 5u);
  const size_t next = head.headBytes + head.contentLength;
  EXPECT_EQ(next, first.size());
  ASSERT_EQ(parse(std::string_view(text).substr(next), head).status, ParseStatus::Done);
  EXPECT_EQ(head.target, "/two");
  EXPECT_EQ(head.host, "b");
  EXPECT_FALSE(head.keepAlive);
  EXPECT_EQ(next + head.headBytes, text.size());
}

TEST(ParserTest, ParsesPipelinedChunkedThenGet) {
  const std::string text = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n0\r\n\r\n"
                           "GET /n HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(text, head).status, ParseStatus::Done);
  EXPECT_EQ(head.framing, BodyFraming::Chunked);
  ChunkedDecoder decoder;
  const auto step = decoder.feed(std::string_view(text).substr(head.headBytes));
  ASSERT_TRUE(step.done);
  EXPECT_EQ(step.dataBytes, 3u);
  const size_t next = head.headBytes + step.consumed;
  ASSERT_EQ(parse(std::string_view(text).substr(next), head).status, ParseStatus::Done);
  EXPECT_EQ(head.target, "/n");
}

TEST(ParserTest, ParsesAbsoluteForm) {
  RequestHead head;
  ASSERT_EQ(
      parse("GET http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n", head).status,
      ParseStatus::Done);
  EXPECT_EQ(head.target, "http://Example.com:8080/a/b?c=d");
  EXPECT_EQ(head.host, "Example.com:8080"); // the target's authority wins over Host
  EXPECT_EQ(head.path, "/a/b?c=d");
  EXPECT_EQ(fieldValue(head, "host"), "other");

  ASSERT_EQ(parse("GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n", head).status, ParseStatus::Done);
  EXPECT_EQ(head.host, "h");
  EXPECT_EQ(head.path, "/");
  ASSERT_EQ(parse("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", head).status, ParseStatus::Done);
  EXPECT_EQ(head.path, "?x=1");
  ASSERT_EQ(parse("GET http://[::1]:80/ HTTP/1.1\r\nHost: h\r\n\r\n", head).status,
            ParseStatus::Done);
  EXPECT_EQ(head.host, "[::1]:80");
}

TEST(ParserTest, ParsesAsteriskAndAuthorityForms) {
  RequestHead head;
  ASSERT_EQ(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", head).status, ParseStatus::Done);
  EXPECT_EQ(head.target, "*");
  ASSERT_EQ(parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", head).status,
            ParseStatus::Done);
  EXPECT_EQ(head.method, "CONNECT");
  EXPECT_EQ(head.target, "example.com:443");
  EXPECT_EQ(head.path, "");
}

TEST(ParserTest, AppliesConnectionSemanticsPerVersion) {
  struct Case {
    std::string text;
    bool keepAlive;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    RequestHead head;
    ASSERT_EQ(parse(c.text, head).status, ParseStatus::Done) << c.text;
    EXPECT_EQ(head.keepAlive, c.keepAlive) << c.text;
  }
}

TEST(ParserTest, ReportsConnectionTokensUpgradeAndExpect) {
  RequestHead head;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Foo\r\n\r\n", head).status,
            ParseStatus::Done);
  EXPECT_TRUE(head.hasConnectionTokens);

  ASSERT_EQ(
      parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            head)
          .status,
      ParseStatus::Done);
  EXPECT_TRUE(head.upgrade);
  EXPECT_FALSE(head.hasConnectionTokens);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", head).status,
            ParseStatus::Done);
  EXPECT_FALSE(head.upgrade); // Upgrade alone does not ask for one
  ASSERT_EQ(
      parse("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", head).status,
      ParseStatus::Done);
  EXPECT_FALSE(head.upgrade); // RFC 9110 §7.8: ignored in HTTP/1.0

  ASSERT_EQ(
      parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", head)
          .status,
      ParseStatus::Done);
  EXPECT_TRUE(head.expectContinue);
  ASSERT_EQ(
      parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", head).status,
      ParseStatus::Done);
  EXPECT_FALSE(head.expectContinue);
}

TEST(ParserTest, FoldsIdenticalContentLengths) {
  for (const char* text :
       {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005,5\r\n\r\n"}) {
    RequestHead head;
    const Parsed r = parse(text, head);
    ASSERT_EQ(r.status, ParseStatus::Done) << text << describe(r.error);
    EXPECT_EQ(head.framing, BodyFraming::ContentLength);
    EXPECT_EQ(head.contentLength, 5u);
  }
}

TEST(ParserTest, AcceptsChunkedAndZeroLength) {
  RequestHead head;
  ASSERT_EQ(
      parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n\r\n", head).status,
      ParseStatus::Done);
  EXPECT_EQ(head.framing, BodyFraming::Chunked);
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", head).status,
            ParseStatus::Done);
  EXPECT_EQ(head.framing, BodyFraming::ContentLength);
  EXPECT_EQ(head.contentLength, 0u);
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", head)
                .status,
            ParseStatus::Done);
  EXPECT_EQ(head.contentLength, 9223372036854775807u);
}

TEST(ParserTest, AcceptsOddButValidBytes) {
  RequestHead head;
  const std::string text = "M-SEARCH /~a/%20b!$&'()*+,;=:@[]{}|^`\"<>\\ HTTP/1.1\r\n"
                           "Host: [::1]:8080\r\n"
                           "X-Obs: caf\xc3\xa9 \xff\r\n"
                           "X-Tab:\tleft\tinner\t\r\n"
                           "!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n";
  const Parsed r = parse(text, head);
  ASSERT_EQ(r.status, ParseStatus::Done) << describe(r.error);
  EXPECT_EQ(head.method, "M-SEARCH");
  EXPECT_EQ(head.headers[1].value, "caf\xc3\xa9 \xff");
  EXPECT_EQ(head.headers[2].value, "left\tinner");
  EXPECT_EQ(head.headers[3].name, "!#$%&'*+-.^_`|~09azAZ");
}

TEST(ParserTest, SkipsAFewLeadingEmptyLines) {
  const std::string text = "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(text, head).status, ParseStatus::Done);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.headBytes, text.size());
}

TEST(ParserTest, HostValueBytesAtEveryPositionAndLength) {
  // The Host check runs 16 bytes at a time when 16 can be read (the value, then what follows it
  // in the buffer) and byte by byte otherwise: every byte a field value may hold, at positions
  // on both sides of 16, in short and long values, with the Host field last (little readable
  // after it) and first. Accepted exactly when the byte table says kHost.
  std::vector<unsigned char> bytes;
  for (int b = 0x21; b <= 0xFF; ++b) {
    if (b != 0x7F) {
      bytes.push_back(static_cast<unsigned char>(b));
    }
  }
  for (const size_t size : {1u, 5u, 15u, 16u, 17u, 31u, 40u}) {
    for (size_t position = 0; position < size; position += (position < 18 ? 1 : 7)) {
      for (const bool hostLast : {true, false}) {
        for (const unsigned char b : bytes) {
          std::string host(size, 'a');
          host[size / 2 == position ? (position + 1) % size : size / 2] = '9';
          host[position] = static_cast<char>(b);
          const std::string hostField = "Host: " + host + "\r\n";
          const std::string text = "GET / HTTP/1.1\r\n" + (hostLast ? "" : hostField) + "X: y\r\n" +
                                   (hostLast ? hostField : "") + "\r\n";
          RequestHead head;
          const Parsed r = parse(text, head);
          const bool allowed = detail::is(static_cast<char>(b), detail::kHost);
          ASSERT_EQ(r.status, allowed ? ParseStatus::Done : ParseStatus::Error)
              << "byte " << int(b) << " at " << position << " of " << size;
          if (allowed) {
            EXPECT_EQ(head.host, host);
          } else {
            EXPECT_EQ(r.error, ParseError::BadHeaderValue);
          }
        }
      }
    }
  }
}

TEST(ParserTest, HttpTenWithoutHostIsFine) {
  RequestHead head;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", head).status, ParseStatus::Done);
  EXPECT_EQ(head.versionMinor, 0);
  EXPECT_EQ(head.host, "");
  EXPECT_TRUE(head.headers.empty());
}

TEST(ParserTest, LimitsAreInclusive) {
  Limits limits;
  limits.maxRequestLine = 20; // "GET /aaaaaa HTTP/1.1" is 20 bytes
  limits.maxHeaders = 2;
  const std::string text = "GET /aaaaaa HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
  limits.maxHeadBytes = static_cast<uint32_t>(text.size());
  RequestHead head;
  const Parsed r = parse(text, head, limits);
  ASSERT_EQ(r.status, ParseStatus::Done) << describe(r.error);
  limits.maxRequestLine = 19;
  EXPECT_EQ(parse(text, head, limits).error, ParseError::UriTooLong);
  limits.maxRequestLine = 20;
  limits.maxHeadBytes -= 1;
  EXPECT_EQ(parse(text, head, limits).error, ParseError::HeadTooLarge);
  limits.maxHeadBytes += 1;
  limits.maxHeaders = 1;
  EXPECT_EQ(parse(text, head, limits).error, ParseError::TooManyHeaders);
}

TEST(ParserTest, ReusesHeaderCapacity) {
  RequestHead head;
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  ASSERT_EQ(parse(text, head).status, ParseStatus::Done);
  const auto* data = head.headers.data();
  const size_t capacity = head.headers.capacity();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(parse(text, head).status, ParseStatus::Done);
  }
  EXPECT_EQ(head.headers.data(), data);
  EXPECT_EQ(head.headers.capacity(), capacity);
}

std::vector<std::string> validHeads() {
  return {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "POST /submit?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 5, 5\r\n"
      "Content-Type: text/plain\r\nX-Tab:\ta\tb \r\n\r\n",
      "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
      "GET http://h:1/p HTTP/1.1\r\nHost: h:1\r\nConnection: keep-alive, x-foo\r\nX-Foo: 1\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: " + std::string(60, 'u') +
          "\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
      "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
  };
}

TEST(ParserTest, NeedMoreAtEveryPrefixOfAValidHead) {
  for (const std::string& text : validHeads()) {
    RequestHead head;
    const Parsed full = parse(text, head);
    ASSERT_EQ(full.status, ParseStatus::Done) << text << describe(full.error);
    ASSERT_EQ(head.headBytes, text.size());
    for (size_t n = 0; n < text.size(); ++n) {
      const Parsed r = parse(std::string_view(text).substr(0, n), head);
      EXPECT_EQ(r.status, ParseStatus::NeedMore)
          << "prefix " << n << " of " << text << ": " << describe(r.error);
    }
  }
}

TEST(ParserTest, HeadMayAdvanceOnlyOnNewLineOrLimit) {
  Limits limits;
  limits.maxHeadBytes = 32;
  EXPECT_FALSE(headMayAdvance("GET / HTTP/1.1", 5, limits));
  EXPECT_TRUE(headMayAdvance("GET / HTTP/1.1\r\n", 14, limits));
  EXPECT_FALSE(headMayAdvance("GET / HTTP/1.1\r\n", 16, limits));
  EXPECT_TRUE(headMayAdvance(std::string(33, 'a'), 33, limits));
  // Trickling a head byte by byte and re-parsing only when told gives the same result.
  const std::string text = validHeads()[2];
  limits = Limits{};
  size_t parsed = 0;
  int parses = 0;
  RequestHead head;
  ParseStatus status = ParseStatus::NeedMore;
  for (size_t n = 1; n <= text.size() && status == ParseStatus::NeedMore; ++n) {
    const std::string_view buf = std::string_view(text).substr(0, n);
    if (!headMayAdvance(buf, parsed, limits)) {
      continue;
    }
    parsed = n;
    ++parses;
    status = parse(buf, head, limits).status;
  }
  EXPECT_EQ(status, ParseStatus::Done);
  EXPECT_LE(parses, 7); // one per line
}

// ---- responses --------------------------------------------------------------------------------

struct ResponseCase {
  std::string text;
  bool isHead;
  BodyFraming framing;
  uint64_t contentLength;
  bool keepAlive;
};

TEST(ParserTest, ResponseFraming) {
  using F = BodyFraming;
  const std::vector<ResponseCase> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, F::ContentLength, 10, true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10, 10\r\n\r\n", false, F::ContentLength, 10, true},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, F::Chunked, 0, true},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, F::Chunked, 0, true},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, F::UntilClose, 0, false},
      {"HTTP/1.1 200 OK\r\n\r\n", false, F::UntilClose, 0, false},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, F::ContentLength,
       1, false},
      {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, F::None, 5, true},
      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false, F::None, 100, true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, F::None, 100, true},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, F::None, 0, true},
      {"HTTP/1.1 100 Continue\r\n\r\n", false, F::None, 0, true},
      {"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
       false, F::None, 0, true},
      {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false, F::ContentLength, 2, false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", false,
       F::ContentLength, 2, true},
      {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, F::ContentLength, 0, true},
      {"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, F::ContentLength, 0, true},
      {"HTTP/1.1 599 Whatever\tit is \xff\r\nContent-Length: 0\r\n\r\n", false, F::ContentLength, 0,
       true},
  };
  for (const ResponseCase& c : cases) {
    ResponseHead head;
    const Parsed r = parseResponse(c.text, head, c.isHead);
    ASSERT_EQ(r.status, ParseStatus::Done) << c.text << describe(r.error);
    EXPECT_EQ(head.framing, c.framing) << c.text;
    EXPECT_EQ(head.contentLength, c.contentLength) << c.text;
    EXPECT_EQ(head.keepAlive, c.keepAlive) << c.text;
    EXPECT_EQ(head.headBytes, c.text.size());
    for (size_t n = 0; n < c.text.size(); ++n) {
      EXPECT_EQ(parseResponse(std::string_view(c.text).substr(0, n), head, c.isHead).status,
                ParseStatus::NeedMore)
          << c.text << " prefix " << n;
    }
  }
}

TEST(ParserTest, ResponseStatusLine) {
  ResponseHead head;
  ASSERT_EQ(parseResponse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", head).status,
            ParseStatus::Done);
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.reason, "Not Found");
  EXPECT_EQ(head.versionMinor, 1);
}

TEST(ParserTest, RejectsMalformedResponses) {
  using E = ParseError;
  const std::vector<std::pair<std::string, ParseError>> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::ContentLengthWithTransferEncoding},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       E::ConflictingContentLength},
      {"HTTP/1.1 304 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       E::ConflictingContentLength},
      {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", E::BadContentLength},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", E::BadTransferEncoding},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", E::BadTransferEncoding},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n", E::UnreliableTransferEncoding},
      {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", E::UnreliableTransferEncoding},
      {"HTTP/1.1 999 OK\r\n\r\n", E::BadStatusLine},
      {"HTTP/1.1 099 OK\r\n\r\n", E::BadStatusLine},
      {"HTTP/1.1 20 OK\r\n\r\n", E::BadStatusLine},
      {"HTTP/1.1 2000 OK\r\n\r\n", E::BadStatusLine},
      {"HTTP/1.1  200 OK\r\n\r\n", E::BadStatusLine},
      {"HTTP/2 200 OK\r\n\r\n", E::BadStatusLine},
      {"http/1.1 200 OK\r\n\r\n", E::BadStatusLine},
      {"HTTP/2.0 200 OK\r\n\r\n", E::UnsupportedVersion},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", E::BadStatusLine},
      {"HTTP/1.1 200 OK\n\r\n", E::BareLineFeed},
      {"HTTP/1.1 200 OK\rX\r\n", E::BareLineFeed},
      {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", E::ObsFold},
      {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", E::BadHeaderName},
      {"HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n"s, E::BadHeaderValue},
  };
  for (const auto& [text, want] : cases) {
    ResponseHead head;
    const Parsed r = parseResponse(text, head);
    EXPECT_EQ(r.status, ParseStatus::Error) << text;
    EXPECT_EQ(static_cast<int>(r.error), static_cast<int>(want)) << text << describe(r.error);
  }
  Limits limits;
  limits.maxHeadBytes = 64;
  ResponseHead head;
  EXPECT_EQ(
      parseResponse("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a'), head, false, limits).error,
      E::HeadTooLarge);
}

// ---- helpers ----------------------------------------------------------------------------------

TEST(ParserTest, IequalsAndHopByHop) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("Content-Length", "content-lengtH2"));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_TRUE(iequals("", ""));
  for (const char* name : {"Connection", "keep-alive", "TE", "Trailer", "transfer-encoding",
                           "Upgrade", "Proxy-Connection"}) {
    EXPECT_TRUE(isHopByHop(name, "")) << name;
  }
  EXPECT_FALSE(isHopByHop("X-Foo", ""));
  EXPECT_FALSE(isHopByHop("X-Foo", "close"));
  EXPECT_TRUE(isHopByHop("X-Foo", "close, x-foo"));
  EXPECT_TRUE(isHopByHop("x-bar", " X-Foo ,X-Bar "));
  EXPECT_FALSE(isHopByHop("X-Fo", "x-foo"));
  EXPECT_FALSE(isHopByHop("Host", "keep-alive"));
}

TEST(ParserTest, FieldValidators) {
  EXPECT_TRUE(isValidFieldName("X-Custom_1"));
  EXPECT_FALSE(isValidFieldName(""));
  EXPECT_FALSE(isValidFieldName("X Custom"));
  EXPECT_FALSE(isValidFieldName("X:"));
  EXPECT_TRUE(isValidFieldValue(""));
  EXPECT_TRUE(isValidFieldValue("a b\tc \xe2\x9c\x93"));
  EXPECT_FALSE(isValidFieldValue(" a"));
  EXPECT_FALSE(isValidFieldValue("a\r\nInjected: 1"));
  EXPECT_FALSE(isValidFieldValue("a\x7f"));
}

TEST(ParserTest, EveryErrorHasStatusAndDescription) {
  for (int e = 1; e <= static_cast<int>(ParseError::UnreliableTransferEncoding); ++e) {
    const auto error = static_cast<ParseError>(e);
    EXPECT_GE(statusFor(error), 400);
    EXPECT_LT(statusFor(error), 600);
    EXPECT_FALSE(describe(error).empty());
  }
  EXPECT_EQ(statusFor(ParseError::None), 0);
  EXPECT_EQ(describe(ParseError::ContentLengthWithTransferEncoding),
            "Content-Length together with Transfer-Encoding");
}

} // namespace
} // namespace fulcrum::http
