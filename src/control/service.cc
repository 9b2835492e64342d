#include "control/service.h"

#include <algorithm>

#include <fmt/format.h>

#include "control/line_diff.h"

namespace fulcrum::control {
namespace {

template <class T> T orUnavailable(Result<T> result, std::string_view what) {
  if (!result) {
    throw ServiceError(503, "Store unavailable",
                       fmt::format("{}: {}", what, result.error().message));
  }
  return std::move(result.value());
}

Json emptyDocument() {
  return Json{{"apiVersion", "fulcrum/v1"},
              {"listeners", Json::array()},
              {"routes", Json::array()},
              {"pools", Json::array()}};
}

std::string revisionName(RevisionNumber n) {
  return fmt::format("revision {}", n);
}

std::string firstErrors(const std::vector<config::Diagnostic>& errors) {
  std::string text = fmt::format("{} error{}", errors.size(), errors.size() == 1 ? "" : "s");
  for (size_t i = 0; i < errors.size() && i < 3; ++i) {
    text += (i == 0 ? ": " : "; ") + errors[i].format();
  }
  return text;
}

// The items of `kind` in a normalized document (an array, possibly empty).
Json& items(Json& document, Kind kind) {
  auto& array = document[std::string(kindName(kind))];
  if (!array.is_array()) {
    array = Json::array();
  }
  return array;
}

Json::iterator findByName(Json& array, std::string_view name) {
  return std::find_if(array.begin(), array.end(), [&](const Json& item) {
    auto it = item.find("name");
    return it != item.end() && it->is_string() && it->get_ref<const std::string&>() == name;
  });
}

} // namespace

std::optional<Kind> parseKind(std::string_view plural) {
  if (plural == "listeners") {
    return Kind::Listeners;
  }
  if (plural == "routes") {
    return Kind::Routes;
  }
  if (plural == "pools") {
    return Kind::Pools;
  }
  return std::nullopt;
}

std::string_view kindName(Kind kind) {
  switch (kind) {
  case Kind::Listeners:
    return "listeners";
  case Kind::Routes:
    return "routes";
  case Kind::Pools:
    return "pools";
  }
  return "?";
}

std::string_view kindSingular(Kind kind) {
  auto plural = kindName(kind);
  return plural.substr(0, plural.size() - 1);
}

std::optional<store::Revision> ControlService::readCurrent() {
  return orUnavailable(store_.current(), "reading the current revision");
}

RevisionNumber ControlService::currentNumber() {
  auto current = readCurrent();
  return current ? current->meta.number : 0;
}

Json ControlService::documentOf(const store::Revision& revision) {
  auto loaded = config::loadString(revision.config, revisionName(revision.meta.number));
  if (!loaded.ok()) {
    throw ServiceError(
        500, "Stored revision does not load",
        fmt::format("revision {}: {}", revision.meta.number, firstErrors(loaded.errors)));
  }
  return normalized(*loaded.config);
}

std::pair<store::Revision, Json> ControlService::currentConfig() {
  auto current = readCurrent();
  if (!current) {
    throw ServiceError(404, "No configuration", "the store holds no revision yet");
  }
  Json document = documentOf(*current);
  return {std::move(*current), std::move(document)};
}

DocumentView ControlService::resources(Kind kind) {
  auto current = readCurrent();
  if (!current) {
    return DocumentView{0, Json::array()};
  }
  auto [revision, document] = currentConfig();
  return DocumentView{revision.meta.number, items(document, kind)};
}

DocumentView ControlService::resource(Kind kind, std::string_view name) {
  auto view = resources(kind);
  auto it = findByName(view.document, name);
  if (it == view.document.end()) {
    auto error =
        ServiceError(404, "Not found", fmt::format("no {} named \"{}\"", kindSingular(kind), name));
    error.currentRevision = view.revision;
    throw error;
  }
  return DocumentView{view.revision, *it};
}

std::string ControlService::normalizedText(const std::string& text) {
  auto loaded = config::loadString(text, "document");
  return loaded.ok() ? toYaml(normalized(*loaded.config)) : text;
}

WriteResult ControlService::commit(std::string_view action, const ChangeContext& change,
                                   const std::string& defaultMessage, const Builder& build) {
  const std::string& actor = change.principal.name;
  auto current = readCurrent();
  RevisionNumber currentNumber = current ? current->meta.number : 0;
  if (change.ifMatch) {
    const auto& want = change.ifMatch->revisions;
    bool matches = change.ifMatch->any
                       ? currentNumber != 0
                       : std::find(want.begin(), want.end(), currentNumber) != want.end();
    if (!matches) {
      record(actor, action, "precondition-failed", 0, change.source,
             fmt::format("If-Match did not match revision {}", currentNumber));
      ServiceError error(412, "Precondition failed",
                         fmt::format("the current revision is {}", currentNumber));
      error.currentRevision = currentNumber;
      throw error;
    }
  }
  WriteResult result;
  result.dryRun = change.dryRun;
  result.current = currentNumber;
  std::string text;
  try {
    text = build(current, result);
  } catch (const ServiceError& e) {
    if (!change.dryRun) {
      record(actor, action, "refused", 0, change.source, e.detail);
    }
    throw;
  }
  auto loaded = config::loadString(text, change.file);
  if (!loaded.ok()) {
    if (!change.dryRun) {
      record(actor, action, "invalid", 0, change.source, firstErrors(loaded.errors));
    }
    ServiceError error(422, "Invalid configuration", firstErrors(loaded.errors));
    error.errors = std::move(loaded.errors);
    error.currentRevision = currentNumber;
    throw error;
  }
  std::string newNormalized = toYaml(normalized(*loaded.config));
  std::string oldNormalized = current ? normalizedText(current->config) : "";
  result.diff =
      unifiedDiff(oldNormalized, newNormalized, current ? revisionName(currentNumber) : "empty",
                  change.dryRun ? "request" : revisionName(currentNumber + 1));
  if (current && current->config == text) {
    result.unchanged = true;
    result.diff.clear();
    return result;
  }
  if (change.dryRun) {
    return result;
  }
  store::NewRevision revision;
  revision.author = actor;
  revision.message = change.message.empty() ? defaultMessage : change.message;
  revision.source = change.source;
  revision.config = std::move(text);
  revision.hash = loaded.hash;
  auto outcome = store_.compareAndSwap(currentNumber, revision);
  if (!outcome) {
    record(actor, action, "error", 0, change.source, outcome.error().message);
    throw ServiceError(503, "Store unavailable",
                       fmt::format("writing the revision (outcome unknown, re-read the current "
                                   "revision): {}",
                                   outcome.error().message));
  }
  if (!outcome->won) {
    record(actor, action, "conflict", 0, change.source,
           fmt::format("revision {} was written concurrently", outcome->current));
    ServiceError error(409, "Conflict",
                       fmt::format("another write made revision {} current first; re-read and "
                                   "retry",
                                   outcome->current));
    error.currentRevision = outcome->current;
    throw error;
  }
  result.revision = outcome->revision.meta;
  result.current = outcome->current;
  record(actor, action, "accepted", outcome->current, change.source, revision.message);
  return result;
}

WriteResult ControlService::putConfig(std::string text, const ChangeContext& change) {
  return commit("config.put", change, "replace the configuration",
                [&](const std::optional<store::Revision>&, WriteResult&) { return text; });
}

WriteResult ControlService::putResource(Kind kind, std::string_view name, Json body,
                                        const ChangeContext& change) {
  std::string action = fmt::format("{}.put", kindName(kind));
  return commit(
      action, change, fmt::format("put {} {}", kindSingular(kind), name),
      [&](const std::optional<store::Revision>& current, WriteResult& result) {
        if (!body.is_object()) {
          throw ServiceError(400, "Bad request", fmt::format("a {} is a map", kindSingular(kind)));
        }
        auto named = body.find("name");
        if (named == body.end()) {
          body["name"] = std::string(name);
        } else if (!named->is_string() || named->get_ref<const std::string&>() != name) {
          throw ServiceError(400, "Bad request",
                             fmt::format("the body's name must be \"{}\" as in the URL", name));
        }
        Json document = current ? documentOf(*current) : emptyDocument();
        auto& array = items(document, kind);
        auto it = findByName(array, name);
        if (it == array.end()) {
          result.created = true;
          array.push_back(std::move(body));
        } else {
          *it = std::move(body);
        }
        return document.dump(2) + "\n";
      });
}

WriteResult ControlService::deleteResource(Kind kind, std::string_view name,
                                           const ChangeContext& change) {
  std::string action = fmt::format("{}.delete", kindName(kind));
  return commit(action, change, fmt::format("delete {} {}", kindSingular(kind), name),
                [&](const std::optional<store::Revision>& current, WriteResult&) {
                  Json document = current ? documentOf(*current) : emptyDocument();
                  auto& array = items(document, kind);
                  auto it = findByName(array, name);
                  if (it == array.end()) {
                    throw ServiceError(404, "Not found",
                                       fmt::format("no {} named \"{}\"", kindSingular(kind), name));
                  }
                  array.erase(it);
                  return document.dump(2) + "\n";
                });
}

WriteResult ControlService::rollback(RevisionNumber target, const ChangeContext& change) {
  return commit("rollback", change, fmt::format("rollback to revision {}", target),
                [&](const std::optional<store::Revision>&, WriteResult&) {
                  auto old = orUnavailable(store_.get(target), "reading the revision");
                  if (!old) {
                    throw ServiceError(404, "Not found", fmt::format("no revision {}", target));
                  }
                  return old->config;
                });
}

ValidateResult ControlService::validate(std::string_view text, std::string_view file) {
  ValidateResult result;
  auto loaded = config::loadString(text, file);
  result.hash = loaded.hash;
  auto current = readCurrent();
  result.current = current ? current->meta.number : 0;
  if (!loaded.ok()) {
    result.errors = std::move(loaded.errors);
    return result;
  }
  result.diff = unifiedDiff(current ? normalizedText(current->config) : "",
                            toYaml(normalized(*loaded.config)),
                            current ? revisionName(result.current) : "empty", "request");
  return result;
}

std::vector<store::RevisionMeta> ControlService::revisions() {
  return orUnavailable(store_.list(), "listing revisions");
}

store::Revision ControlService::revision(RevisionNumber number) {
  auto revision = orUnavailable(store_.get(number), "reading the revision");
  if (!revision) {
    throw ServiceError(404, "Not found", fmt::format("no revision {}", number));
  }
  return std::move(*revision);
}

std::string ControlService::diff(RevisionNumber from, RevisionNumber to) {
  std::string a = from == 0 ? "" : normalizedText(revision(from).config);
  std::string b = to == 0 ? "" : normalizedText(revision(to).config);
  return unifiedDiff(a, b, from == 0 ? "empty" : revisionName(from),
                     to == 0 ? "empty" : revisionName(to));
}

std::vector<store::InstanceInfo> ControlService::instances() {
  return orUnavailable(store_.instances(), "listing instances");
}

std::vector<store::AuditEntry> ControlService::audit(size_t limit) {
  return orUnavailable(store_.audit(limit), "reading the audit log");
}

void ControlService::auditRefusal(std::string_view actor, std::string_view action,
                                  std::string_view outcome, std::string_view source,
                                  std::string_view detail) {
  record(actor, action, outcome, 0, source, detail);
}

void ControlService::record(std::string_view actor, std::string_view action,
                            std::string_view outcome, RevisionNumber revision,
                            std::string_view source, std::string_view detail) {
  store::AuditEntry entry;
  entry.time = time_.systemTime();
  entry.actor = actor;
  entry.action = action;
  entry.outcome = outcome;
  entry.revision = revision;
  entry.source = source;
  entry.detail = detail;
  // An audit failure must not turn an accepted write into an error (the revision exists);
  // it is logged so that operators notice.
  if (auto appended = store_.appendAudit(entry); !appended) {
    fmt::print(stderr, "fulcrum-control: audit append failed: {}\n", appended.error().message);
  }
}

} // namespace fulcrum::control
