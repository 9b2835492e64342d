#pragma once

// Buffer: a connection's fixed-size byte buffer with a read window [begin, end).
//
// Sized from the listener's limits.bufferBytes when a session is created; grown only to hold a
// message head larger than that (up to the head limit), never to hold a body. Not thread-safe
// (one owner).

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include <boost/asio/buffer.hpp>

namespace fulcrum::net {

class Buffer {
public:
  void reserve(size_t capacity) {
    if (capacity > capacity_) {
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity); // untouched pages stay free
      if (end_ > begin_) {
        std::memcpy(bigger.get(), data_.get() + begin_, end_ - begin_);
      }
      end_ -= begin_;
      begin_ = 0;
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
  }
  // Frees memory beyond `capacity` (after a large head), keeping the readable bytes.
  void shrinkTo(size_t capacity) {
    if (capacity_ > capacity && size() <= capacity) {
      auto smaller = std::make_unique_for_overwrite<char[]>(capacity);
      if (size() > 0) {
        std::memcpy(smaller.get(), data_.get() + begin_, size());
      }
      end_ = size();
      begin_ = 0;
      data_ = std::move(smaller);
      capacity_ = capacity;
    }
  }

  size_t size() const { return end_ - begin_; }
  bool empty() const { return end_ == begin_; }
  size_t capacity() const { return capacity_; }
  size_t writable() const { return capacity_ - end_; }
  bool full() const { return begin_ == 0 && end_ == capacity_; }

  std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
  const char* readPtr() const { return data_.get() + begin_; }
  char* mutableReadPtr() { return data_.get() + begin_; }
  boost::asio::const_buffer readable(size_t n) const { return {data_.get() + begin_, n}; }
  boost::asio::mutable_buffer writeSpace() { return {data_.get() + end_, capacity_ - end_}; }

  void commit(size_t n) { end_ += n; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }
  void clear() { begin_ = end_ = 0; }
  // Moves the readable bytes to the front so that writeSpace() is as large as possible.
  void compact() {
    if (begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
  }

private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

} // namespace fulcrum::net
