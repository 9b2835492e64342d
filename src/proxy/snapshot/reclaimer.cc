#include "proxy/snapshot/reclaimer.h"

namespace fulcrum::snapshot {

std::shared_ptr<SnapshotReclaimer> SnapshotReclaimer::create(std::function<void()> wake) {
  return std::make_shared<SnapshotReclaimer>(std::move(wake));
}

SnapshotConstSharedPtr SnapshotReclaimer::manage(std::unique_ptr<const Snapshot> snapshot) {
  // The deleter owns the reclaimer: it outlives every snapshot it manages.
  return SnapshotConstSharedPtr(snapshot.release(),
                                [self = shared_from_this()](const Snapshot* s) { self->queue(s); });
}

void SnapshotReclaimer::queue(const Snapshot* snapshot) {
  std::unique_ptr<const Snapshot> owned(snapshot);
  std::lock_guard lock(mutex_);
  queued_.push_back(std::move(owned));
  if (queued_.size() == 1 && wake_) {
    wake_();
  }
}

size_t SnapshotReclaimer::drain() {
  std::vector<std::unique_ptr<const Snapshot>> freeing;
  {
    std::lock_guard lock(mutex_);
    freeing.swap(queued_);
  }
  return freeing.size(); // destroyed here, outside the lock
}

size_t SnapshotReclaimer::pending() const {
  std::lock_guard lock(mutex_);
  return queued_.size();
}

void SnapshotReclaimer::detach() {
  std::lock_guard lock(mutex_);
  wake_ = nullptr;
}

} // namespace fulcrum::snapshot
