#include "config/cross_checks.h"

#include <arpa/inet.h>

#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

#include "common/cooperative_yield.h"
#include "config/lexical.h"

namespace fulcrum::config {

std::string canonicalAddress(const SocketAddress& address) {
  if (!address.ipv6) {
    return address.toString();
  }
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET6, address.host.c_str(), bytes) != 1 ||
      inet_ntop(AF_INET6, bytes, text, sizeof text) == nullptr) {
    return address.toString();
  }
  return fmt::format("[{}]:{}", text, address.port);
}

PlaceTable::~PlaceTable() {
  for (Slot& s : slots_) {
    yieldPoint();
    s.place.reset();
  }
}

uint64_t PlaceTable::hash(std::string_view key) {
  const uint64_t h = XXH3_64bits(key.data(), key.size());
  return h == 0 ? 1 : h;
}

const PlaceTable::Slot* PlaceTable::find(std::string_view key, uint64_t h, size_t& index) const {
  const size_t mask = slots_.size() - 1;
  for (index = h & mask;; index = (index + 1) & mask) {
    const Slot& s = slots_[index];
    if (s.hash == 0) {
      return nullptr;
    }
    if (s.hash == h && s.length == key.size() &&
        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      return &s;
    }
  }
}

const PlacePtr* PlaceTable::insert(std::string_view key, const PlacePtr& at) {
  if ((size_ + 1) * 2 > slots_.size()) {
    grow(slots_.empty() ? 64 : slots_.size() * 2);
  }
  const uint64_t h = hash(key);
  size_t index = 0;
  if (const Slot* s = find(key, h, index)) {
    return &s->place;
  }
  Slot& s = slots_[index];
  s.hash = h;
  s.offset = static_cast<uint32_t>(arena_.size());
  s.length = static_cast<uint32_t>(key.size());
  s.place = at;
  arena_.append(key);
  ++size_;
  return nullptr;
}

bool PlaceTable::contains(std::string_view key) const {
  size_t index = 0;
  return !slots_.empty() && find(key, hash(key), index) != nullptr;
}

void PlaceTable::reserve(size_t keys, size_t keyBytes) {
  size_t slots = 64;
  while (slots < keys * 2) {
    slots *= 2;
  }
  if (slots > slots_.size()) {
    grow(slots);
  }
  arena_.reserve(keys * keyBytes);
}

void PlaceTable::grow(size_t slots) {
  std::vector<Slot> old = vectorWithYieldPoints<Slot>(slots);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (Slot& s : old) {
    yieldPoint();
    if (s.hash == 0) {
      continue;
    }
    size_t i = s.hash & mask;
    while (slots_[i].hash != 0) {
      i = (i + 1) & mask;
    }
    slots_[i] = std::move(s);
  }
}

void CrossChecks::defineUnique(std::unordered_map<std::string, PlacePtr>& names,
                               std::string_view kind, const std::string& name, PlacePtr at) {
  auto [it, inserted] = names.try_emplace(name, at);
  if (!inserted) {
    reporter_.error(*at, fmt::format("duplicate {} name {}; first defined at {}", kind, quote(name),
                                     it->second->describe()));
  }
}

void CrossChecks::defineListener(const std::string& name, const Place& at) {
  defineUnique(listeners_, "listener", name, std::make_shared<const Place>(at));
}

void CrossChecks::listenerAddress(const SocketAddress& address, const Place& at) {
  // Port 0 asks the OS for a free port, so such listeners never collide.
  if (address.port == 0) {
    return;
  }
  std::string key = canonicalAddress(address);
  auto [it, inserted] = addresses_.try_emplace(key, nullptr);
  if (inserted) {
    it->second = std::make_shared<const Place>(at);
    return;
  }
  reporter_.error(at, fmt::format("duplicate listener address {}; also used at {}", key,
                                  it->second->describe()));
}

void CrossChecks::expectRoutes(size_t routes) {
  routes_.reserve(routes, 16);
  matches_.reserve(routes, 48);
  poolReferences_.reserve(routes);
}

void CrossChecks::defineRoute(const std::string& name, const PlacePtr& at) {
  if (const PlacePtr* first = routes_.insert(name, at)) {
    reporter_.error(*at, fmt::format("duplicate route name {}; first defined at {}", quote(name),
                                     (*first)->describe()));
  }
}

void CrossChecks::definePool(const std::string& name, const Place& at) {
  defineUnique(pools_, "pool", name, std::make_shared<const Place>(at));
}

void CrossChecks::referencePool(const std::string& name, PlacePtr at) {
  poolReferences_.emplace_back(name, std::move(at));
}

bool CrossChecks::defineMatch(std::string_view host, std::string_view key, const PlacePtr& at) {
  matchKey_.assign(host).push_back('\n');
  matchKey_.append(key);
  const PlacePtr* first = matches_.insert(matchKey_, at);
  if (first == nullptr) {
    return true;
  }
  std::string where =
      host.empty() ? std::string("on any host") : fmt::format("on host {}", quote(host));
  reporter_.error(*at, fmt::format("identical match {} already defined at {}; requests would "
                                   "never reach this one",
                                   where, (*first)->describe()));
  return false;
}

void CrossChecks::finish() {
  for (const auto& [name, at] : poolReferences_) {
    if (!pools_.contains(name)) {
      reporter_.error(*at, fmt::format("unknown pool {}", quote(name)));
    }
  }
}

} // namespace fulcrum::config
