// Ring hash (Ketama-style consistent hashing). Every endpoint, eligible or not, gets points on a
// 64-bit ring at xxh64(address, j); a key goes to the first point at or after its hash. Points
// depend only on the endpoint's own address and weight (the points per unit of weight are a power
// of two chosen from the ring's minimum size), so adding or removing an endpoint only moves the
// keys on its own arcs. Ineligible endpoints keep their points; a precomputed "next eligible point"
// per point sends their keys clockwise to the next eligible one, O(1), without a rebuild.
// Lookup: the top bits of the key's hash index a table of bucket starts (a few points per bucket
// on average), then a short search within the bucket: O(1) expected, two or three cache lines.
// Optional bounded load (Mirrokni et al.): with factor c > 0 an endpoint with active >= ceil(c *
// (total + 1) * weight / totalWeight) is passed over and the walk continues clockwise.

#include "proxy/lb/ring_hash.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "proxy/lb/hash.h"
#include "proxy/lb/internal.h"

namespace fulcrum::lb {
namespace {

constexpr uint64_t kMaxRingSize = uint64_t{1} << 21;
// Points per endpoint aimed for (before rounding): ~6% standard deviation of an endpoint's share.
constexpr uint64_t kPointsPerEndpoint = 256;

struct Ring {
  std::vector<HostWeight> hosts; // all with weight > 0
  std::vector<uint64_t> hashes;  // sorted
  std::vector<uint32_t> slot;    // hashes[i]'s host, into hosts
  // Points whose hash has top bits b start at bucketStart[b]; bucketStart has 2^bits + 1 entries.
  std::vector<uint32_t> bucketStart;
  int bits = 0;
  // First point at or after i whose host is eligible; empty when every host is eligible.
  std::vector<uint32_t> nextEligible;
  uint64_t eligibleWeight = 0;
  double boundedLoadFactor = 0;
  bool anyEligible = false;
};

class RingHash final : public LoadBalancer {
public:
  RingHash(std::shared_ptr<const Ring> ring, uint64_t seed) : ring_(std::move(ring)), rng_(seed) {}

  int64_t pick(const PickContext& context) override {
    const Ring& r = *ring_;
    if (!r.anyEligible) {
      return -1;
    }
    uint64_t hash = context.hash ? *context.hash : rng_.next();
    size_t bucket = r.bits == 0 ? 0 : static_cast<size_t>(hash >> (64 - r.bits));
    size_t point = r.bucketStart[bucket];
    size_t end = r.bucketStart[bucket + 1];
    while (point < end && r.hashes[point] < hash) {
      ++point;
    }
    if (point == r.hashes.size()) {
      point = 0;
    }
    point = next(point);
    const HostWeight& first = r.hosts[r.slot[point]];
    bool bounded = r.boundedLoadFactor > 0 && !context.activeRequests.empty();
    if (!bounded && static_cast<int64_t>(first.index) != context.avoid) {
      return first.index;
    }
    return walk(context, point, bounded);
  }

private:
  size_t next(size_t point) const {
    return ring_->nextEligible.empty() ? point : ring_->nextEligible[point];
  }

  // Clockwise from `point` (eligible) to the first eligible endpoint that is not avoided and, if
  // bounded, is under its load bound. Falls back to the endpoint at `point`.
  int64_t walk(const PickContext& context, size_t point, bool bounded) const {
    const Ring& r = *ring_;
    uint64_t total = 0;
    if (bounded) {
      total = context.activeRequestsTotal
                  ? *context.activeRequestsTotal
                  : std::accumulate(context.activeRequests.begin(), context.activeRequests.end(),
                                    uint64_t{0});
    }
    size_t start = point;
    int64_t fallback = -1; // first eligible, not avoided: used if every endpoint is over bound
    for (size_t steps = 0; steps < r.hashes.size(); ++steps) {
      const HostWeight& host = r.hosts[r.slot[point]];
      if (static_cast<int64_t>(host.index) != context.avoid) {
        if (!bounded) {
          return host.index;
        }
        if (fallback < 0) {
          fallback = host.index;
        }
        double bound = std::ceil(r.boundedLoadFactor * static_cast<double>(total + 1) *
                                 host.weight / static_cast<double>(r.eligibleWeight));
        uint64_t active =
            host.index < context.activeRequests.size() ? context.activeRequests[host.index] : 0;
        if (static_cast<double>(active) < bound) {
          return host.index;
        }
      }
      point = next(point + 1 == r.hashes.size() ? 0 : point + 1);
    }
    return fallback >= 0 ? fallback : r.hosts[r.slot[start]].index;
  }

  std::shared_ptr<const Ring> ring_;
  Rng rng_;
};

class RingHashFactory final : public LoadBalancerFactory {
public:
  explicit RingHashFactory(std::shared_ptr<const Ring> ring) : ring_(std::move(ring)) {}
  std::unique_ptr<LoadBalancer> create(uint64_t seed) const override {
    return std::make_unique<RingHash>(ring_, seed);
  }

private:
  std::shared_ptr<const Ring> ring_;
};

} // namespace

LoadBalancerFactorySharedPtr makeRingHashFactory(const config::Pool& pool,
                                                 std::vector<HostWeight> hosts) {
  auto ring = std::make_shared<Ring>();
  ring->boundedLoadFactor = pool.boundedLoadFactor;
  uint64_t totalWeight = 0;
  for (const HostWeight& h : hosts) {
    if (h.weight > 0) {
      ring->hosts.push_back(h);
      totalWeight += h.weight;
      if (h.eligible) {
        ring->eligibleWeight += h.weight;
        ring->anyEligible = true;
      }
    }
  }
  if (ring->hosts.empty()) {
    return std::make_shared<RingHashFactory>(std::move(ring));
  }

  // Points per unit of weight: 2^e, the smallest power of two reaching the target ring size
  // (max of the configured minimum and kPointsPerEndpoint per endpoint), lowered if the ring
  // would exceed kMaxRingSize. A power of two changes only when the total weight changes by a
  // large factor, so membership changes rarely rescale the ring.
  uint64_t minSize = std::max<uint64_t>(
      {pool.ringHashMinSize, std::min(kPointsPerEndpoint * ring->hosts.size(), kMaxRingSize), 1});
  int e = 0;
  while (std::ldexp(static_cast<double>(totalWeight), e) < static_cast<double>(minSize)) {
    ++e;
  }
  while (e > -63 && std::ldexp(static_cast<double>(totalWeight), e) >
                        static_cast<double>(std::max(kMaxRingSize, minSize))) {
    --e;
  }
  // Point j of an endpoint: mix64(xxh64(address) + j). Stable per endpoint, independent of the
  // others.
  std::vector<uint64_t> counts(ring->hosts.size());
  std::vector<uint64_t> bases(ring->hosts.size());
  uint64_t total = 0;
  for (uint32_t s = 0; s < ring->hosts.size(); ++s) {
    counts[s] =
        static_cast<uint64_t>(std::max(1.0, std::round(std::ldexp(ring->hosts[s].weight, e))));
    bases[s] = hashKey(detail::hostKey(&pool, ring->hosts[s]));
    total += counts[s];
  }
  // Bucket sort by the top `bits` bits (about 4 points per bucket), then sort each bucket.
  int bits = 0;
  while (bits < 30 && (uint64_t{4} << bits) < total) {
    ++bits;
  }
  ring->bits = bits;
  auto bucketOf = [bits](uint64_t h) {
    return bits == 0 ? 0 : static_cast<size_t>(h >> (64 - bits));
  };
  ring->bucketStart.assign((size_t{1} << bits) + 1, 0);
  for (uint32_t s = 0; s < ring->hosts.size(); ++s) {
    for (uint64_t j = 0; j < counts[s]; ++j) {
      ++ring->bucketStart[bucketOf(mix64(bases[s] + j)) + 1];
    }
  }
  for (size_t b = 1; b < ring->bucketStart.size(); ++b) {
    ring->bucketStart[b] += ring->bucketStart[b - 1];
  }
  ring->hashes.resize(total);
  ring->slot.resize(total);
  std::vector<uint32_t> fill(ring->bucketStart.begin(), ring->bucketStart.end() - 1);
  for (uint32_t s = 0; s < ring->hosts.size(); ++s) {
    for (uint64_t j = 0; j < counts[s]; ++j) {
      uint64_t h = mix64(bases[s] + j);
      uint32_t at = fill[bucketOf(h)]++;
      ring->hashes[at] = h;
      ring->slot[at] = s;
    }
  }
  fill = {};
  // Insertion sort per bucket (a handful of points each); equal hashes keep endpoint order.
  for (size_t b = 0; b + 1 < ring->bucketStart.size(); ++b) {
    for (size_t i = ring->bucketStart[b] + 1; i < ring->bucketStart[b + 1]; ++i) {
      uint64_t h = ring->hashes[i];
      uint32_t s = ring->slot[i];
      size_t k = i;
      for (; k > ring->bucketStart[b] &&
             (ring->hashes[k - 1] > h || (ring->hashes[k - 1] == h && ring->slot[k - 1] > s));
           --k) {
        ring->hashes[k] = ring->hashes[k - 1];
        ring->slot[k] = ring->slot[k - 1];
      }
      ring->hashes[k] = h;
      ring->slot[k] = s;
    }
  }
  size_t n = total;
  if (ring->eligibleWeight == totalWeight) {
    return std::make_shared<RingHashFactory>(std::move(ring));
  }
  // nextEligible by two passes backwards around the circle.
  ring->nextEligible.assign(n, 0);
  uint32_t next = UINT32_MAX;
  for (size_t pass = 0; pass < 2; ++pass) {
    for (size_t i = n; i-- > 0;) {
      if (ring->hosts[ring->slot[i]].eligible) {
        next = static_cast<uint32_t>(i);
      }
      ring->nextEligible[i] = next == UINT32_MAX ? 0 : next;
    }
  }
  return std::make_shared<RingHashFactory>(std::move(ring));
}

} // namespace fulcrum::lb
