// Least request by the power of two choices: two distinct candidates are drawn (by weight, from
// the factory's alias table; uniformly when the weights are equal) and the one with fewer active
// requests per unit of weight wins (ties: the first drawn). Idle pools therefore split by weight,
// loaded pools equalize active/weight. O(1) per pick.

#include "proxy/lb/least_request.h"

#include "proxy/lb/internal.h"

namespace fulcrum::lb {
namespace {

struct Shared {
  std::vector<HostWeight> hosts; // eligible, weight > 0
  detail::AliasTable alias;
  bool equalWeights = true;
  explicit Shared(std::vector<HostWeight> h) : hosts(std::move(h)), alias(hosts) {
    for (const HostWeight& host : hosts) {
      equalWeights = equalWeights && host.weight == hosts.front().weight;
    }
  }
};

class LeastRequest final : public LoadBalancer {
public:
  LeastRequest(std::shared_ptr<const Shared> shared, uint64_t seed)
      : shared_(std::move(shared)), rng_(seed) {}

  int64_t pick(const PickContext& context) override {
    const auto& hosts = shared_->hosts;
    size_t n = hosts.size();
    if (n == 0) {
      return -1;
    }
    if (n == 1) {
      return hosts[0].index;
    }
    uint32_t a = draw();
    uint32_t b = draw();
    for (int attempt = 0; attempt < 4 && b == a; ++attempt) {
      b = draw();
    }
    if (b == a) {
      b = detail::nextOther(hosts, a);
    }
    if (static_cast<int64_t>(hosts[a].index) == context.avoid) {
      return hosts[b].index;
    }
    if (static_cast<int64_t>(hosts[b].index) == context.avoid) {
      return hosts[a].index;
    }
    // a wins unless active_b / w_b < active_a / w_a.
    auto loadA = static_cast<unsigned __int128>(active(context, a)) * hosts[b].weight;
    auto loadB = static_cast<unsigned __int128>(active(context, b)) * hosts[a].weight;
    return loadB < loadA ? hosts[b].index : hosts[a].index;
  }

private:
  uint32_t draw() {
    return shared_->equalWeights ? static_cast<uint32_t>(rng_.below(shared_->hosts.size()))
                                 : shared_->alias.sample(rng_);
  }

  uint64_t active(const PickContext& context, uint32_t slot) const {
    uint32_t index = shared_->hosts[slot].index;
    return index < context.activeRequests.size() ? context.activeRequests[index] : 0;
  }

  std::shared_ptr<const Shared> shared_;
  Rng rng_;
};

class LeastRequestFactory final : public LoadBalancerFactory {
public:
  explicit LeastRequestFactory(std::shared_ptr<const Shared> shared) : shared_(std::move(shared)) {}
  std::unique_ptr<LoadBalancer> create(uint64_t seed) const override {
    return std::make_unique<LeastRequest>(shared_, seed);
  }

private:
  std::shared_ptr<const Shared> shared_;
};

} // namespace

LoadBalancerFactorySharedPtr makeLeastRequestFactory(std::vector<HostWeight> hosts) {
  return std::make_shared<LeastRequestFactory>(
      std::make_shared<const Shared>(detail::eligibleHosts(hosts)));
}

} // namespace fulcrum::lb
