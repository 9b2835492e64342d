#pragma once

// Deferred reclamation of snapshots, off the data plane (the "reclaim" half of RCU).
//
// A snapshot's last reference is usually dropped on a worker: when it adopts the next revision,
// or when the last session that started a request on it finishes. Destroying a Snapshot frees its
// whole Config and route table (a 10k-route config is ~10^5 allocations), which would run on the
// worker between two requests. Snapshots managed here are not freed by the thread that drops the
// last reference: that thread only queues them (one lock, one push) and, when the queue was empty,
// calls `wake`, which schedules drain() on the owner thread (fulcrum-proxy: the main thread, which
// also built them).
//
// Thread-safety: manage() and the queueing deleter run on any thread; drain() on the owner thread;
// detach() once, on the owner thread, before whatever `wake` posts to goes away. Snapshots released
// after detach() are freed when the reclaimer itself is destroyed (it lives as long as the last
// snapshot it manages).

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "proxy/snapshot/snapshot.h"

namespace fulcrum::snapshot {

class SnapshotReclaimer : public std::enable_shared_from_this<SnapshotReclaimer> {
public:
  // `wake` runs on the releasing thread, under the reclaimer's lock, when the queue turns
  // non-empty; it must only schedule drain() (e.g. boost::asio::post), never call it.
  static std::shared_ptr<SnapshotReclaimer> create(std::function<void()> wake);

  // Shared ownership of `snapshot`; when the last reference goes, the snapshot is queued here.
  SnapshotConstSharedPtr manage(std::unique_ptr<const Snapshot> snapshot);

  // Frees the queued snapshots (owner thread). Returns how many.
  size_t drain();
  // Snapshots queued and not yet freed.
  size_t pending() const;
  // Stops calling `wake`.
  void detach();

  // Use create().
  explicit SnapshotReclaimer(std::function<void()> wake) : wake_(std::move(wake)) {}

private:
  void queue(const Snapshot* snapshot);

  mutable std::mutex mutex_;
  std::function<void()> wake_;                          // guarded by mutex_
  std::vector<std::unique_ptr<const Snapshot>> queued_; // guarded by mutex_
};

} // namespace fulcrum::snapshot
