#pragma once

// Result<T>: the data plane's error channel (no exceptions on the request path). A small stand-in
// for C++23 std::expected: holds either a value or an Error.

#include <string>
#include <utility>
#include <variant>

namespace fulcrum {

struct Error {
  std::string message;
};

template <class T> class Result {
public:
  Result(T value) : v_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {} // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

private:
  std::variant<T, Error> v_;
};

} // namespace fulcrum
