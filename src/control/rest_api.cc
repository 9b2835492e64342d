#include "control/rest_api.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

#include "store/codec.h"

namespace fulcrum::control {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kProblemType = "application/problem+json";

struct Target {
  std::vector<std::string> segments; // percent-decoded, after /api/v1
  std::map<std::string, std::string> query;
  bool api = false;
  std::string path;
};

Target parseTarget(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  t.path = std::string(path);
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      size_t eq = pair.find('=');
      std::string key = percentDecode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1));
      t.query[key] = value;
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  constexpr std::string_view kPrefix = "/api/v1";
  if (path.substr(0, kPrefix.size()) == kPrefix &&
      (path.size() == kPrefix.size() || path[kPrefix.size()] == '/')) {
    t.api = true;
    path.remove_prefix(kPrefix.size());
    while (!path.empty()) {
      path.remove_prefix(1); // '/'
      size_t slash = path.find('/');
      std::string_view segment = path.substr(0, slash);
      if (!segment.empty()) {
        t.segments.push_back(percentDecode(segment));
      }
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
  }
  return t;
}

std::optional<uint64_t> parseNumber(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::string header(const HttpRequest& request, std::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string() : std::string(it->value());
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool wantsYaml(const HttpRequest& request) {
  return lower(header(request, "Accept")).find("yaml") != std::string::npos;
}

// The media type without parameters, lowercased.
std::string mediaType(const HttpRequest& request) {
  std::string type = lower(header(request, "Content-Type"));
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') {
    type.pop_back();
  }
  return type;
}

bool isJson(const std::string& type) {
  return type == "application/json" || (type.size() > 5 && type.ends_with("+json"));
}

bool isDocumentType(const std::string& type) {
  return type.empty() || isJson(type) || type == "application/yaml" ||
         type == "application/x-yaml" || type == "text/yaml" || type == "text/x-yaml" ||
         type == "text/plain";
}

Json diagnosticJson(const config::Diagnostic& d) {
  return Json{{"file", d.file}, {"line", d.line},       {"column", d.column},
              {"path", d.path}, {"message", d.message}, {"text", d.format()}};
}

Json metaJson(const store::RevisionMeta& meta) {
  return store::toJson(meta);
}

class Responder {
public:
  Responder(const HttpRequest& request, const Target& target)
      : request_(request), target_(target) {}

  HttpResponse json(http::status status, const Json& body,
                    std::optional<RevisionNumber> etag = std::nullopt) {
    return make(status, body.dump(2) + "\n", "application/json", etag);
  }

  // A config document: JSON, or YAML when the client asks for it.
  HttpResponse document(const Json& body, RevisionNumber etag) {
    if (wantsYaml(request_)) {
      return make(http::status::ok, toYaml(body), "application/yaml", etag);
    }
    return json(http::status::ok, body, etag);
  }

  HttpResponse text(http::status status, std::string body, std::string_view type) {
    return make(status, std::move(body), type, std::nullopt);
  }

  HttpResponse problem(const ServiceError& error) {
    Json body = {
        {"type", error.status == 422 ? "urn:fulcrum:problem:invalid-config" : "about:blank"},
        {"title", error.title},
        {"status", error.status},
        {"detail", error.detail},
        {"instance", target_.path}};
    if (!error.errors.empty()) {
      Json errors = Json::array();
      for (const auto& d : error.errors) {
        errors.push_back(diagnosticJson(d));
      }
      body["errors"] = std::move(errors);
    }
    if (error.currentRevision) {
      body["currentRevision"] = *error.currentRevision;
    }
    auto response = make(static_cast<http::status>(error.status), body.dump(2) + "\n", kProblemType,
                         error.currentRevision);
    if (error.status == 401) {
      response.set(http::field::www_authenticate, "Bearer realm=\"fulcrum\"");
    }
    return response;
  }

private:
  HttpResponse make(http::status status, std::string body, std::string_view type,
                    std::optional<RevisionNumber> etag) {
    HttpResponse response(status, request_.version());
    response.set(http::field::server, "fulcrum-control");
    response.set(http::field::content_type, type);
    response.set(http::field::cache_control, "no-store");
    if (etag) {
      response.set(http::field::etag, fmt::format("\"{}\"", *etag));
    }
    response.body() = std::move(body);
    response.keep_alive(request_.keep_alive());
    response.prepare_payload();
    return response;
  }

  const HttpRequest& request_;
  const Target& target_;
};

ServiceError badRequest(std::string detail) {
  return ServiceError(400, "Bad request", std::move(detail));
}

// Which role an endpoint needs; writes are everything that may create a revision.
struct Access {
  Role role;
  bool write;
  std::string action; // audit action name
};

Json writeJson(const WriteResult& result) {
  return Json{{"revision", result.revision ? metaJson(*result.revision) : Json(nullptr)},
              {"current", result.current},
              {"dryRun", result.dryRun},
              {"unchanged", result.unchanged},
              {"created", result.created},
              {"diff", result.diff}};
}

} // namespace

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
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
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 && hex(text[i + 1]) >= 0 &&
        hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<Precondition> parseIfMatch(std::string_view header) {
  Precondition precondition;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
      s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
      s.remove_suffix(1);
    }
    return s;
  };
  header = trim(header);
  if (header == "*") {
    precondition.any = true;
    return precondition;
  }
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (tag.substr(0, 2) == "W/") {
      continue; // weak tags never match a strong comparison
    }
    if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') {
      return std::nullopt;
    }
    auto number = parseNumber(tag.substr(1, tag.size() - 2));
    if (!number) {
      return std::nullopt; // not one of ours: cannot match, but say why instead of 412
    }
    precondition.revisions.push_back(*number);
  }
  return precondition;
}

Principal authenticate(TokenFile* tokens, std::string_view authorization, Role needed, bool write,
                       std::string* actor) {
  Principal principal{"anonymous", Role::Viewer};
  constexpr std::string_view kBearer = "bearer ";
  if (tokens != nullptr) {
    if (authorization.empty()) {
      throw ServiceError(401, "Unauthorized", "a bearer token is required");
    }
    if (lower(std::string(authorization.substr(0, kBearer.size()))) != kBearer) {
      throw ServiceError(401, "Unauthorized", "expected `Authorization: Bearer TOKEN`");
    }
    auto found = tokens->lookup(authorization.substr(kBearer.size()));
    if (!found) {
      throw ServiceError(401, "Unauthorized", "unknown token");
    }
    principal = *found;
  } else if (write) {
    throw ServiceError(401, "Unauthorized",
                       "writes need a token: start fulcrum-control with --tokens FILE");
  }
  if (actor != nullptr) {
    *actor = principal.name; // known before the role check, for the audit of a 403
  }
  if (principal.role < needed) {
    throw ServiceError(403, "Forbidden",
                       fmt::format("this needs the {} role; the token has {}", roleName(needed),
                                   roleName(principal.role)));
  }
  return principal;
}

HttpResponse RestApi::handle(const HttpRequest& request) {
  Target target = parseTarget(std::string_view(request.target().data(), request.target().size()));
  Responder respond(request, target);
  const auto method = request.method();
  if (!target.api) {
    if (target.path == "/livez" && method == http::verb::get) {
      return respond.text(http::status::ok, "ok\n", "text/plain");
    }
    if (target.path == "/" && method == http::verb::get) {
      return respond.text(http::status::ok, "fulcrum-control: the REST API is under /api/v1/\n",
                          "text/plain");
    }
    return respond.problem(ServiceError(404, "Not found", "no such endpoint"));
  }

  const auto& seg = target.segments;
  std::string source = header(request, "X-Fulcrum-Source");
  if (source.empty()) {
    source = "api";
  }
  std::string actor = "anonymous";
  Access access{Role::Viewer, false, ""};
  bool dispatched = false; // a write reached the service, which audits it itself
  try {
    // Route: which role, and whether it is a write.
    bool known = true;
    auto allow = [&](std::initializer_list<http::verb> verbs, const char* allowHeader) {
      if (std::find(verbs.begin(), verbs.end(), method) == verbs.end()) {
        ServiceError error(405, "Method not allowed", std::string("allowed: ") + allowHeader);
        throw error;
      }
    };
    if (seg.size() == 1 && seg[0] == "config") {
      allow({http::verb::get, http::verb::put}, "GET, PUT");
      access = method == http::verb::put ? Access{Role::Editor, true, "config.put"} : access;
    } else if ((seg.size() == 1 || seg.size() == 2) && parseKind(seg[0])) {
      if (seg.size() == 1) {
        allow({http::verb::get}, "GET");
      } else {
        allow({http::verb::get, http::verb::put, http::verb::delete_}, "GET, PUT, DELETE");
        if (method != http::verb::get) {
          access =
              Access{Role::Editor, true, seg[0] + (method == http::verb::put ? ".put" : ".delete")};
        }
      }
    } else if (seg.size() >= 1 && seg[0] == "revisions" && seg.size() <= 3) {
      allow({http::verb::get}, "GET");
      known = seg.size() < 3 || seg[2] == "diff";
    } else if (seg.size() == 1 && seg[0] == "rollback") {
      allow({http::verb::post}, "POST");
      access = Access{Role::Admin, true, "rollback"};
    } else if (seg.size() == 1 && seg[0] == "validate") {
      allow({http::verb::post}, "POST");
    } else if (seg.size() == 1 && (seg[0] == "instances" || seg[0] == "audit")) {
      allow({http::verb::get}, "GET");
    } else {
      known = false;
    }
    if (!known) {
      throw ServiceError(404, "Not found", "no such endpoint");
    }

    Principal principal =
        authenticate(tokens_, header(request, "Authorization"), access.role, access.write, &actor);
    ChangeContext change;
    change.principal = principal;
    if (!store::isValidSource(source)) {
      throw badRequest(
          fmt::format("X-Fulcrum-Source must be api, ui, cli or git:SHA, not \"{}\"", source));
    }
    change.source = source;
    change.message = percentDecode(header(request, "X-Fulcrum-Message"));
    if (std::string filename = header(request, "X-Fulcrum-Filename"); !filename.empty()) {
      if (filename.size() > 256 || std::any_of(filename.begin(), filename.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20;
          })) {
        throw badRequest("X-Fulcrum-Filename is too long or has control characters");
      }
      change.file = filename;
    }
    if (std::string ifMatch = header(request, "If-Match"); !ifMatch.empty()) {
      change.ifMatch = parseIfMatch(ifMatch);
      if (!change.ifMatch) {
        throw badRequest("If-Match must be `*` or quoted revision numbers, e.g. \"12\"");
      }
    }
    if (auto it = target.query.find("dryRun"); it != target.query.end()) {
      std::string v = lower(it->second);
      change.dryRun = v.empty() || v == "true" || v == "1" || v == "all";
      if (!change.dryRun && v != "false" && v != "0") {
        throw badRequest("dryRun must be true or false");
      }
    }
    auto writeResponse = [&](const WriteResult& result, bool created) {
      auto status = created && !result.dryRun ? http::status::created : http::status::ok;
      return respond.json(status, writeJson(result), result.current);
    };

    // Dispatch.
    if (seg[0] == "config") {
      if (method == http::verb::get) {
        auto [revision, document] = service_.currentConfig();
        return respond.document(document, revision.meta.number);
      }
      std::string type = mediaType(request);
      if (!isDocumentType(type)) {
        throw ServiceError(415, "Unsupported media type",
                           "send YAML (application/yaml) or JSON (application/json)");
      }
      std::string text = request.body();
      if (isJson(type)) {
        // An envelope {"config": "TEXT", "message": "...", "source": "..."} is accepted too
        // (no config document has a top-level `config` key).
        Json envelope = Json::parse(text, nullptr, false);
        if (envelope.is_object() && envelope.contains("config") && envelope["config"].is_string()) {
          text = envelope["config"].get<std::string>();
          if (envelope.contains("message") && envelope["message"].is_string()) {
            change.message = envelope["message"].get<std::string>();
          }
          if (envelope.contains("source") && envelope["source"].is_string()) {
            change.source = envelope["source"].get<std::string>();
            if (!store::isValidSource(change.source)) {
              throw badRequest("source must be api, ui, cli or git:SHA");
            }
          }
        }
      }
      dispatched = true;
      return writeResponse(service_.putConfig(std::move(text), change), false);
    }
    if (auto kind = parseKind(seg[0])) {
      if (seg.size() == 1) {
        auto view = service_.resources(*kind);
        return respond.document(view.document, view.revision);
      }
      const std::string& name = seg[1];
      if (method == http::verb::get) {
        auto view = service_.resource(*kind, name);
        return respond.document(view.document, view.revision);
      }
      if (method == http::verb::delete_) {
        dispatched = true;
        return writeResponse(service_.deleteResource(*kind, name, change), false);
      }
      if (!isDocumentType(mediaType(request))) {
        throw ServiceError(415, "Unsupported media type",
                           "send YAML (application/yaml) or JSON (application/json)");
      }
      auto body = parseDocument(request.body());
      if (!body.value) {
        throw badRequest("body: " + body.error);
      }
      dispatched = true;
      auto result = service_.putResource(*kind, name, std::move(*body.value), change);
      return writeResponse(result, result.created);
    }
    if (seg[0] == "revisions") {
      if (seg.size() == 1) {
        auto metas = service_.revisions();
        size_t limit = metas.size();
        if (auto it = target.query.find("limit"); it != target.query.end()) {
          auto n = parseNumber(it->second);
          if (!n) {
            throw badRequest("limit must be a number");
          }
          limit = std::min<size_t>(limit, *n);
        }
        Json items = Json::array();
        for (auto it = metas.rbegin(); it != metas.rend() && items.size() < limit; ++it) {
          items.push_back(metaJson(*it));
        }
        RevisionNumber current = metas.empty() ? 0 : metas.back().number;
        return respond.json(http::status::ok, Json{{"current", current}, {"items", items}},
                            current);
      }
      auto number = parseNumber(seg[1]);
      if (!number) {
        throw badRequest("a revision is a number");
      }
      auto revision = service_.revision(*number);
      if (seg.size() == 2) {
        Json body = metaJson(revision.meta);
        body["config"] = revision.config;
        return respond.json(http::status::ok, body);
      }
      RevisionNumber against = revision.meta.parent;
      if (auto it = target.query.find("against"); it != target.query.end()) {
        auto n = parseNumber(it->second);
        if (!n) {
          throw badRequest("against must be a revision number");
        }
        against = *n;
      }
      std::string diff = service_.diff(against, *number);
      std::string accept = lower(header(request, "Accept"));
      if (accept.find("text/x-diff") != std::string::npos ||
          accept.find("text/plain") != std::string::npos) {
        return respond.text(http::status::ok, std::move(diff), "text/x-diff");
      }
      return respond.json(http::status::ok,
                          Json{{"from", against}, {"to", *number}, {"diff", diff}});
    }
    if (seg[0] == "rollback") {
      auto body = parseDocument(request.body());
      if (!body.value || !body.value->is_object() || !body.value->contains("revision") ||
          !(*body.value)["revision"].is_number_unsigned()) {
        throw badRequest("expected {\"revision\": N}");
      }
      if (auto m = body.value->find("message"); m != body.value->end() && m->is_string()) {
        change.message = m->get<std::string>();
      }
      dispatched = true;
      return writeResponse(
          service_.rollback((*body.value)["revision"].get<RevisionNumber>(), change), false);
    }
    if (seg[0] == "validate") {
      auto result = service_.validate(request.body(), change.file);
      if (!result.errors.empty()) {
        ServiceError error(
            422, "Invalid configuration",
            fmt::format("{} error{}", result.errors.size(), result.errors.size() == 1 ? "" : "s"));
        error.errors = std::move(result.errors);
        throw error;
      }
      return respond.json(http::status::ok, Json{{"valid", true},
                                                 {"hash", result.hash},
                                                 {"current", result.current},
                                                 {"diff", result.diff}});
    }
    if (seg[0] == "instances") {
      Json items = Json::array();
      for (const auto& info : service_.instances()) {
        Json item = store::toJson(info.status);
        item["lastSeen"] = store::formatTime(info.lastSeen);
        item["alive"] = info.alive;
        items.push_back(std::move(item));
      }
      return respond.json(http::status::ok,
                          Json{{"current", service_.currentNumber()}, {"items", items}});
    }
    if (seg[0] == "audit") {
      size_t limit = 100;
      if (auto it = target.query.find("limit"); it != target.query.end()) {
        auto n = parseNumber(it->second);
        if (!n) {
          throw badRequest("limit must be a number");
        }
        limit = std::min<size_t>(*n, 10000);
      }
      auto entries = service_.audit(limit);
      Json items = Json::array();
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        items.push_back(store::toJson(*it));
      }
      return respond.json(http::status::ok, Json{{"items", items}});
    }
    throw ServiceError(404, "Not found", "no such endpoint");
  } catch (const ServiceError& error) {
    // Refusals of writes before the service saw them (auth, malformed requests) are audited
    // here; the service audits its own.
    if (access.write && !dispatched &&
        (error.status == 401 || error.status == 403 || error.status == 400 ||
         error.status == 415)) {
      service_.auditRefusal(actor, access.action,
                            error.status == 401   ? "unauthenticated"
                            : error.status == 403 ? "forbidden"
                                                  : "bad-request",
                            store::isValidSource(source) ? source : "api", error.detail);
    }
    auto response = respond.problem(error);
    if (error.status == 405) {
      response.set(http::field::allow, error.detail.substr(std::string("allowed: ").size()));
    }
    return response;
  } catch (const std::exception& e) {
    return respond.problem(ServiceError(500, "Internal error", e.what()));
  }
}

} // namespace fulcrum::control
