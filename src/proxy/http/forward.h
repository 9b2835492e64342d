#pragma once

// Serialization of the message heads the proxy sends: the request head towards an upstream, the
// response head towards the client, and the proxy's own short error responses.
//
// Every writer appends to a caller-owned std::string (it never clears it): a worker keeps one
// output buffer per connection, clear()s it between messages and so writes without allocating
// once its capacity has grown to its largest head. Header edits and options are views; the
// caller keeps what they view alive for the call and must have validated configured names and
// values (isValidFieldName / isValidFieldValue) — the writers do not re-check them.
//
// Thread-safety: pure functions of their arguments.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/parser.h"

namespace fulcrum::http {

// Header edits of a route (Gateway API RequestHeaderModifier / ResponseHeaderModifier): fields
// named in `remove` or `set` (case-insensitively) are dropped from the message, then every `set`
// and `add` field is appended. Edits never touch the fields the writers manage themselves (Host,
// framing, hop-by-hop fields, X-Forwarded-For / -Proto, X-Request-Id): such names are ignored.
struct HeaderEdits {
  std::span<const std::string_view> remove;
  std::span<const HeaderField> set;
  std::span<const HeaderField> add;
};

struct ForwardOptions {
  // Non-empty: sent instead of the request's target (e.g. after a URL rewrite; path and query).
  std::string_view pathOverride;
  // Non-empty: sent as Host. Otherwise Host is the request's (RequestHead::host, i.e. the
  // authority of an absolute-form target).
  std::string_view hostOverride;
  HeaderEdits edits;
  // The immediate peer's address (IP text without port), appended to X-Forwarded-For. Always
  // the peer, whatever the listener's trusted hops: those only decide which address the proxy
  // itself believes (clientAddressFromXff). Empty: X-Forwarded-For is passed on unchanged.
  std::string_view peerAddress;
  bool https = false; // X-Forwarded-Proto: https or http (the client's value is overwritten)
  // Sent as X-Request-Id when the client sent none or one that is not sane (see requestIdFor).
  // Empty: a sane client id is passed on, an insane one dropped.
  std::string_view generatedRequestId;
  // W3C Trace Context of the proxy's hop. Non-empty: every traceparent field of the request is
  // dropped and this value sent instead. Empty: traceparent fields are passed on as they are.
  std::string_view traceparent;
  // Drop the request's tracestate fields (the traceparent was absent or invalid, so they describe
  // another trace). Otherwise tracestate is passed on unchanged.
  bool dropTracestate = false;
  // Keep "Connection: upgrade" and Upgrade for upgrade requests (RequestHead::upgrade);
  // otherwise they are stripped like any hop-by-hop field.
  bool allowUpgrade = false;
  // Send "Connection: close": the proxy will not reuse this upstream connection.
  bool closeUpstream = false;
};

// Appends the request head to send upstream:
//   METHOD SP target SP "HTTP/1.1" CRLF — target: pathOverride, else the origin-form of the
//     request's target (absolute-form becomes origin-form; asterisk and authority-form as is)
//   Host
//   the request's fields in order, minus hop-by-hop ones (static and named in Connection),
//     Host, Content-Length, Transfer-Encoding, X-Forwarded-For / -Proto, X-Request-Id and edits
//   edits' set and add fields
//   X-Forwarded-For: <client's chain>, <peerAddress>
//   X-Forwarded-Proto, X-Request-Id, traceparent (when options.traceparent is set)
//   Connection: upgrade + Upgrade (allowUpgrade), or Connection: close (closeUpstream)
//   Content-Length: N or Transfer-Encoding: chunked, from RequestHead::framing
//   CRLF
void writeUpstreamRequestHead(const RequestHead& head, const ForwardOptions& options,
                              std::string& out);

struct ResponseOptions {
  uint8_t clientVersionMinor = 1; // the status line says HTTP/1.0 to an HTTP/1.0 client
  bool clientKeepAlive = true;    // the request's RequestHead::keepAlive
  bool close = false;             // the proxy closes after this response (drain, error, limits)
  bool allowUpgrade = false;      // a 101 keeps "Connection: upgrade" + Upgrade
  HeaderEdits edits;
};

// What the proxy must do with the connection and the body after writeDownstreamResponseHead.
struct ResponseDisposition {
  bool close = false;   // close the client connection after the body ("Connection: close" sent)
  bool dechunk = false; // strip the chunked coding (ChunkedDecoder::feedPayload): HTTP/1.0 client
};

// Appends the response head for the client: status line (HTTP/1.1, or HTTP/1.0 to an HTTP/1.0
// client; the upstream's reason, or the standard one when empty), the response's fields in order
// minus hop-by-hop ones, framing fields and edits, then edits' set / add fields, then framing:
//   ContentLength -> Content-Length: N
//   Chunked       -> Transfer-Encoding: <the upstream's codings>; to an HTTP/1.0 client none, the
//                    body is de-chunked and delimited by closing
//   UntilClose    -> none; delimited by closing
//   None          -> Content-Length passed on for HEAD and 304 responses
// then "Connection: close" when the connection will close (options.close, the client did not
// want keep-alive, or the framing needs it), "Connection: keep-alive" to an HTTP/1.0 client that
// keeps the connection, "Connection: upgrade" + Upgrade for an allowed 101.
ResponseDisposition writeDownstreamResponseHead(const ResponseHead& head,
                                                const ResponseOptions& options, std::string& out);

// Appends a complete response of the proxy's own: status line, "Content-Type: text/plain;
// charset=utf-8", Content-Length, "Connection: close" when `close`, and `body`.
void writeErrorResponse(uint16_t status, std::string_view body, bool close, std::string& out);

// Appends the response for a rejected request head: statusFor(error) with the body
// "<status> <reason>: <describe(error)>\n" and "Connection: close" (a client whose head was
// rejected cannot be trusted to frame its next request).
void writeParseErrorResponse(ParseError error, std::string& out);

// The standard reason phrase of a status ("Bad Gateway"), or "Unknown".
std::string_view reasonPhrase(uint16_t status);

// The X-Request-Id the request will be forwarded with: the client's when there is exactly one
// and it is sane (1..200 bytes of visible ASCII), else `generated`.
std::string_view requestIdFor(const RequestHead& head, std::string_view generated);

// The client address the proxy believes, for logs and rate limits. trustedHops = how many of the
// rightmost X-Forwarded-For entries were written by proxies we trust (the listener's
// trustedHops). 0: the peer. N: the N-th entry from the right, or the leftmost entry when the
// chain is shorter; the peer when there is no entry. The result views `xff` or `peer`.
std::string_view clientAddressFromXff(std::string_view xff, std::string_view peer,
                                      uint32_t trustedHops);
// The same over every X-Forwarded-For field of a request (repeated fields form one list).
std::string_view clientAddressFromXff(const RequestHead& head, std::string_view peer,
                                      uint32_t trustedHops);

} // namespace fulcrum::http
