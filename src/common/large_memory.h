#pragma once

// Memory for large arrays that requests index at random (route tables, per-route counters):
// blocks of 1 MiB and more are mapped 2 MiB-aligned with MADV_HUGEPAGE before they are first
// touched, so they get transparent huge pages where the kernel allows (one TLB entry per 2 MiB
// instead of per 4 KiB: a request that touches a few random places of a 100k-route table then
// misses the TLB far less). Smaller blocks use operator new. Blocks of at least kLargeBytes are
// mapped (and so come zeroed).
//
// Thread-safety: as operator new. Allocation failure throws std::bad_alloc (build time only: the
// request path does not allocate).

#include <cstddef>
#include <vector>

namespace fulcrum {

inline constexpr size_t kLargeBytes = size_t{1} << 20;
void* allocateLarge(size_t bytes, size_t alignment);
void deallocateLarge(void* p, size_t bytes, size_t alignment) noexcept;

template <class T> struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U> HugePageAllocator(const HugePageAllocator<U>&) noexcept {} // NOLINT
  T* allocate(size_t n) { return static_cast<T*>(allocateLarge(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, size_t n) noexcept { deallocateLarge(p, n * sizeof(T), alignof(T)); }
  template <class U> bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
};

template <class T> using LargeVector = std::vector<T, HugePageAllocator<T>>;

} // namespace fulcrum
