#pragma once

// SpscByteRing: a bounded byte queue from exactly one producer thread (a worker) to exactly one
// consumer thread (the access-log writer, the span exporter). The producer appends whole records
// or nothing, so the consumer only ever sees complete records; when the ring is full the record
// is refused and the producer counts the drop. Neither side ever blocks or takes a lock: the
// producer's cost is a memcpy and one release store (plus an acquire load of the consumer's
// position when its cached copy says the ring looks full).
//
// Threading: push() and dropped() increments on the producer thread only; peek()/consume() on
// the consumer thread only; dropped() may be read from any thread.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace fulcrum::access_log {

// Padding is deliberate: producer and consumer fields sit on separate cache lines.
class SpscByteRing { // NOLINT(clang-analyzer-optin.performance.Padding)
public:
  // `capacity` is rounded up to a power of two (at least 4 KiB).
  explicit SpscByteRing(size_t capacity) {
    size_t c = 4096;
    while (c < capacity) {
      c <<= 1;
    }
    capacity_ = c;
    data_ = std::make_unique<char[]>(c);
  }
  SpscByteRing(const SpscByteRing&) = delete;
  SpscByteRing& operator=(const SpscByteRing&) = delete;

  size_t capacity() const { return capacity_; }

  // Producer. Appends `record` whole, or returns false (nothing written, drop counted).
  bool push(std::string_view record) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (capacity_ - (head - cachedTail_) < record.size()) {
      cachedTail_ = tail_.load(std::memory_order_acquire);
      if (capacity_ - (head - cachedTail_) < record.size()) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    const auto at = static_cast<size_t>(head & (capacity_ - 1));
    const size_t first = std::min(record.size(), capacity_ - at);
    std::memcpy(data_.get() + at, record.data(), first);
    if (first < record.size()) {
      std::memcpy(data_.get(), record.data() + first, record.size() - first);
    }
    head_.store(head + record.size(), std::memory_order_release);
    return true;
  }

  // Consumer. The readable bytes as up to two views (the second is non-empty when they wrap);
  // returns their total size. The views stay valid until consume().
  size_t peek(std::string_view& first, std::string_view& second) const {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    const auto size = static_cast<size_t>(head - tail);
    const auto at = static_cast<size_t>(tail & (capacity_ - 1));
    const size_t n1 = std::min(size, capacity_ - at);
    first = std::string_view(data_.get() + at, n1);
    second = std::string_view(data_.get(), size - n1);
    return size;
  }

  // Consumer. Releases the first `n` readable bytes to the producer.
  void consume(size_t n) {
    tail_.store(tail_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

  // Records refused because the ring was full.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  alignas(64) std::atomic<uint64_t> head_{0}; // written by the producer
  uint64_t cachedTail_ = 0;                   // the producer's last look at tail_
  std::atomic<uint64_t> dropped_{0};          // written by the producer
  alignas(64) std::atomic<uint64_t> tail_{0}; // written by the consumer
};

} // namespace fulcrum::access_log
