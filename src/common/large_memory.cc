// Huge-page backed allocation (see large_memory.h).

#include "common/large_memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace fulcrum {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

size_t mappedBytes(size_t bytes) {
  return (bytes + kHuge - 1) & ~(kHuge - 1);
}

} // namespace

void* allocateLarge(size_t bytes, size_t alignment) {
  if (bytes < kLargeBytes) {
    return ::operator new(bytes, std::align_val_t(alignment));
  }
  // Over-map by 2 MiB, then trim to a 2 MiB-aligned range of whole huge pages.
  size_t size = mappedBytes(bytes);
  void* raw =
      mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    throw std::bad_alloc(); // build time only (main thread), never on the request path
  }
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHuge - 1) & ~(kHuge - 1);
  if (aligned > start) {
    munmap(raw, aligned - start);
  }
  uintptr_t end = start + size + kHuge;
  if (end > aligned + size) {
    munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  }
  // Advisory: without THP support this changes nothing but speed.
  (void)madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void deallocateLarge(void* p, size_t bytes, size_t alignment) noexcept {
  if (bytes < kLargeBytes) {
    ::operator delete(p, std::align_val_t(alignment));
    return;
  }
  munmap(p, mappedBytes(bytes));
}

} // namespace fulcrum
