#include "proxy/lb/load_balancer.h"

#include <cmath>

#include "proxy/lb/internal.h"
#include "proxy/lb/least_request.h"
#include "proxy/lb/maglev.h"
#include "proxy/lb/random.h"
#include "proxy/lb/ring_hash.h"
#include "proxy/lb/round_robin.h"

namespace fulcrum::lb {
namespace detail {

std::vector<HostWeight> eligibleHosts(std::span<const HostWeight> hosts) {
  std::vector<HostWeight> out;
  out.reserve(hosts.size());
  for (const HostWeight& h : hosts) {
    if (h.eligible && h.weight > 0) {
      out.push_back(h);
    }
  }
  return out;
}

std::string hostKey(const config::Pool* pool, const HostWeight& host) {
  if (pool != nullptr && host.index < pool->endpoints.size()) {
    return pool->endpoints[host.index].address;
  }
  return "#" + std::to_string(host.index);
}

AliasTable::AliasTable(std::span<const HostWeight> hosts)
    : size_(static_cast<uint32_t>(hosts.size())), threshold_(hosts.size(), UINT64_MAX),
      alias_(hosts.size()) {
  if (hosts.empty()) {
    return;
  }
  long double total = 0;
  for (const HostWeight& h : hosts) {
    total += h.weight;
  }
  std::vector<long double> scaled(hosts.size());
  std::vector<uint32_t> small;
  std::vector<uint32_t> large;
  for (uint32_t i = 0; i < size_; ++i) {
    alias_[i] = i;
    scaled[i] = hosts[i].weight * static_cast<long double>(size_) / total;
    (scaled[i] < 1 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    uint32_t s = small.back();
    small.pop_back();
    uint32_t l = large.back();
    threshold_[s] = scaled[s] <= 0 ? 0 : static_cast<uint64_t>(std::ldexp(scaled[s], 64));
    alias_[s] = l;
    scaled[l] -= 1 - scaled[s];
    if (scaled[l] < 1) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left has probability 1 (up to rounding): threshold_ stays UINT64_MAX.
}

uint32_t nextOther(std::span<const HostWeight> hosts, uint32_t slot) {
  for (size_t k = 1; k < hosts.size(); ++k) {
    size_t i = (slot + k) % hosts.size();
    if (hosts[i].eligible && hosts[i].weight > 0) {
      return static_cast<uint32_t>(i);
    }
  }
  return slot;
}

} // namespace detail

LoadBalancerFactorySharedPtr makeLoadBalancerFactory(const config::Pool& pool,
                                                     std::vector<HostWeight> hosts) {
  switch (pool.algorithm) {
  case config::Algorithm::RoundRobin:
    return makeRoundRobinFactory(std::move(hosts));
  case config::Algorithm::LeastRequest:
    return makeLeastRequestFactory(std::move(hosts));
  case config::Algorithm::Random:
    return makeRandomFactory(std::move(hosts));
  case config::Algorithm::RingHash:
    return makeRingHashFactory(pool, std::move(hosts));
  case config::Algorithm::Maglev:
    return makeMaglevFactory(pool, std::move(hosts));
  }
  return makeRoundRobinFactory(std::move(hosts));
}

} // namespace fulcrum::lb
