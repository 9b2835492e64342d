#pragma once

// The file store: a ConfigStore in one directory on one machine, shared safely by any number of
// processes (control plane replicas, proxies, tests). Layout and guarantees: docs/store.md.
//
// - Revisions are files written to a temp name, fsync'ed and renamed into place (atomic), then
//   the directory is fsync'ed; a revision is visible only once the current pointer names it.
// - The current pointer moves under an exclusive flock on DIR/lock, so compareAndSwap() is
//   atomic across threads and processes (flock locks are per open file, so threads of one
//   process exclude each other too).
// - Watches use inotify on DIR (plus a periodic re-read, StoreOptions::reconcileInterval).
// - Instances are heartbeat files whose mtime is renewed every instanceTtl/3.
// - The audit log is append-only JSON lines (one write(2) per entry, O_APPEND).

#include <memory>
#include <string>

#include "store/config_store.h"

namespace fulcrum::store {

// Opens (creating if needed) the store in `dir`.
Result<std::unique_ptr<ConfigStore>> openFileStore(const std::string& dir,
                                                   const StoreOptions& options);

} // namespace fulcrum::store
