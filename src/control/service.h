#pragma once

// ControlService: the control plane's operations, independent of transport. The REST API
// (rest_api.h) and the gRPC service (grpc_service.h) are thin layers over this one class, so
// they cannot diverge.
//
// Every write follows one path (commit()): read the current revision, check the caller's
// precondition (If-Match), build the whole new document, validate it with the one validator
// (config::loadString), diff the normalized documents, and, unless it is a dry run, write it
// with compareAndSwap on the revision read first. Every write and every refusal is audited.
//
// Errors are thrown as ServiceError (HTTP status + problem details); exceptions stay inside the
// control plane. Thread-safety: all methods may run concurrently on any threads; the class holds
// no mutable state of its own (the store is the state). Methods block on store I/O.

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "config/loader.h"
#include "control/documents.h"
#include "control/tokens.h"
#include "store/config_store.h"

namespace fulcrum::control {

using store::RevisionNumber;

// A refused operation; REST renders it as application/problem+json, gRPC as a status.
struct ServiceError : std::exception {
  ServiceError(int status, std::string title, std::string detail)
      : status(status), title(std::move(title)), detail(std::move(detail)) {}
  const char* what() const noexcept override { return detail.c_str(); }

  int status;
  std::string title;
  std::string detail;
  std::vector<config::Diagnostic> errors;        // 422: every validation error, located
  std::optional<RevisionNumber> currentRevision; // 409/412: what the caller should re-read
};

enum class Kind { Listeners, Routes, Pools };
std::optional<Kind> parseKind(std::string_view plural);
std::string_view kindName(Kind kind);     // "routes"
std::string_view kindSingular(Kind kind); // "route"

// If-Match: `*` or a list of revision numbers.
struct Precondition {
  bool any = false;
  std::vector<RevisionNumber> revisions;
};

struct ChangeContext {
  Principal principal;
  std::string message; // empty: a description of the change is generated
  std::string source = "api";
  std::optional<Precondition> ifMatch;
  bool dryRun = false;
  std::string file = "request"; // names the submitted document in diagnostics
};

struct WriteResult {
  bool dryRun = false;
  bool unchanged = false; // the new text equals the current one: nothing written
  bool created = false;   // a resource PUT that added a new name
  std::optional<store::RevisionMeta> revision; // the revision written
  RevisionNumber current = 0;                  // current revision after the call
  std::string diff; // unified diff of the normalized documents, current -> new
};

struct ValidateResult {
  std::vector<config::Diagnostic> errors; // empty: valid
  std::string hash;
  std::string diff; // against the current revision (valid documents only)
  RevisionNumber current = 0;
};

struct DocumentView {
  RevisionNumber revision = 0;
  Json document;
};

class ControlService {
public:
  ControlService(store::ConfigStore& store, const TimeSource& time) : store_(store), time_(time) {}

  // The current revision and its normalized document; 404 when the store holds none.
  std::pair<store::Revision, Json> currentConfig();
  DocumentView resources(Kind kind);
  DocumentView resource(Kind kind, std::string_view name);

  WriteResult putConfig(std::string text, const ChangeContext& change);
  WriteResult putResource(Kind kind, std::string_view name, Json body, const ChangeContext& change);
  WriteResult deleteResource(Kind kind, std::string_view name, const ChangeContext& change);
  WriteResult rollback(RevisionNumber target, const ChangeContext& change);

  ValidateResult validate(std::string_view text, std::string_view file);

  std::vector<store::RevisionMeta> revisions();
  store::Revision revision(RevisionNumber number);
  // Unified diff of the normalized documents of `from` and `to` (0: the empty document).
  std::string diff(RevisionNumber from, RevisionNumber to);
  RevisionNumber currentNumber();

  std::vector<store::InstanceInfo> instances();
  std::vector<store::AuditEntry> audit(size_t limit);

  // Records a refusal that happened before the service was asked (401, 403, malformed request).
  void auditRefusal(std::string_view actor, std::string_view action, std::string_view outcome,
                    std::string_view source, std::string_view detail);

private:
  using Builder = std::function<std::string(const std::optional<store::Revision>& current,
                                            WriteResult& result)>;
  WriteResult commit(std::string_view action, const ChangeContext& change,
                     const std::string& defaultMessage, const Builder& build);
  std::optional<store::Revision> readCurrent();
  Json documentOf(const store::Revision& revision); // normalized; 500 if it no longer loads
  std::string normalizedText(const std::string& text);
  void record(std::string_view actor, std::string_view action, std::string_view outcome,
              RevisionNumber revision, std::string_view source, std::string_view detail);

  store::ConfigStore& store_;
  const TimeSource& time_;
};

} // namespace fulcrum::control
