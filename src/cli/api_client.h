#pragma once

// ApiClient: fulcrumctl's only way to the control plane, the REST API of fulcrum-control
// (docs/control-api.md). Adds the bearer token, asks for JSON, parses answers, and turns refusals
// into CliErrors that say what the server said:
//   `fulcrumctl: 401 Unauthorized: a bearer token is required (pass --token TOKEN or set ...)`.
//
// One thread; one connection per call.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/client_options.h"
#include "cli/error.h"
#include "cli/http_client.h"
#include "cli/printer.h"
#include "config/loader.h"

namespace fulcrum::cli {

struct ApiReply {
  int status = 0;
  std::string contentType;      // without parameters, lower case
  std::optional<uint64_t> etag; // the current revision the server reported (`ETag: "N"`)
  std::string body;
  Json json; // the parsed body when it is JSON, else null

  bool ok() const { return status >= 200 && status < 300; }
};

class ApiClient {
public:
  // Throws CliError(kExitUsage) when options.server is not a usable URL.
  explicit ApiClient(const ClientOptions& options);

  // METHOD /api/v1`path` with the token and `headers`; any status is returned.
  // Throws CliError(kExitUnreachable) when the server cannot be reached.
  ApiReply call(std::string_view method, std::string_view path, const HttpHeaders& headers = {},
                std::string body = {}) const;

  // GET /api/v1`path`; a JSON object or array unless it throws refusal() or CliError
  // (kExitUnreachable) for an answer that is not JSON.
  ApiReply get(std::string_view path) const;

  // The error for a reply that is not 2xx: `STATUS TITLE: DETAIL` from problem+json (with a hint
  // for 401), kExitRefused.
  CliError refusal(const ApiReply& reply) const;

  // For a 2xx reply whose body must be JSON: throws CliError(kExitUnreachable) if it is not.
  void requireJson(const ApiReply& reply) const;

  const ServerUrl& server() const { return http_.server(); }

private:
  HttpClient http_;
  std::string token_;
};

// The located errors of a 422 problem (`errors`: [{file, line, column, path, message}]).
std::vector<config::Diagnostic> problemDiagnostics(const Json& problem);

// Percent-encodes one path segment (everything but unreserved characters).
std::string encodePathSegment(std::string_view segment);

// Percent-encodes what a header value cannot carry (controls, non-ASCII, and `%` itself), for the
// headers the server percent-decodes (X-Fulcrum-Message).
std::string encodeHeaderText(std::string_view text);

} // namespace fulcrum::cli
