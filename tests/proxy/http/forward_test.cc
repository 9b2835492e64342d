#include "proxy/http/forward.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fulcrum::http {
namespace {

// The head views `text`: keep it alive while using the head.
RequestHead parseRequest(const std::string& text) {
  RequestHead head;
  ParseError error = ParseError::None;
  EXPECT_EQ(parseRequestHead(text, Limits{}, head, error), ParseStatus::Done) << describe(error);
  return head;
}

ResponseHead parseResponse(const std::string& text, bool isHead = false) {
  ResponseHead head;
  ParseError error = ParseError::None;
  EXPECT_EQ(parseResponseHead(text, Limits{}, isHead, head, error), ParseStatus::Done)
      << describe(error);
  return head;
}

std::string upstream(const std::string& text, const ForwardOptions& options) {
  const RequestHead head = parseRequest(text);
  std::string out;
  writeUpstreamRequestHead(head, options, out);
  // What we send must itself pass our parser, with the same framing.
  RequestHead again;
  ParseError error = ParseError::None;
  EXPECT_EQ(parseRequestHead(out, Limits{}, again, error), ParseStatus::Done)
      << describe(error) << "\n"
      << out;
  EXPECT_EQ(again.framing, head.framing);
  EXPECT_EQ(again.contentLength, head.contentLength);
  EXPECT_EQ(again.headBytes, out.size());
  return out;
}

TEST(ForwardTest, WritesRequestHeadWithManagedFields) {
  ForwardOptions o;
  o.peerAddress = "10.0.0.7";
  o.generatedRequestId = "gen-1";
  const std::string out = upstream("POST /api?x=1 HTTP/1.1\r\nHost: api.example.com\r\n"
                                   "User-Agent: t\r\nContent-Length: 3\r\n\r\n",
                                   o);
  EXPECT_EQ(out, "POST /api?x=1 HTTP/1.1\r\n"
                 "Host: api.example.com\r\n"
                 "User-Agent: t\r\n"
                 "X-Forwarded-For: 10.0.0.7\r\n"
                 "X-Forwarded-Proto: http\r\n"
                 "X-Request-Id: gen-1\r\n"
                 "Content-Length: 3\r\n"
                 "\r\n");
}

TEST(ForwardTest, RemovesHopByHopFieldsIncludingThoseNamedInConnection) {
  const std::string out = upstream(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret , x-other\r\n"
      "Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Connection: close\r\n"
      "Upgrade: websocket\r\nX-Secret: s\r\nX-Other: o\r\nX-Kept: k\r\n\r\n",
      ForwardOptions{});
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: k\r\nX-Forwarded-Proto: http\r\n\r\n");
}

TEST(ForwardTest, AppendsToXForwardedForAndOverwritesProto) {
  ForwardOptions o;
  o.peerAddress = "192.0.2.1";
  o.https = true;
  const std::string out =
      upstream("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9, 198.51.100.2\r\n"
               "X-Forwarded-Proto: http\r\nX-Forwarded-For: 198.51.100.3\r\n\r\n",
               o);
  EXPECT_NE(out.find("X-Forwarded-For: 203.0.113.9, 198.51.100.2, 198.51.100.3, 192.0.2.1\r\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: https\r\n"), std::string::npos);
  EXPECT_EQ(out.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_EQ(out.find("X-Forwarded-For", out.find("X-Forwarded-For") + 1), std::string::npos);
}

TEST(ForwardTest, XffNamedInConnectionIsDroppedNotHonoured) {
  ForwardOptions o;
  o.peerAddress = "192.0.2.1";
  const std::string out = upstream("GET / HTTP/1.1\r\nHost: a\r\nConnection: "
                                   "X-Forwarded-For\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
                                   o);
  EXPECT_NE(out.find("X-Forwarded-For: 192.0.2.1\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("1.1.1.1"), std::string::npos);
}

TEST(ForwardTest, KeepsASaneRequestIdAndReplacesOthers) {
  ForwardOptions o;
  o.generatedRequestId = "generated";
  const std::string base = "GET / HTTP/1.1\r\nHost: a\r\n";
  EXPECT_NE(upstream(base + "X-Request-Id: abc-123\r\n\r\n", o).find("X-Request-Id: abc-123\r\n"),
            std::string::npos);
  for (const std::string& bad :
       {base + "X-Request-Id: has space\r\n\r\n",
        base + "X-Request-Id: " + std::string(201, 'a') + "\r\n\r\n",
        base + "X-Request-Id: caf\xc3\xa9\r\n\r\n", base + "X-Request-Id:\r\n\r\n",
        base + "X-Request-Id: a\r\nX-Request-Id: b\r\n\r\n"}) {
    const std::string out = upstream(bad, o);
    EXPECT_NE(out.find("X-Request-Id: generated\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("X-Request-Id", out.find("X-Request-Id") + 1), std::string::npos) << out;
  }
  EXPECT_EQ(
      requestIdFor(parseRequest(base + "X-Request-Id: " + std::string(200, 'a') + "\r\n\r\n"), "g"),
      std::string(200, 'a'));
  EXPECT_EQ(requestIdFor(parseRequest(base + "\r\n"), "g"), "g");
  // No generated id: an insane client id is dropped, not forwarded.
  const std::string out = upstream(base + "X-Request-Id: a b\r\n\r\n", ForwardOptions{});
  EXPECT_EQ(out.find("X-Request-Id"), std::string::npos) << out;
}

TEST(ForwardTest, ReplacesTraceparentAndDropsTracestateOnRequest) {
  const std::string base = "GET / HTTP/1.1\r\nHost: h\r\n";
  const std::string incoming =
      base + "TraceParent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
             "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01\r\n"
             "tracestate: a=1\r\nX-Other: 1\r\nTracestate: b=2\r\n\r\n";
  const std::string ours = "00-4bf92f3577b34da6a3ce929d0e0e4736-2222222222222222-01";
  ForwardOptions o;
  o.traceparent = ours;
  std::string out = upstream(incoming, o);
  EXPECT_EQ(out.find("00f067aa0ba902b7"), std::string::npos) << out;
  EXPECT_EQ(out.find("1111111111111111"), std::string::npos) << out;
  EXPECT_NE(out.find("traceparent: " + ours + "\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("tracestate: a=1\r\nX-Other: 1\r\nTracestate: b=2\r\n"), std::string::npos)
      << out;

  o.dropTracestate = true;
  out = upstream(incoming, o);
  EXPECT_EQ(out.find("racestate"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Other: 1\r\n"), std::string::npos) << out;

  // Without a value of the proxy's own, Trace Context fields pass through untouched.
  out = upstream(incoming, ForwardOptions{});
  EXPECT_NE(out.find("TraceParent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("tracestate: a=1\r\n"), std::string::npos) << out;
}

TEST(ForwardTest, AbsoluteFormBecomesOriginForm) {
  const std::string out =
      upstream("GET http://real.example:8080/p?q HTTP/1.1\r\nHost: spoofed\r\n\r\n", {});
  EXPECT_EQ(out.substr(0, out.find("\r\n\r\n") + 4),
            "GET /p?q HTTP/1.1\r\nHost: real.example:8080\r\nX-Forwarded-Proto: http\r\n\r\n");
  EXPECT_EQ(upstream("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", {}).substr(0, 16),
            "GET / HTTP/1.1\r\n");
  EXPECT_EQ(upstream("GET http://h?a=b HTTP/1.1\r\nHost: h\r\n\r\n", {}).substr(0, 20),
            "GET /?a=b HTTP/1.1\r\n");
}

TEST(ForwardTest, OverridesPathAndHost) {
  ForwardOptions o;
  o.pathOverride = "/v2/items?x=1";
  o.hostOverride = "backend.internal";
  const std::string out = upstream("GET /v1/items?x=1 HTTP/1.1\r\nHost: api\r\n\r\n", o);
  EXPECT_EQ(out, "GET /v2/items?x=1 HTTP/1.1\r\nHost: backend.internal\r\n"
                 "X-Forwarded-Proto: http\r\n\r\n");
  // HTTP/1.0 without Host gets an (empty) Host upstream, as HTTP/1.1 requires.
  EXPECT_EQ(upstream("GET / HTTP/1.0\r\n\r\n", {}),
            "GET / HTTP/1.1\r\nHost: \r\nX-Forwarded-Proto: http\r\n\r\n");
}

TEST(ForwardTest, AppliesHeaderEditsButNotToManagedFields) {
  const std::string_view remove[] = {"x-drop", "Host", "X-Forwarded-For"};
  const HeaderField set[] = {{"X-Set", "new"}, {"Content-Length", "99"}, {"Connection", "x"}};
  const HeaderField add[] = {{"X-Add", "1"}, {"X-Set", "again"}, {"Transfer-Encoding", "chunked"}};
  ForwardOptions o;
  o.edits = {remove, set, add};
  o.peerAddress = "p";
  const std::string out = upstream("POST / HTTP/1.1\r\nHost: a\r\nX-Drop: 1\r\nx-set: old\r\n"
                                   "X-Keep: k\r\nX-Forwarded-For: c\r\nContent-Length: 2\r\n\r\n",
                                   o);
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: a\r\nX-Keep: k\r\nX-Set: new\r\nX-Add: 1\r\n"
                 "X-Set: again\r\nX-Forwarded-For: c, p\r\nX-Forwarded-Proto: http\r\n"
                 "Content-Length: 2\r\n\r\n");
}

TEST(ForwardTest, ReemitsChunkedAndHandlesUpgrade) {
  EXPECT_NE(upstream("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", {})
                .find("Transfer-Encoding: chunked\r\n\r\n"),
            std::string::npos);
  const std::string ws =
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: k\r\n\r\n";
  const std::string stripped = upstream(ws, {});
  EXPECT_EQ(stripped.find("Upgrade"), std::string::npos) << stripped;
  ForwardOptions o;
  o.allowUpgrade = true;
  const std::string kept = upstream(ws, o);
  EXPECT_NE(kept.find("Connection: upgrade\r\nUpgrade: websocket\r\n"), std::string::npos) << kept;
  o = {};
  o.closeUpstream = true;
  EXPECT_NE(upstream("GET / HTTP/1.1\r\nHost: a\r\n\r\n", o).find("Connection: close\r\n"),
            std::string::npos);
}

TEST(ForwardTest, AppendsWithoutClearingAndWithoutReallocatingOnceWarm) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n";
  const RequestHead head = parseRequest(text); // views `text`
  std::string out = "prefix|";
  writeUpstreamRequestHead(head, {}, out);
  EXPECT_EQ(out.rfind("prefix|GET / HTTP/1.1\r\n", 0), 0u);
  out.clear();
  writeUpstreamRequestHead(head, {}, out);
  const char* data = out.data();
  for (int i = 0; i < 5; ++i) {
    out.clear();
    writeUpstreamRequestHead(head, {}, out);
  }
  EXPECT_EQ(out.data(), data);
}

TEST(ForwardTest, ClientAddressFromXff) {
  EXPECT_EQ(clientAddressFromXff("1.1.1.1, 2.2.2.2", "9.9.9.9", 0), "9.9.9.9");
  EXPECT_EQ(clientAddressFromXff("1.1.1.1, 2.2.2.2", "9.9.9.9", 1), "2.2.2.2");
  EXPECT_EQ(clientAddressFromXff("1.1.1.1, 2.2.2.2", "9.9.9.9", 2), "1.1.1.1");
  EXPECT_EQ(clientAddressFromXff("1.1.1.1, 2.2.2.2", "9.9.9.9", 3), "1.1.1.1");
  EXPECT_EQ(clientAddressFromXff(" 1.1.1.1 ,, 2.2.2.2 ,", "9.9.9.9", 2), "1.1.1.1");
  EXPECT_EQ(clientAddressFromXff("", "9.9.9.9", 1), "9.9.9.9");
  EXPECT_EQ(clientAddressFromXff(" , ", "9.9.9.9", 1), "9.9.9.9");

  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n"
                           "X-Forwarded-For: 3.3.3.3\r\n\r\n";
  const RequestHead head = parseRequest(text);
  EXPECT_EQ(clientAddressFromXff(head, "9.9.9.9", 0), "9.9.9.9");
  EXPECT_EQ(clientAddressFromXff(head, "9.9.9.9", 1), "3.3.3.3");
  EXPECT_EQ(clientAddressFromXff(head, "9.9.9.9", 2), "2.2.2.2");
  EXPECT_EQ(clientAddressFromXff(head, "9.9.9.9", 3), "1.1.1.1");
  EXPECT_EQ(clientAddressFromXff(head, "9.9.9.9", 10), "1.1.1.1");
}

// ---- responses --------------------------------------------------------------------------------

std::string downstream(const std::string& text, const ResponseOptions& options,
                       ResponseDisposition* d = nullptr, bool isHead = false) {
  const ResponseHead head = parseResponse(text, isHead);
  std::string out;
  const ResponseDisposition disposition = writeDownstreamResponseHead(head, options, out);
  if (d != nullptr) {
    *d = disposition;
  }
  return out;
}

TEST(ForwardTest, WritesResponseHeadWithoutHopByHopFields) {
  ResponseDisposition d;
  const std::string out = downstream("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\n"
                                     "Keep-Alive: timeout=5\r\nX-Internal: 1\r\nServer: s\r\n"
                                     "Content-Length: 00012\r\n\r\n",
                                     {}, &d);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 12\r\n\r\n");
  EXPECT_FALSE(d.close);
  EXPECT_FALSE(d.dechunk);
}

TEST(ForwardTest, ResponseConnectionHandling) {
  const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n";
  ResponseDisposition d;
  ResponseOptions o;
  o.close = true;
  EXPECT_EQ(downstream(text, o, &d),
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(d.close);

  o = {};
  o.clientVersionMinor = 0;
  EXPECT_EQ(downstream(text, o, &d),
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_FALSE(d.close);
  o.clientKeepAlive = false;
  EXPECT_EQ(downstream(text, o, &d),
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(d.close);

  // Until-close bodies close the client connection too.
  EXPECT_EQ(downstream("HTTP/1.1 200 OK\r\n\r\n", {}, &d),
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(d.close);
}

TEST(ForwardTest, ResponseChunkedFraming) {
  ResponseDisposition d;
  EXPECT_EQ(
      downstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                 {}, &d),
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  EXPECT_FALSE(d.dechunk);
  ResponseOptions o;
  o.clientVersionMinor = 0;
  EXPECT_EQ(downstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", o, &d),
            "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(d.dechunk);
  EXPECT_TRUE(d.close);
}

TEST(ForwardTest, ResponseWithoutBodyKeepsLengthForHeadAnd304Only) {
  EXPECT_EQ(downstream("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", {}, nullptr, true),
            "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
  EXPECT_EQ(
      downstream("HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\nETag: \"x\"\r\n\r\n", {}),
      "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 42\r\n\r\n");
  EXPECT_EQ(downstream("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", {}),
            "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(downstream("HTTP/1.1 100 Continue\r\n\r\n", {}), "HTTP/1.1 100 Continue\r\n\r\n");
  // Upstream's empty reason gets the standard one.
  EXPECT_EQ(downstream("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", {}),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST(ForwardTest, ResponseUpgradeAndEdits) {
  const std::string text = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                           "Upgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n";
  ResponseOptions o;
  o.allowUpgrade = true;
  EXPECT_EQ(downstream(text, o), "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\n"
                                 "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  const std::string_view remove[] = {"server"};
  const HeaderField add[] = {{"X-Via", "fulcrum"}, {"Content-Length", "1"}};
  o = {};
  o.edits.remove = remove;
  o.edits.add = add;
  EXPECT_EQ(downstream("HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 0\r\n\r\n", o),
            "HTTP/1.1 200 OK\r\nX-Via: fulcrum\r\nContent-Length: 0\r\n\r\n");
}

TEST(ForwardTest, CopiesNamesAndValuesOfEveryLength) {
  // The writer copies short strings inline in size classes (1-3, 4-7, 8-15, 16-32, longer).
  std::string response = "HTTP/1.1 200 OK\r\n";
  std::vector<std::string> lines;
  for (size_t n = 1; n <= 70; ++n) {
    std::string name(n, 'n');
    name[0] = 'X';
    name[n - 1] = static_cast<char>('a' + n % 26);
    std::string value;
    for (size_t i = 0; i < n - 1; ++i) {
      value.push_back(static_cast<char>('0' + (i * 7 + n) % 10));
    }
    lines.push_back(name + ": " + value + "\r\n");
    response += lines.back();
  }
  response += "Content-Length: 0\r\n\r\n";
  const ResponseHead head = parseResponse(response);
  std::string out;
  writeDownstreamResponseHead(head, ResponseOptions{}, out);
  for (const std::string& line : lines) {
    EXPECT_NE(out.find("\r\n" + line), std::string::npos) << line;
  }
  EXPECT_EQ(out.size(), response.size());
}

TEST(ForwardTest, ErrorResponses) {
  std::string out;
  writeErrorResponse(503, "no healthy upstream\n", false, out);
  EXPECT_EQ(out, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 20\r\n\r\nno healthy upstream\n");
  out.clear();
  writeParseErrorResponse(ParseError::ContentLengthWithTransferEncoding, out);
  const std::string body = "400 Bad Request: Content-Length together with Transfer-Encoding\n";
  EXPECT_EQ(out, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  out.clear();
  writeParseErrorResponse(ParseError::HeadTooLarge, out);
  EXPECT_EQ(out.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u);
  EXPECT_NE(out.find("\r\n\r\n431 Request Header Fields Too Large: header section too large\n"),
            std::string::npos);
  ResponseHead head;
  ParseError error = ParseError::None;
  EXPECT_EQ(parseResponseHead(out, Limits{}, false, head, error), ParseStatus::Done);
  EXPECT_EQ(head.contentLength, out.size() - head.headBytes);
  EXPECT_EQ(reasonPhrase(799), "Unknown");
}

} // namespace
} // namespace fulcrum::http
