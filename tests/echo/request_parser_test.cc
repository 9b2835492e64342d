#include "echo/request_parser.h"

#include <string>

#include <gtest/gtest.h>

namespace fulcrum::echo {
namespace {

ParseResult parseAll(std::string_view text, RequestHead& head) {
  RequestParser parser;
  return parser.parse(text, head);
}

int errorStatus(std::string_view text) {
  RequestHead head;
  ParseResult result = parseAll(text, head);
  EXPECT_EQ(result.status, ParseStatus::Error) << text;
  return result.errorStatus;
}

TEST(RequestParserTest, ParsesHeadKeepingHeaderOrderAndCase) {
  std::string text = "POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-B:  two words \r\n"
                     "x-a: 1\r\nContent-Length: 5\r\n\r\nhello";
  RequestHead head;
  ParseResult result = parseAll(text, head);
  ASSERT_EQ(result.status, ParseStatus::Complete);
  EXPECT_EQ(result.consumed, text.size() - 5);
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.target, "/echo?x=1");
  EXPECT_EQ(head.version, "HTTP/1.1");
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(head.headers[1].name, "X-B");
  EXPECT_EQ(head.headers[1].value, "two words");
  EXPECT_EQ(head.headers[2].name, "x-a");
  EXPECT_EQ(head.framing, BodyFraming::ContentLength);
  EXPECT_EQ(head.contentLength, 5u);
  EXPECT_TRUE(head.keepAlive);
}

TEST(RequestParserTest, ResumesAcrossPartialReads) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser;
  RequestHead head;
  for (size_t n = 0; n < text.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(text).substr(0, n), head).status,
              ParseStatus::Incomplete)
        << n;
  }
  EXPECT_EQ(parser.parse(text, head).status, ParseStatus::Complete);
}

TEST(RequestParserTest, SkipsLeadingEmptyLines) {
  RequestHead head;
  ParseResult result = parseAll("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", head);
  ASSERT_EQ(result.status, ParseStatus::Complete);
  EXPECT_EQ(head.method, "GET");
}

TEST(RequestParserTest, ConnectionSemantics) {
  RequestHead head;
  ASSERT_EQ(parseAll("GET / HTTP/1.0\r\n\r\n", head).status, ParseStatus::Complete);
  EXPECT_FALSE(head.keepAlive);
  ASSERT_EQ(parseAll("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_TRUE(head.keepAlive);
  ASSERT_EQ(parseAll("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_FALSE(head.keepAlive);
}

TEST(RequestParserTest, ChunkedAndExpect) {
  RequestHead head;
  ASSERT_EQ(parseAll("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n"
                     "Expect: 100-continue\r\n\r\n",
                     head)
                .status,
            ParseStatus::Complete);
  EXPECT_EQ(head.framing, BodyFraming::Chunked);
  EXPECT_TRUE(head.expectContinue);
}

TEST(RequestParserTest, RejectsMalformedHeads) {
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);         // bare LF
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n"), 400); // obs-fold
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);      // space before colon
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\r\n\r\n"), 400); // no Host
  EXPECT_EQ(errorStatus("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(errorStatus("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(RequestParserTest, RejectsAmbiguousFraming) {
  EXPECT_EQ(errorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(errorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                        "Content-Length: 1\r\n\r\n"),
            400);
  EXPECT_EQ(errorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("POST / HTTP/1.1\r\nHost: a\r\n"
                        "Content-Length: 99999999999999999999999\r\n\r\n"),
            400);
  EXPECT_EQ(errorStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(errorStatus("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(RequestParserTest, RejectsOversizedHeads) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(kMaxHeadBytes, 'a');
  EXPECT_EQ(errorStatus(text), 431);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (size_t i = 0; i < kMaxHeaders; ++i) {
    many += "X: 1\r\n";
  }
  EXPECT_EQ(errorStatus(many + "\r\n"), 431);
}

// Feeds text one byte at a time and in one piece; both must agree.
ChunkedDecoder::Step decodeAll(std::string_view text, uint64_t& bytes, size_t& consumed) {
  ChunkedDecoder whole;
  ChunkedDecoder::Step step = whole.feed(text);
  ChunkedDecoder bytewise;
  size_t used = 0;
  ChunkedDecoder::Step last;
  for (size_t i = 0; i < text.size() && !last.done && !last.error; ++i) {
    last = bytewise.feed(text.substr(i, 1));
    used += last.consumed;
  }
  EXPECT_EQ(last.done, step.done);
  EXPECT_EQ(last.error, step.error);
  if (!step.error) {
    EXPECT_EQ(used, step.consumed);
    EXPECT_EQ(bytewise.dataBytes(), whole.dataBytes());
  }
  bytes = whole.dataBytes();
  consumed = step.consumed;
  return step;
}

TEST(ChunkedDecoderTest, CountsDataAndStopsAtTheEnd) {
  uint64_t bytes = 0;
  size_t consumed = 0;
  std::string body = "5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
  ChunkedDecoder::Step step = decodeAll(body + "GET", bytes, consumed);
  EXPECT_TRUE(step.done);
  EXPECT_EQ(bytes, 15u);
  EXPECT_EQ(consumed, body.size());
}

TEST(ChunkedDecoderTest, RejectsBadFraming) {
  uint64_t bytes = 0;
  size_t consumed = 0;
  for (std::string_view bad : {"x\r\n", "5\nhello\r\n0\r\n\r\n", "5\r\nhelloX\r\n", "\r\n",
                               "fffffffffffffffff\r\n", "0\r\n\n"}) {
    EXPECT_TRUE(decodeAll(bad, bytes, consumed).error) << bad;
  }
}

} // namespace
} // namespace fulcrum::echo
