#pragma once

// Collects the diagnostics of one load and hands them out in document order (files in the order
// they were loaded, then line, then column), however late a check found them.
//
// Not thread-safe: one Reporter per load.

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "config/schema.h"

namespace fulcrum::config {

// A place in the user's documents: where, and the field path (`routes[0].rules[1]`).
struct Place {
  Location location;
  std::string path;

  // `routes[0].rules[1] (routes.yaml:12:9)`, used when a message points at a second place.
  std::string describe() const;
};

class Reporter {
public:
  // Files are ordered by their first call here.
  void beginFile(const std::string& file);

  void error(const Location& at, std::string path, std::string message);
  void error(const Place& at, std::string message) {
    error(at.location, at.path, std::move(message));
  }

  bool empty() const { return entries_.empty(); }
  size_t count() const { return entries_.size(); }

  // Every diagnostic, sorted in document order; stable for equal positions.
  std::vector<Diagnostic> take();

private:
  struct Entry {
    size_t fileOrder;
    size_t sequence;
    Diagnostic diagnostic;
  };

  size_t fileOrder(const std::string& file);

  std::unordered_map<std::string, size_t> files_;
  std::vector<Entry> entries_;
};

} // namespace fulcrum::config
