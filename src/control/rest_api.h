#pragma once

// The REST API under /api/v1 (docs/control-api.md): routing, authentication, content
// negotiation and problem+json, over ControlService. Transport-free: it maps one parsed request
// to one response, so tests can call it without sockets and the HTTP server stays dumb.
//
// Thread-safety: handle() may run concurrently on any threads (the service and the token file
// are thread-safe). It blocks on store I/O.

#include <boost/beast/http.hpp>

#include "control/service.h"
#include "control/tokens.h"

namespace fulcrum::control {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class RestApi {
public:
  // `tokens` may be null: then every request is an anonymous viewer and writes are refused.
  RestApi(ControlService& service, TokenFile* tokens) : service_(service), tokens_(tokens) {}

  HttpResponse handle(const HttpRequest& request);

private:
  ControlService& service_;
  TokenFile* tokens_;
};

// `"5"`, `"4", "5"` or `*`; nullopt if malformed. Weak tags (W/"5") never match (RFC 9110).
std::optional<Precondition> parseIfMatch(std::string_view header);

std::string percentDecode(std::string_view text);

// Checks an `Authorization` value against the tokens and the role an operation needs; throws
// ServiceError 401/403. Without a token file every caller is an anonymous viewer, and writes are
// refused (401). `actor` (optional) gets the caller's name as soon as it is known. Shared by REST
// and gRPC.
Principal authenticate(TokenFile* tokens, std::string_view authorization, Role needed, bool write,
                       std::string* actor = nullptr);

} // namespace fulcrum::control
