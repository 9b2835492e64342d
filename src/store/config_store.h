#pragma once

// ConfigStore: where configuration revisions live, shared by the control plane (writes, history),
// the proxies (watch the current revision, register themselves) and the CLI (through the control
// plane). One interface, two implementations: `file:///DIR` (one machine: atomic renames, flock,
// inotify) and `etcd://host:port[,host:port...]` (etcd v3 over gRPC). Key and file layouts are in
// docs/store.md.
//
// Model:
// - A revision is an immutable record: number, author, time, message, source, the config text as
//   submitted, its hash and its parent (the revision that was current when it was written).
//   Numbers start at 1 and grow by one per accepted write; a rollback is a new revision whose
//   text is an older one's.
// - The current pointer names the revision the fleet should run. It only moves through
//   compareAndSwap(), so of two writers that read the same current revision exactly one wins.
// - Instances (proxies) register with a liveness lease; audit entries are append-only.
//
// Thread-safety: every method may be called from any thread concurrently. Methods block on I/O
// (disk or network, bounded by the store's timeouts) and must never run on a data-plane worker.
// Callbacks (watch()) run on a thread owned by the store, never on the caller's thread; see
// watch().
//
// Errors: no exceptions cross this interface (the proxy links it); failures are Result errors
// whose message names the store and the operation.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"

namespace fulcrum::store {

using RevisionNumber = uint64_t; // 0 = none (an empty store has no current revision)

// Who and what produced a revision. `source` is `api`, `ui`, `cli` or `git:SHA` (7-40 hex).
struct RevisionMeta {
  RevisionNumber number = 0;
  std::string author;
  SystemTime time;
  std::string message;
  std::string source = "api";
  std::string hash;          // xxh64 of the config text (config::LoadResult::hash)
  RevisionNumber parent = 0; // the revision current when this one was written; 0 for the first
};

struct Revision {
  RevisionMeta meta;
  std::string config; // the document text as submitted (YAML or JSON)
};

// What a writer supplies; the store assigns number, time and parent.
struct NewRevision {
  std::string author;
  std::string message;
  std::string source = "api";
  std::string config;
  std::string hash;
};

// True for `api`, `ui`, `cli` and `git:` followed by 7-40 hex digits.
bool isValidSource(std::string_view source);

struct CasOutcome {
  bool won = false;
  // won: the revision just written (now current). Lost: meta.number is 0.
  Revision revision;
  // The current revision number after the attempt: the new one if won, the one that beat us if
  // lost.
  RevisionNumber current = 0;
};

// What a watcher sees. Either a new current revision, or a change in the watch's health (the
// store became unreachable, or reachable again). Revisions arrive with strictly increasing
// numbers; intermediate ones may be skipped (latest-state semantics: a watcher that falls behind
// is handed the newest current revision, never a stale one).
struct WatchEvent {
  std::optional<Revision> revision;
  bool healthy = true; // false while the store cannot be reached or the watch is broken
  std::string error;   // why, when !healthy
};

using WatchCallback = std::function<void(const WatchEvent&)>;

// Cancels the watch when destroyed. The destructor waits for a callback that is running to
// return, so it must not be destroyed from inside its own callback.
class WatchHandle {
public:
  virtual ~WatchHandle() = default;
};

// One proxy's report about itself.
struct InstanceStatus {
  std::string id;                     // unique in the fleet: [A-Za-z0-9._-]{1,128}
  std::string adminAddress;           // host:port of its admin listener
  RevisionNumber appliedRevision = 0; // serving this revision (0: none yet)
  RevisionNumber refusedRevision = 0; // the last revision it refused (0: none)
  std::vector<std::string> errors;    // why it refused refusedRevision (formatted diagnostics)
  std::string version;                // software version, free-form
};

struct InstanceInfo {
  InstanceStatus status;
  SystemTime lastSeen; // last heartbeat (file store) or registration/update time (etcd)
  bool alive = false;  // the heartbeat/lease is fresh
};

// Keeps an instance registered: renews its heartbeat file / etcd lease on a store thread until
// destroyed, which deregisters it (best effort). A lost lease is re-established, never silently
// abandoned.
class InstanceRegistration {
public:
  virtual ~InstanceRegistration() = default;
  // Replaces the published status (e.g. after applying or refusing a revision). Blocks on I/O.
  virtual Result<bool> update(const InstanceStatus& status) = 0;
};

// One entry of the audit log: every write and every refusal of the control plane.
struct AuditEntry {
  SystemTime time;
  std::string actor;           // author / token name, or "anonymous"
  std::string action;          // e.g. "config.put", "route.delete", "rollback"
  std::string outcome;         // "accepted", "refused", "conflict", "forbidden", ...
  RevisionNumber revision = 0; // the revision written, if any
  std::string source;
  std::string detail; // free text (e.g. the first errors)
};

class ConfigStore {
public:
  virtual ~ConfigStore() = default;

  // A human-readable name for logs: the URL it was opened with.
  virtual std::string describe() const = 0;

  // The current revision, or nullopt when the store holds none yet.
  virtual Result<std::optional<Revision>> current() = 0;

  // Revision `number`, or nullopt when it does not exist.
  virtual Result<std::optional<Revision>> get(RevisionNumber number) = 0;

  // Metadata of every revision up to the current one, oldest first.
  virtual Result<std::vector<RevisionMeta>> list() = 0;

  // Writes `revision` as number expectedCurrent + 1 and makes it current, if and only if the
  // current revision is still `expectedCurrent` (0: the store is empty). Of several concurrent
  // callers with the same expectedCurrent, across threads, processes and (etcd) machines,
  // exactly one wins. An error means the outcome is unknown (e.g. a timeout): re-read current().
  virtual Result<CasOutcome> compareAndSwap(RevisionNumber expectedCurrent,
                                            const NewRevision& revision) = 0;

  // Calls `callback` with the current revision whenever its number exceeds the last one
  // delivered, starting after `fromRevision` (pass 0 to get the current one at once if there is
  // one). Also called with healthy=false when the store becomes unreachable and healthy=true once
  // it is back. Callbacks of one watch run one at a time on a thread owned by the store (each
  // watch has its own), never concurrently with each other; they should return quickly (post
  // work elsewhere) and may call this store's methods.
  virtual Result<std::unique_ptr<WatchHandle>> watch(RevisionNumber fromRevision,
                                                     WatchCallback callback) = 0;

  // Registers (or re-registers) an instance; liveness lasts while the returned object lives.
  virtual Result<std::unique_ptr<InstanceRegistration>>
  registerInstance(const InstanceStatus& status) = 0;

  // Every registered instance, sorted by id. The file store also lists instances whose heartbeat
  // went stale (alive=false) until they are pruned; etcd lists only live leases.
  virtual Result<std::vector<InstanceInfo>> instances() = 0;

  virtual Result<bool> appendAudit(const AuditEntry& entry) = 0;

  // The newest `limit` audit entries, oldest first.
  virtual Result<std::vector<AuditEntry>> audit(size_t limit) = 0;
};

struct StoreOptions {
  // Instances are alive while renewed within this; renewals happen every ttl/3.
  std::chrono::milliseconds instanceTtl{10000};
  // Watchers re-read the current pointer at least this often, whatever the notifications say
  // (inotify can miss a replaced directory; etcd watches can stall).
  std::chrono::milliseconds reconcileInterval{5000};
  // Bound of one store request (etcd RPC deadline; the file store's lock wait).
  std::chrono::milliseconds requestTimeout{5000};
  const TimeSource* time = nullptr; // nullptr: the real clock
};

// Opens `file:///abs/dir` (created if missing) or `etcd://host:port[,host:port...]`
// (optionally `etcd://...?prefix=/fulcrum`). Errors name the URL and what is wrong with it.
Result<std::unique_ptr<ConfigStore>> openStore(std::string_view url,
                                               const StoreOptions& options = {});

} // namespace fulcrum::store
