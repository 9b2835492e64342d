#pragma once

// Load balancing: one interface, one file per algorithm (round_robin, least_request, random,
// ring_hash, maglev).
//
// Threading: a LoadBalancerFactory is built on the main thread whenever a pool's endpoints,
// weights or health change, and is immutable afterwards; its heavy tables (ring, Maglev lookup
// table) are shared read-only by all workers. Each worker calls create() once per factory and
// owns the resulting LoadBalancer (mutable per-worker state: RR position, RNG); pick() is
// O(1) or O(log N) and never allocates.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "config/schema.h"

namespace fulcrum::lb {

// An endpoint as the balancer sees it: its index in the pool and its weight.
struct HostWeight {
  uint32_t index = 0;
  uint32_t weight = 1;
  bool eligible = true; // false when unhealthy or ejected; skipped without a rebuild of others
};

struct PickContext {
  std::optional<uint64_t> hash; // ring_hash / maglev / sticky: the request's hash key
  // Per-endpoint active requests on this worker (least_request); indexed like the pool.
  std::span<const uint32_t> activeRequests;
  // The sum of activeRequests, if the caller keeps it (ring hash with bounded load needs it;
  // without it, it sums the span: O(N)).
  std::optional<uint64_t> activeRequestsTotal;
  // An endpoint to avoid (the one that just failed, for retries), or -1. Honored whenever another
  // eligible endpoint exists; if the avoided one is the only eligible endpoint, it is returned.
  int64_t avoid = -1;
};

class LoadBalancer {
public:
  virtual ~LoadBalancer() = default;
  // Index of the chosen endpoint in the pool, or -1 if none is eligible.
  virtual int64_t pick(const PickContext& context) = 0;
};

class LoadBalancerFactory {
public:
  virtual ~LoadBalancerFactory() = default;
  // A balancer for one worker. `seed` makes random choices deterministic in tests.
  virtual std::unique_ptr<LoadBalancer> create(uint64_t seed) const = 0;
};

using LoadBalancerFactorySharedPtr = std::shared_ptr<const LoadBalancerFactory>;

// Builds the factory for `pool`'s algorithm over `hosts`. Main thread only. `hosts[i].index` is the
// endpoint's index in `pool.endpoints` (what pick() returns); consistent hashing keys each
// endpoint by its address there (so removing one endpoint does not move the others), falling back
// to the index when `pool.endpoints` does not have it. Hosts with weight 0 are never picked.
LoadBalancerFactorySharedPtr makeLoadBalancerFactory(const config::Pool& pool,
                                                     std::vector<HostWeight> hosts);

} // namespace fulcrum::lb
