// Weighted random: Vose's alias table (built once per factory, shared by the workers), O(1) per
// pick with the worker's own generator.

#include "proxy/lb/random.h"

#include "proxy/lb/internal.h"

namespace fulcrum::lb {
namespace {

struct Shared {
  std::vector<HostWeight> hosts; // eligible, weight > 0
  detail::AliasTable alias;
  explicit Shared(std::vector<HostWeight> h) : hosts(std::move(h)), alias(hosts) {}
};

class Random final : public LoadBalancer {
public:
  Random(std::shared_ptr<const Shared> shared, uint64_t seed)
      : shared_(std::move(shared)), rng_(seed) {}

  int64_t pick(const PickContext& context) override {
    const auto& hosts = shared_->hosts;
    if (hosts.empty()) {
      return -1;
    }
    uint32_t slot = shared_->alias.sample(rng_);
    for (int attempt = 0; attempt < 3 && static_cast<int64_t>(hosts[slot].index) == context.avoid &&
                          hosts.size() > 1;
         ++attempt) {
      slot = shared_->alias.sample(rng_);
    }
    if (static_cast<int64_t>(hosts[slot].index) == context.avoid) {
      slot = detail::nextOther(hosts, slot);
    }
    return hosts[slot].index;
  }

private:
  std::shared_ptr<const Shared> shared_;
  Rng rng_;
};

class RandomFactory final : public LoadBalancerFactory {
public:
  explicit RandomFactory(std::shared_ptr<const Shared> shared) : shared_(std::move(shared)) {}
  std::unique_ptr<LoadBalancer> create(uint64_t seed) const override {
    return std::make_unique<Random>(shared_, seed);
  }

private:
  std::shared_ptr<const Shared> shared_;
};

} // namespace

LoadBalancerFactorySharedPtr makeRandomFactory(std::vector<HostWeight> hosts) {
  return std::make_shared<RandomFactory>(
      std::make_shared<const Shared>(detail::eligibleHosts(hosts)));
}

} // namespace fulcrum::lb
