#pragma once

// Hash keys for consistent hashing (ring_hash, maglev) and sticky weighted splits: xxh64 of the
// key's bytes (a header or cookie value, or the client IP's bytes). Stable across processes and
// versions, so every worker and every restart maps a key to the same place.

#include <cstdint>
#include <string_view>

#include <xxhash.h>

namespace fulcrum::lb {

inline uint64_t hashKey(std::string_view key, uint64_t seed = 0) {
  return XXH64(key.data(), key.size(), seed);
}

// A 64-bit finalizer (splitmix64's): spreads a hash or counter over all bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

} // namespace fulcrum::lb
