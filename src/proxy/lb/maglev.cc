// Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted as in Envoy: each endpoint
// walks its own permutation of the table (offset and skip from two hashes of its address) and
// claims free slots in turns proportional to its weight. Lookup: table[hash % size], O(1).
//
// The table size is prime, at least pool.maglevTableSize (default 65537) and at least 100 x the
// endpoints. The primary table includes every endpoint, eligible or not; when some are
// ineligible, a second table over the eligible ones alone serves the keys that land on an
// ineligible endpoint. Keys of eligible endpoints therefore never move when others fail health
// checks, and no rebuild happens per request.

#include "proxy/lb/maglev.h"

#include <algorithm>

#include "proxy/lb/hash.h"
#include "proxy/lb/internal.h"

namespace fulcrum::lb {
namespace {

bool isPrime(uint64_t n) {
  if (n < 2) {
    return false;
  }
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

uint64_t nextPrime(uint64_t n) {
  while (!isPrime(n)) {
    ++n;
  }
  return n;
}

// The lookup table: slots of `hosts`, or empty if no host has weight.
std::vector<uint32_t> buildTable(const config::Pool& pool, std::span<const HostWeight> hosts,
                                 uint64_t size) {
  std::vector<uint32_t> table;
  if (hosts.empty()) {
    return table;
  }
  struct Walker {
    uint64_t offset;
    uint64_t skip;
    uint64_t next = 0;
    double weight;     // normalized to the largest weight: (0, 1]
    double target = 0; // claims so far, in units of the largest weight
  };
  uint32_t maxWeight = 0;
  for (const HostWeight& h : hosts) {
    maxWeight = std::max(maxWeight, h.weight);
  }
  std::vector<Walker> walkers;
  walkers.reserve(hosts.size());
  for (const HostWeight& h : hosts) {
    std::string key = detail::hostKey(&pool, h);
    walkers.push_back(Walker{hashKey(key, 0x6d61676c6576ULL) % size,
                             hashKey(key, 0x736b6970ULL) % (size - 1) + 1, 0,
                             static_cast<double>(h.weight) / maxWeight});
  }
  table.assign(size, UINT32_MAX);
  uint64_t filled = 0;
  for (uint64_t iteration = 1; filled < size; ++iteration) {
    for (uint32_t s = 0; s < walkers.size() && filled < size; ++s) {
      Walker& w = walkers[s];
      if (static_cast<double>(iteration) * w.weight < w.target) {
        continue; // a lighter endpoint waits for its turn
      }
      w.target += 1;
      uint64_t c;
      do {
        c = (w.offset + w.skip * w.next) % size;
        ++w.next;
      } while (table[c] != UINT32_MAX);
      table[c] = s;
      ++filled;
    }
  }
  return table;
}

struct Tables {
  std::vector<HostWeight> hosts;    // weight > 0, eligible or not
  std::vector<uint32_t> primary;    // slots of `hosts`
  std::vector<HostWeight> eligible; // when some of `hosts` are ineligible
  std::vector<uint32_t> fallback;   // slots of `eligible`
  bool anyEligible = false;
};

class Maglev final : public LoadBalancer {
public:
  Maglev(std::shared_ptr<const Tables> tables, uint64_t seed) : t_(std::move(tables)), rng_(seed) {}

  int64_t pick(const PickContext& context) override {
    const Tables& t = *t_;
    if (!t.anyEligible) {
      return -1;
    }
    uint64_t hash = context.hash ? *context.hash : rng_.next();
    int64_t chosen = lookup(hash);
    // Retries: rehash a few times, then take the next eligible endpoint in order.
    for (int attempt = 1; attempt <= 4 && chosen == context.avoid; ++attempt) {
      chosen = lookup(mix64(hash + attempt));
    }
    if (chosen == context.avoid) {
      std::span<const HostWeight> hosts = t.fallback.empty() ? t.hosts : t.eligible;
      for (uint32_t s = 0; s < hosts.size(); ++s) {
        if (static_cast<int64_t>(hosts[s].index) == chosen) {
          return hosts[detail::nextOther(hosts, s)].index;
        }
      }
    }
    return chosen;
  }

private:
  int64_t lookup(uint64_t hash) const {
    const Tables& t = *t_;
    const HostWeight& host = t.hosts[t.primary[hash % t.primary.size()]];
    if (host.eligible) {
      return host.index;
    }
    return t.eligible[t.fallback[hash % t.fallback.size()]].index;
  }

  std::shared_ptr<const Tables> t_;
  Rng rng_;
};

class MaglevFactory final : public LoadBalancerFactory {
public:
  explicit MaglevFactory(std::shared_ptr<const Tables> tables) : t_(std::move(tables)) {}
  std::unique_ptr<LoadBalancer> create(uint64_t seed) const override {
    return std::make_unique<Maglev>(t_, seed);
  }

private:
  std::shared_ptr<const Tables> t_;
};

} // namespace

uint64_t maglevTableSize(uint64_t configured, size_t endpoints) {
  return nextPrime(std::max<uint64_t>({configured, 100 * uint64_t{endpoints}, 3}));
}

LoadBalancerFactorySharedPtr makeMaglevFactory(const config::Pool& pool,
                                               std::vector<HostWeight> hosts) {
  auto t = std::make_shared<Tables>();
  for (const HostWeight& h : hosts) {
    if (h.weight > 0) {
      t->hosts.push_back(h);
    }
  }
  t->eligible = detail::eligibleHosts(t->hosts);
  t->anyEligible = !t->eligible.empty();
  uint64_t size = maglevTableSize(pool.maglevTableSize, t->hosts.size());
  t->primary = buildTable(pool, t->hosts, size);
  if (t->eligible.size() != t->hosts.size()) {
    uint64_t fallbackSize = maglevTableSize(pool.maglevTableSize, t->eligible.size());
    t->fallback = buildTable(pool, t->eligible, fallbackSize);
  } else {
    t->eligible.clear();
  }
  return std::make_shared<MaglevFactory>(std::move(t));
}

} // namespace fulcrum::lb
