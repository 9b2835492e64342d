#pragma once

// The validator's cross-object checks: names that must be unique (listeners, routes, pools),
// listener addresses that must not repeat, references that must resolve (rule backends -> pools)
// and rules that must not shadow each other (identical matches on the same host, across all
// routes). The decoder registers every definition and reference as it meets them; duplicates are
// reported at once, dangling references in finish(), once every document has been read.
//
// Every lookup is a hash-map operation, so a config with 100k routes costs O(n).
// Not thread-safe: one instance per load.

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

class CrossChecks {
public:
  explicit CrossChecks(Reporter& reporter) : reporter_(reporter) {}

  void defineListener(const std::string& name, const Place& at);
  void listenerAddress(const SocketAddress& address, const Place& at);
  void defineRoute(const std::string& name, PlacePtr at);
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
  std::unordered_map<std::string, PlacePtr> routes_;
  std::unordered_map<std::string, PlacePtr> pools_;
  std::vector<std::pair<std::string, PlacePtr>> poolReferences_;
  std::unordered_map<std::string, PlacePtr> matches_;
};

} // namespace fulcrum::config
