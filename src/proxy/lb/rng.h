#pragma once

// Per-worker pseudo-random numbers for the balancers (xoshiro256**, seeded by splitmix64).
// Not thread-safe: each LoadBalancer owns one.

#include <cstdint>

#include "proxy/lb/hash.h"

namespace fulcrum::lb {

class Rng {
public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) {
      seed = mix64(seed);
      word = seed;
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0 (Lemire's multiply-shift; the bias is < bound / 2^64).
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

} // namespace fulcrum::lb
