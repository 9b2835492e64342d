// Weighted round robin by earliest deadline first (EDF): endpoint i's k-th turn has the deadline
// k / weight_i, and each pick takes the earliest deadline (ties: endpoint order). Over every cycle
// of sum(weights) picks each endpoint gets exactly its weight, interleaved as smoothly as the
// weights allow; then the schedule repeats.
//
// Three ways to walk that schedule, fastest first:
//   - equal weights: a rotation, O(1);
//   - cycles up to kMaxSchedule picks: the factory runs EDF once and shares the whole cycle
//     read-only with the workers, who each start at a seed-dependent offset (any window of one
//     cycle's length holds every endpoint exactly weight times), O(1);
//   - longer cycles: a per-worker EDF heap, O(log N), reset every cycle.

#include "proxy/lb/round_robin.h"

#include <algorithm>

#include "proxy/lb/internal.h"

namespace fulcrum::lb {
namespace {

constexpr uint64_t kMaxSchedule = uint64_t{1} << 20;

struct Shared {
  std::vector<HostWeight> hosts; // eligible, weight > 0
  bool equalWeights = true;
  uint64_t cycle = 0;             // sum of weights
  std::vector<uint32_t> schedule; // one cycle of slots, when cycle <= kMaxSchedule
};

struct Turn {
  uint64_t k; // 1-based turn number: deadline k / weight
  uint32_t weight;
  uint32_t tie;  // rotation rank for equal deadlines
  uint32_t slot; // into Shared::hosts
};

// Min-heap order on (k / weight, tie); the products fit in 128 bits.
bool later(const Turn& a, const Turn& b) {
  auto lhs = static_cast<unsigned __int128>(a.k) * b.weight;
  auto rhs = static_cast<unsigned __int128>(b.k) * a.weight;
  return lhs != rhs ? lhs > rhs : a.tie > b.tie;
}

// EDF over `hosts` from the start of a cycle; the tie order is rotated by `offset`.
std::vector<Turn> initialHeap(const std::vector<HostWeight>& hosts, uint32_t offset) {
  std::vector<Turn> heap;
  size_t n = hosts.size();
  heap.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    heap.push_back(Turn{1, hosts[i].weight, static_cast<uint32_t>((i + n - offset) % n), i});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  return heap;
}

uint32_t popTurn(std::vector<Turn>& heap) {
  std::pop_heap(heap.begin(), heap.end(), later);
  Turn& turn = heap.back();
  uint32_t slot = turn.slot;
  ++turn.k;
  std::push_heap(heap.begin(), heap.end(), later);
  return slot;
}

class RoundRobin final : public LoadBalancer {
public:
  RoundRobin(std::shared_ptr<const Shared> shared, uint64_t seed) : shared_(std::move(shared)) {
    size_t n = shared_->hosts.size();
    if (n == 0) {
      return;
    }
    if (!shared_->schedule.empty()) {
      position_ = mix64(seed) % shared_->schedule.size();
    } else if (shared_->equalWeights) {
      position_ = mix64(seed) % n;
    } else {
      initial_ = initialHeap(shared_->hosts, static_cast<uint32_t>(mix64(seed) % n));
      heap_ = initial_;
    }
  }

  int64_t pick(const PickContext& context) override {
    const auto& hosts = shared_->hosts;
    if (hosts.empty()) {
      return -1;
    }
    uint32_t slot = next();
    if (static_cast<int64_t>(hosts[slot].index) == context.avoid && hosts.size() > 1) {
      slot = next();
    }
    return hosts[slot].index;
  }

private:
  uint32_t next() {
    if (!shared_->schedule.empty()) {
      uint32_t slot = shared_->schedule[position_];
      position_ = position_ + 1 == shared_->schedule.size() ? 0 : position_ + 1;
      return slot;
    }
    if (shared_->equalWeights) {
      auto slot = static_cast<uint32_t>(position_);
      position_ = position_ + 1 == shared_->hosts.size() ? 0 : position_ + 1;
      return slot;
    }
    uint32_t slot = popTurn(heap_);
    if (++picked_ == shared_->cycle) {
      std::copy(initial_.begin(), initial_.end(), heap_.begin()); // a new cycle: O(N) per cycle
      picked_ = 0;
    }
    return slot;
  }

  std::shared_ptr<const Shared> shared_;
  uint64_t position_ = 0;
  uint64_t picked_ = 0;
  std::vector<Turn> initial_;
  std::vector<Turn> heap_;
};

class RoundRobinFactory final : public LoadBalancerFactory {
public:
  explicit RoundRobinFactory(std::shared_ptr<const Shared> shared) : shared_(std::move(shared)) {}
  std::unique_ptr<LoadBalancer> create(uint64_t seed) const override {
    return std::make_unique<RoundRobin>(shared_, seed);
  }

private:
  std::shared_ptr<const Shared> shared_;
};

} // namespace

LoadBalancerFactorySharedPtr makeRoundRobinFactory(std::vector<HostWeight> hosts) {
  auto shared = std::make_shared<Shared>();
  shared->hosts = detail::eligibleHosts(hosts);
  for (const HostWeight& h : shared->hosts) {
    shared->cycle += h.weight;
    shared->equalWeights = shared->equalWeights && h.weight == shared->hosts.front().weight;
  }
  if (!shared->equalWeights && shared->cycle <= kMaxSchedule) {
    std::vector<Turn> heap = initialHeap(shared->hosts, 0);
    shared->schedule.reserve(shared->cycle);
    for (uint64_t i = 0; i < shared->cycle; ++i) {
      shared->schedule.push_back(popTurn(heap));
    }
  }
  return std::make_shared<RoundRobinFactory>(std::move(shared));
}

} // namespace fulcrum::lb
