#pragma once

// Shared helpers of the algorithms (not part of the interface).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proxy/lb/load_balancer.h"
#include "proxy/lb/rng.h"

namespace fulcrum::lb::detail {

// The eligible hosts with weight > 0, in input order.
std::vector<HostWeight> eligibleHosts(std::span<const HostWeight> hosts);

// The key consistent hashing uses for a host: its address in the pool, else "#<index>".
std::string hostKey(const config::Pool* pool, const HostWeight& host);

// Vose's alias table over weights: O(1) weighted sampling. Immutable after construction.
class AliasTable {
public:
  explicit AliasTable(std::span<const HostWeight> hosts);
  // A slot in [0, size()) with probability weight / total.
  uint32_t sample(Rng& rng) const {
    uint64_t r = rng.next();
    auto slot = static_cast<uint32_t>((static_cast<unsigned __int128>(r) * size_) >> 64);
    // The low bits of r are independent enough of the high bits used for the slot.
    return (r << 11) < threshold_[slot] ? slot : alias_[slot];
  }
  uint32_t size() const { return size_; }

private:
  uint32_t size_ = 0;
  std::vector<uint64_t> threshold_; // keep the slot when (r << 11) < threshold
  std::vector<uint32_t> alias_;
};

// Linear fallback for `avoid`: the next eligible slot after `slot` in `hosts`, or `slot`.
uint32_t nextOther(std::span<const HostWeight> hosts, uint32_t slot);

} // namespace fulcrum::lb::detail
