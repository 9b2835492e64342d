#pragma once

// FlatTable: an immutable-after-build open-addressing hash table from (scope, string key) to a
// uint32_t, laid out for lookups with as few cache misses as possible: one probe usually reads a
// single cache-line-aligned slot that holds the full hash, the scope, the value and the first
// bytes of the key (keys that fit are compared in the slot; longer ones in a key arena). Linear
// probing at a load factor <= 1/2. Internal to the router.
//
// Thread-safety: build on one thread, then lookups from any number of threads.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/cooperative_yield.h"
#include "common/large_memory.h"

// xxhash inlined (static, namespaced by the header): hashing a short key is then a few
// instructions instead of a call through the shared library's PLT.
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

namespace fulcrum::router::detail {

using fulcrum::allocateLarge;
using fulcrum::deallocateLarge;
using fulcrum::HugePageAllocator;
using fulcrum::kLargeBytes;
using fulcrum::LargeVector;

// Like HugePageAllocator, for trivial types whose all-zero bytes are the empty value: memory
// comes zeroed (large blocks are fresh anonymous mappings, which the kernel zeroes; small ones are
// cleared here) and resize() does not write the elements again.
template <class T> struct ZeroedAllocator {
  static_assert(std::is_trivially_default_constructible_v<T>);
  using value_type = T;
  ZeroedAllocator() = default;
  template <class U> ZeroedAllocator(const ZeroedAllocator<U>&) noexcept {} // NOLINT
  T* allocate(size_t n) {
    void* p = allocateLarge(n * sizeof(T), alignof(T));
    if (n * sizeof(T) < kLargeBytes) {
      std::memset(p, 0, n * sizeof(T));
    }
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept { deallocateLarge(p, n * sizeof(T), alignof(T)); }
  // Default-initialization: the zeroed bytes stay as they are.
  template <class U> void construct(U* p) noexcept { ::new (static_cast<void*>(p)) U; }
  template <class U, class... Args> void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U> bool operator==(const ZeroedAllocator<U>&) const noexcept { return true; }
};

template <size_t InlineBytes> class FlatTable {
public:
  static constexpr uint32_t kNotFound = UINT32_MAX;

  // Inserts or finds (scope, key); returns a reference to the value (kNotFound if new).
  // Build time only; may rehash.
  uint32_t& insert(uint32_t scope, std::string_view key) {
    if ((size_ + 1) * 2 > slots_.size()) {
      grow();
    }
    uint64_t h = hash(scope, key);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.hash == 0) {
        s.hash = h;
        s.scope = scope;
        s.value = kNotFound;
        s.keyLen = static_cast<uint16_t>(key.size());
        if (key.size() <= InlineBytes) {
          std::memcpy(s.inlineKey, key.data(), key.size()); // compared in the slot only
        } else {
          s.keyOffset = static_cast<uint32_t>(arena_.size());
          arena_.insert(arena_.end(), key.begin(), key.end());
          std::memcpy(s.inlineKey, key.data(), InlineBytes);
        }
        ++size_;
        return s.value;
      }
      if (equal(s, h, scope, key)) {
        return s.value;
      }
    }
  }

  uint32_t find(uint32_t scope, std::string_view key) const {
    return find(hash(scope, key), scope, key);
  }

  // find() in two steps, for lookups that probe several keys: hash them all and prefetch their
  // slots first, then find() each; the probes' cache misses then overlap instead of following
  // one another.
  static uint64_t hash(uint32_t scope, std::string_view key) {
    uint64_t h = XXH3_64bits_withSeed(key.data(), key.size(), scope);
    return h == 0 ? 1 : h;
  }
  void prefetch(uint64_t h) const {
    if (!slots_.empty()) {
      __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
    }
  }
  // `h` must be hash(scope, key).
  uint32_t find(uint64_t h, uint32_t scope, std::string_view key) const {
    if (slots_.empty() || key.size() > UINT16_MAX) {
      return kNotFound;
    }
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.hash == 0) {
        return kNotFound;
      }
      if (equal(s, h, scope, key)) {
        return s.value;
      }
    }
  }

  // Longer keys cannot be stored (the caller rejects them at build time) and are never found.
  static constexpr size_t kMaxKey = UINT16_MAX;

  // Room for `n` keys without growing (load factor <= 1/2). Build time only, before inserting.
  void reserve(size_t n) {
    size_t slots = 16;
    while (slots < n * 2) {
      slots *= 2;
    }
    if (slots > slots_.size()) {
      SlotVector old;
      old.swap(slots_);
      slots_.resize(slots);
      rehash(old);
    }
  }

  // Copies the entries of `other` for which keep(scope, value) returns a value other than
  // kNotFound, under that value. Build time only, into an empty table (keys are unique in
  // `other`, so nothing is compared; their hashes are reused).
  template <class Keep> void copyFrom(const FlatTable& other, Keep keep) {
    for (const Slot& o : other.slots_) {
      yieldPoint();
      if (o.hash == 0) {
        continue;
      }
      const uint32_t value = keep(o.scope, o.value);
      if (value == kNotFound) {
        continue;
      }
      if ((size_ + 1) * 2 > slots_.size()) {
        grow();
      }
      const size_t mask = slots_.size() - 1;
      size_t i = o.hash & mask;
      while (slots_[i].hash != 0) {
        i = (i + 1) & mask;
      }
      Slot& s = slots_[i];
      s = o;
      s.value = value;
      if (o.keyLen > InlineBytes) {
        s.keyOffset = static_cast<uint32_t>(arena_.size());
        const auto* key = other.arena_.data() + o.keyOffset;
        arena_.insert(arena_.end(), key, key + o.keyLen);
      }
      ++size_;
    }
  }

  // Replaces every value v by f(v). Build time only.
  template <class F> void updateValues(F f) {
    for (Slot& s : slots_) {
      yieldPoint();
      if (s.hash != 0) {
        s.value = f(s.value);
      }
    }
  }

  void finish() { arena_.shrink_to_fit(); }

  size_t size() const { return size_; }
  size_t memoryBytes() const { return slots_.capacity() * sizeof(Slot) + arena_.capacity(); }

private:
  // Trivial, all zero when empty (ZeroedAllocator).
  struct alignas(InlineBytes + 22 <= 32 ? 32 : 64) Slot {
    uint64_t hash; // 0 = empty
    uint32_t scope;
    uint32_t value;
    uint32_t keyOffset; // into arena_, for keys longer than InlineBytes
    uint16_t keyLen;
    char inlineKey[InlineBytes]; // the key's first bytes (all of it when it fits)
  };
  static_assert(sizeof(Slot) == 32 || sizeof(Slot) == 64);
  using SlotVector = std::vector<Slot, ZeroedAllocator<Slot>>;

  bool equal(const Slot& s, uint64_t h, uint32_t scope, std::string_view key) const {
    if (s.hash != h || s.scope != scope || s.keyLen != key.size()) {
      return false;
    }
    if (key.size() <= InlineBytes) {
      return std::memcmp(s.inlineKey, key.data(), key.size()) == 0;
    }
    return std::memcmp(arena_.data() + s.keyOffset, key.data(), key.size()) == 0;
  }

  void grow() {
    SlotVector old;
    old.swap(slots_);
    slots_.resize(old.empty() ? 16 : old.size() * 2);
    rehash(old);
  }

  void rehash(const SlotVector& old) {
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      yieldPoint();
      if (s.hash == 0) {
        continue;
      }
      size_t i = s.hash & mask;
      while (slots_[i].hash != 0) {
        i = (i + 1) & mask;
      }
      slots_[i] = s;
    }
  }

  SlotVector slots_;
  LargeVector<char> arena_;
  size_t size_ = 0;
};

} // namespace fulcrum::router::detail
