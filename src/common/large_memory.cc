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
    throw std::bad_alloc(); // tables and counters are sized at config time, never per request
  }
  char* const start = static_cast<char*>(raw);
  const size_t misalignment = reinterpret_cast<uintptr_t>(start) & (kHuge - 1);
  char* const aligned = misalignment == 0 ? start : start + (kHuge - misalignment);
  if (aligned > start) {
    munmap(start, static_cast<size_t>(aligned - start));
  }
  char* const end = start + size + kHuge;
  if (end > aligned + size) {
    munmap(aligned + size, static_cast<size_t>(end - (aligned + size)));
  }
  // Advisory: without THP support this changes nothing but speed.
  (void)madvise(aligned, size, MADV_HUGEPAGE);
  return aligned;
}

void deallocateLarge(void* p, size_t bytes, size_t alignment) noexcept {
  if (bytes < kLargeBytes) {
    ::operator delete(p, std::align_val_t(alignment));
    return;
  }
  munmap(p, mappedBytes(bytes));
}

} // namespace fulcrum
