#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/http/parser.h"

namespace fulcrum::http {
namespace {

struct Outcome {
  size_t consumed = 0;
  uint64_t dataBytes = 0;
  bool done = false;
  bool error = false;
  std::string payload; // via feedPayload

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{consumed " << o.consumed << ", data " << o.dataBytes << ", done " << o.done
            << ", error " << o.error << "}";
}

// Feeds `body` in pieces cut at `cuts` (ascending offsets), the way a connection would: after
// done or an error, nothing more is fed.
Outcome feedSplit(std::string_view body, const std::vector<size_t>& cuts) {
  ChunkedDecoder decoder;
  Outcome o;
  size_t from = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t to = i < cuts.size() ? cuts[i] : body.size();
    const auto step = decoder.feed(body.substr(from, to - from));
    o.consumed += step.consumed;
    o.dataBytes += step.dataBytes;
    if (step.error != ParseError::None) {
      o.error = true;
      return o;
    }
    if (step.done) {
      o.done = true;
      EXPECT_TRUE(decoder.done());
      return o;
    }
    EXPECT_EQ(step.consumed, to - from); // until done, every byte belongs to the body
    from = to;
  }
  return o;
}

Outcome feedWhole(std::string_view body) {
  return feedSplit(body, {});
}

// De-chunks with feedPayload, byte by byte or whole.
Outcome dechunk(std::string_view body, size_t piece) {
  ChunkedDecoder decoder;
  Outcome o;
  size_t from = 0;
  while (from < body.size()) {
    std::string_view in = body.substr(from, std::min(piece, body.size() - from));
    from += in.size();
    while (!in.empty()) {
      std::string_view payload;
      const auto step = decoder.feedPayload(in, payload);
      o.payload.append(payload);
      o.consumed += step.consumed;
      o.dataBytes += step.dataBytes;
      if (step.error != ParseError::None) {
        o.error = true;
        return o;
      }
      if (step.done) {
        o.done = true;
        return o;
      }
      in.remove_prefix(step.consumed);
    }
  }
  return o;
}

const std::string kBody = "5\r\nhello\r\n"
                          "1A;name=value;quoted=\"a \tb c\xff\";bare\r\n"
                          "abcdefghijklmnopqrstuvwxyz\r\n"
                          "000f;ext=tok;x=\"\"\r\n"
                          "0123456789ABCDE\r\n"
                          "0\r\n"
                          "Trailer-One: v1\r\n"
                          "X-Checksum:\tabc \xff\r\n"
                          "\r\n";

TEST(ChunkedDecoderTest, DecodesAWholeBody) {
  const Outcome o = feedWhole(kBody + "GET / HTTP/1.1\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_FALSE(o.error);
  EXPECT_EQ(o.consumed, kBody.size());
  EXPECT_EQ(o.dataBytes, 5u + 26u + 15u);
}

TEST(ChunkedDecoderTest, EveryTwoWaySplitGivesTheSameResult) {
  const std::string input = kBody + "NEXT";
  const Outcome whole = feedWhole(input);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(feedSplit(input, {cut}), whole) << "cut at " << cut;
  }
}

TEST(ChunkedDecoderTest, ByteAtATimeGivesTheSameResult) {
  const std::string input = kBody + "NEXT";
  std::vector<size_t> cuts;
  for (size_t i = 1; i < input.size(); ++i) {
    cuts.push_back(i);
  }
  EXPECT_EQ(feedSplit(input, cuts), feedWhole(input));
}

TEST(ChunkedDecoderTest, RandomSplitsGiveTheSameResultForGoodAndBadBodies) {
  const std::vector<std::string> bodies = {
      kBody,
      "3\r\nabc\r\n0\r\n\r\n",
      "3\r\nabcX\r\n0\r\n\r\n",
      "3\r\nabc\r\n0\r\nBad Trailer: x\r\n\r\n",
      "2;a=\"unterminated\r\nab\r\n0\r\n\r\n",
      "ffffffffffffffffff\r\n",
      "0\r\nContent-Lengthy: 1\r\nContent-Length: 1\r\n\r\n",
  };
  std::mt19937 rng(42);
  for (const std::string& body : bodies) {
    const Outcome whole = feedWhole(body);
    for (int round = 0; round < 200; ++round) {
      std::vector<size_t> cuts;
      for (size_t i = 1; i < body.size(); ++i) {
        if (rng() % 4 == 0) {
          cuts.push_back(i);
        }
      }
      ASSERT_EQ(feedSplit(body, cuts), whole) << body;
    }
  }
}

TEST(ChunkedDecoderTest, FeedPayloadStripsTheCoding) {
  for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, kBody.size()}) {
    const Outcome o = dechunk(kBody, piece);
    EXPECT_TRUE(o.done) << piece;
    EXPECT_EQ(o.payload, "hello"
                         "abcdefghijklmnopqrstuvwxyz"
                         "0123456789ABCDE")
        << piece;
    EXPECT_EQ(o.consumed, kBody.size()) << piece;
  }
}

TEST(ChunkedDecoderTest, AcceptsValidSizeLines) {
  for (const char* body : {"0\r\n\r\n", "00000\r\n\r\n", "A\r\n0123456789\r\n0\r\n\r\n",
                           "a\r\n0123456789\r\n0\r\n\r\n", "0;a\r\n\r\n", "0;a=b\r\n\r\n",
                           "0;a=\"\"\r\n\r\n", "0;a;b;c=d\r\n\r\n", "0;a=\"x;y=z\"\r\n\r\n",
                           "0\r\nContent-Length-X: 1\r\nContent-Lengt: 1\r\n\r\n",
                           "0\r\nTransfer-Encodings: x\r\nA: b\r\nB:\r\n\r\n"}) {
    const Outcome o = feedWhole(body);
    EXPECT_TRUE(o.done) << body;
    EXPECT_FALSE(o.error) << body;
  }
  // 2^63 - 1 is the largest size: accepted, then waits for data.
  const Outcome big = feedWhole("7fffffffffffffff\r\nabc");
  EXPECT_FALSE(big.error);
  EXPECT_FALSE(big.done);
  EXPECT_EQ(big.dataBytes, 3u);
}

TEST(ChunkedDecoderTest, RejectsMalformedBodies) {
  const std::vector<std::string> bad = {
      "\r\n",                                     // empty size
      "x\r\n",                                    // non-hex
      "-1\r\n",                                   // sign
      "0x5\r\n",                                  // C hex prefix
      "8000000000000000\r\n",                     // 2^63
      "ffffffffffffffffff\r\n",                   // overflow
      "5 \r\nhello\r\n0\r\n\r\n",                 // trailing whitespace without extension
      "5\nhello\r\n0\r\n\r\n",                    // bare LF after size
      "5\rhello\r\n0\r\n\r\n",                    // bare CR after size
      "3\r\nabcX\r\n",                            // data longer than the size
      "3\r\nabc\n0\r\n\r\n",                      // bare LF after data
      "3\r\nabc\r\r\n",                           // CR CR
      "0;\r\n\r\n",                               // empty extension name
      "0;a=\r\n\r\n",                             // empty extension value
      "0;a b\r\n\r\n",                            // whitespace inside the extension
      "0 ;a\r\n\r\n",                             // BWS before ";"
      "0; a\r\n\r\n",                             // BWS after ";"
      "0;a =b\r\n\r\n",                           // BWS before "="
      "0;a= b\r\n\r\n",                           // BWS after "="
      "0;a=b \r\n\r\n",                           // trailing whitespace
      "0;;a\r\n\r\n",                             // empty extension
      "0;a=\"x\\\"y\"\r\n\r\n",                   // quoted-pair
      "0;a=b c\r\n\r\n",                          // two values
      "0;a=\"x\ny\"\r\n\r\n",                     // LF in a quoted string
      "0;a=\"x\r\n\"\r\n\r\n",                    // CRLF in a quoted string
      "0;a=\"x\"y\r\n\r\n",                       // garbage after the quoted string
      "0;a=\"x\x01\"\r\n\r\n",                    // CTL in a quoted string
      "0;a\x01\r\n\r\n",                          // CTL in an extension
      "0;" + std::string(5000, 'a') + "\r\n\r\n", // size line over 4 KiB
      "0\r\n\n",                                  // bare LF final line
      "0\r\n\r",                                  // then a bad byte
      "0\r\nX: a\n\r\n",                          // bare LF in a trailer
      "0\r\n X: a\r\n\r\n",                       // obs-fold / leading whitespace
      "0\r\nX : a\r\n\r\n",                       // space before the colon
      "0\r\n: a\r\n\r\n",                         // empty trailer name
      "0\r\nX\r\n\r\n",                           // no colon
      "0\r\nX: a\x01\r\n\r\n",                    // CTL in a trailer value
      "0\r\nContent-Length: 5\r\n\r\n",           // framing fields in trailers
      "0\r\ntransfer-encoding: chunked\r\n\r\n",
      "0\r\nX: a\rb\r\n\r\n",                            // bare CR in a trailer value
      "0\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", // trailers over 16 KiB
  };
  for (const std::string& body : bad) {
    const Outcome o = feedWhole(body + "\r\n");
    EXPECT_TRUE(o.error) << body.substr(0, 64);
    EXPECT_FALSE(o.done) << body.substr(0, 64);
  }
}

TEST(ChunkedDecoderTest, StaysDoneOrFailedAndResets) {
  ChunkedDecoder decoder;
  auto step = decoder.feed("0\r\n\r\nmore");
  EXPECT_TRUE(step.done);
  EXPECT_EQ(step.consumed, 5u);
  step = decoder.feed("0\r\n\r\n");
  EXPECT_TRUE(step.done);
  EXPECT_EQ(step.consumed, 0u);

  decoder.reset();
  step = decoder.feed("3\r\nab");
  EXPECT_EQ(step.consumed, 5u);
  EXPECT_EQ(step.dataBytes, 2u);
  step = decoder.feed("cX");
  EXPECT_EQ(step.error, ParseError::BadChunk);
  EXPECT_EQ(step.consumed, 1u); // the valid "c"
  EXPECT_TRUE(decoder.failed());
  step = decoder.feed("\r\n");
  EXPECT_EQ(step.error, ParseError::BadChunk);
  EXPECT_EQ(step.consumed, 0u);

  decoder.reset();
  EXPECT_FALSE(decoder.failed());
  EXPECT_TRUE(decoder.feed("0\r\n\r\n").done);
}

} // namespace
} // namespace fulcrum::http
