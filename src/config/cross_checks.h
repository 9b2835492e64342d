#pragma once

// The validator's cross-object checks: names that must be unique (listeners, routes, pools),
// listener addresses that must not repeat, references that must resolve (rule backends -> pools)
// and rules that must not shadow each other (identical matches on the same host, across all
// routes). The decoder registers every definition and reference as it meets them; duplicates are
// reported at once, dangling references in finish(), once every document has been read.
//
// Every lookup is a hash-map operation, so a config with 100k routes costs O(n).
// Not thread-safe: one instance per load.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/address.h"
#include "config/reporter.h"

namespace fulcrum::config {

// `ip:port` with the IP in canonical text form, so that `[0:0::1]:80` and `[::1]:80` compare
// equal.
std::string canonicalAddress(const SocketAddress& address);

// Places are kept by shared pointer: a load registers several per route, and the decode cache
// replays the same ones load after load without copying their strings.
using PlacePtr = std::shared_ptr<const Place>;

// Keys (names, canonical matches) -> the place that defined them first. Open addressing over one
// slot array, the keys' bytes in one arena: an insert allocates nothing but amortized growth (a
// 10k-route config registers ~2 keys per route on every load).
class PlaceTable {
public:
  PlaceTable() = default;
  PlaceTable(const PlaceTable&) = delete;
  PlaceTable& operator=(const PlaceTable&) = delete;
  PlaceTable(PlaceTable&&) noexcept = default;
  PlaceTable& operator=(PlaceTable&&) noexcept = default;
  // Releases the places with yield points between them (ADR 0018).
  ~PlaceTable();

  // Registers `at` under `key` and returns null, or returns the place registered first.
  const PlacePtr* insert(std::string_view key, const PlacePtr& at);
  bool contains(std::string_view key) const;
  // Room for `keys` keys of about `keyBytes` bytes each without growing.
  void reserve(size_t keys, size_t keyBytes);

private:
  struct Slot {
    uint64_t hash = 0; // 0 = empty
    uint32_t offset = 0;
    uint32_t length = 0;
    PlacePtr place;
  };
  static uint64_t hash(std::string_view key);
  const Slot* find(std::string_view key, uint64_t h, size_t& index) const;
  void grow(size_t slots);

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

class CrossChecks {
public:
  explicit CrossChecks(Reporter& reporter) : reporter_(reporter) {}

  void defineListener(const std::string& name, const Place& at);
  void listenerAddress(const SocketAddress& address, const Place& at);
  // A hint: about `routes` routes will be defined (their names and matches are reserved for).
  void expectRoutes(size_t routes);
  void defineRoute(const std::string& name, const PlacePtr& at);
  void definePool(const std::string& name, const Place& at);
  void referencePool(const std::string& name, PlacePtr at);

  // Registers one match of a rule for one host ("" = any host). `key` is the match's canonical
  // form. Returns false (and reports) when an identical match exists for the same host.
  bool defineMatch(std::string_view host, std::string_view key, const PlacePtr& at);

  // Reports references to pools that no document defined.
  void finish();

private:
  void defineUnique(std::unordered_map<std::string, PlacePtr>& names, std::string_view kind,
                    const std::string& name, PlacePtr at);

  Reporter& reporter_;
  std::unordered_map<std::string, PlacePtr> listeners_;
  std::unordered_map<std::string, PlacePtr> addresses_;
  PlaceTable routes_;
  std::unordered_map<std::string, PlacePtr> pools_;
  std::vector<std::pair<std::string, PlacePtr>> poolReferences_;
  PlaceTable matches_;   // "host\nkey"
  std::string matchKey_; // scratch for defineMatch
};

} // namespace fulcrum::config
