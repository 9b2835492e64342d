#include "cli/api_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "cli/app.h"

namespace fulcrum::cli {
namespace {

constexpr std::string_view kApiPrefix = "/api/v1";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string mediaType(const std::string& contentType) {
  std::string type = lower(contentType.substr(0, contentType.find(';')));
  while (!type.empty() && type.back() == ' ') {
    type.pop_back();
  }
  return type;
}

std::optional<uint64_t> parseEtag(std::string_view etag) {
  if (etag.size() < 3 || etag.front() != '"' || etag.back() != '"') {
    return std::nullopt;
  }
  uint64_t value = 0;
  auto digits = etag.substr(1, etag.size() - 2);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return value;
}

bool isJsonType(const std::string& type) {
  return type == "application/json" || type.ends_with("+json");
}

// The first line of a body, short, for messages about answers that are not ours.
std::string excerpt(const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 120) {
    line = line.substr(0, 120) + "...";
  }
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) {
      c = ' ';
    }
  }
  return line;
}

std::string stringField(const Json& json, const char* name) {
  auto it = json.find(name);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int intField(const Json& json, const char* name) {
  auto it = json.find(name);
  return it != json.end() && it->is_number_integer() ? it->get<int>() : 0;
}

ServerUrl serverUrl(const ClientOptions& options) {
  std::string error;
  auto url = parseServerUrl(options.server, error);
  if (!url) {
    throw CliError(kExitUsage, "--server " + error);
  }
  return *url;
}

std::chrono::milliseconds timeout(const ClientOptions& options) {
  return std::chrono::milliseconds(
      std::max<int64_t>(1, std::llround(options.timeoutSeconds * 1000.0)));
}

} // namespace

ApiClient::ApiClient(const ClientOptions& options)
    : http_(serverUrl(options), timeout(options)), token_(options.token) {}

ApiReply ApiClient::call(std::string_view method, std::string_view path, const HttpHeaders& headers,
                         std::string body) const {
  HttpHeaders all;
  all.emplace_back("Accept", "application/json");
  if (!token_.empty()) {
    all.emplace_back("Authorization", "Bearer " + token_);
  }
  all.insert(all.end(), headers.begin(), headers.end());
  HttpReply http = http_.send(method, fmt::format("{}{}", kApiPrefix, path), all, std::move(body));
  ApiReply reply;
  reply.status = http.status;
  reply.contentType = mediaType(http.header("Content-Type"));
  reply.etag = parseEtag(http.header("ETag"));
  reply.body = std::move(http.body);
  if (isJsonType(reply.contentType)) {
    reply.json = Json::parse(reply.body, nullptr, false);
    if (reply.json.is_discarded()) {
      reply.json = nullptr;
    }
  }
  return reply;
}

ApiReply ApiClient::get(std::string_view path) const {
  ApiReply reply = call("GET", path);
  if (!reply.ok()) {
    throw refusal(reply);
  }
  requireJson(reply);
  return reply;
}

void ApiClient::requireJson(const ApiReply& reply) const {
  if (!reply.json.is_object() && !reply.json.is_array()) {
    throw CliError(
        kExitUnreachable,
        fmt::format("unexpected answer from {} (status {}, {}): is this fulcrum-control?",
                    server().text, reply.status,
                    reply.contentType.empty() ? "no Content-Type" : reply.contentType));
  }
}

CliError ApiClient::refusal(const ApiReply& reply) const {
  if (!reply.json.is_object() || !reply.json.contains("title")) {
    return {kExitRefused,
            fmt::format("{} answered {} (is this fulcrum-control?): {}", server().text,
                        reply.status, reply.body.empty() ? "(no body)" : excerpt(reply.body))};
  }
  std::string title = stringField(reply.json, "title");
  std::string detail = stringField(reply.json, "detail");
  std::string message = fmt::format("{} {}", reply.status, title);
  if (!detail.empty()) {
    message += ": " + detail;
  }
  if (reply.status == 401) {
    message += token_.empty() ? " (pass --token TOKEN or set FULCRUM_TOKEN)"
                              : " (check --token or FULCRUM_TOKEN)";
  }
  return {kExitRefused, message};
}

std::vector<config::Diagnostic> problemDiagnostics(const Json& problem) {
  std::vector<config::Diagnostic> out;
  auto errors = problem.find("errors");
  if (errors == problem.end() || !errors->is_array()) {
    return out;
  }
  for (const auto& e : *errors) {
    if (!e.is_object()) {
      continue;
    }
    config::Diagnostic d;
    d.file = stringField(e, "file");
    d.line = intField(e, "line");
    d.column = intField(e, "column");
    d.path = stringField(e, "path");
    d.message = stringField(e, "message");
    out.push_back(std::move(d));
  }
  return out;
}

std::string encodePathSegment(std::string_view segment) {
  std::string out;
  for (char c : segment) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string encodeHeaderText(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '%') {
      out += fmt::format("%{:02X}", u);
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace fulcrum::cli
