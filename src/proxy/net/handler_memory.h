#pragma once

// Preallocated memory for a connection's asynchronous operations, so that starting a read or a
// write never reaches malloc (Asio's own per-thread cache holds only two blocks, far fewer than
// the operations a busy worker has in flight).
//
// A session owns one HandlerMemory and binds every completion handler to a HandlerAllocator over
// it (boost::asio::bind_allocator). A connection has at most a few operations outstanding at once
// (client read and write, upstream read and write, plus abandoned ones completing as aborted);
// more than kSlots, or an operation larger than kSlotBytes, falls back to the heap.
//
// Threading: one owner thread (the worker's), like the session itself.

#include <array>
#include <cstddef>
#include <new>

namespace fulcrum::net {

class HandlerMemory {
public:
  static constexpr size_t kSlots = 6;
  static constexpr size_t kSlotBytes = 384;

  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* allocate(size_t bytes) {
    if (bytes <= kSlotBytes) {
      for (size_t i = 0; i < kSlots; ++i) {
        if (!used_[i]) {
          used_[i] = true;
          return slots_[i].bytes;
        }
      }
    }
    return ::operator new(bytes);
  }

  void deallocate(void* pointer) {
    for (size_t i = 0; i < kSlots; ++i) {
      if (pointer == slots_[i].bytes) {
        used_[i] = false;
        return;
      }
    }
    ::operator delete(pointer);
  }

private:
  struct Slot {
    alignas(std::max_align_t) unsigned char bytes[kSlotBytes];
  };
  std::array<Slot, kSlots> slots_;
  std::array<bool, kSlots> used_{};
};

// The allocator Asio sees (rebound to its operation types).
template <class T> class HandlerAllocator {
public:
  using value_type = T;

  explicit HandlerAllocator(HandlerMemory& memory) : memory_(&memory) {}
  template <class U>
  HandlerAllocator(const HandlerAllocator<U>& other) noexcept // NOLINT(google-explicit-constructor)
      : memory_(other.memory_) {}

  T* allocate(size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
  void deallocate(T* pointer, size_t) { memory_->deallocate(pointer); }

  template <class U> bool operator==(const HandlerAllocator<U>& other) const noexcept {
    return memory_ == other.memory_;
  }
  template <class U> bool operator!=(const HandlerAllocator<U>& other) const noexcept {
    return memory_ != other.memory_;
  }

private:
  template <class U> friend class HandlerAllocator;
  HandlerMemory* memory_;
};

} // namespace fulcrum::net
