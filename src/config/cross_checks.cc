#include "config/cross_checks.h"

#include <arpa/inet.h>

#include <fmt/format.h>

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

void CrossChecks::defineRoute(const std::string& name, PlacePtr at) {
  defineUnique(routes_, "route", name, std::move(at));
}

void CrossChecks::definePool(const std::string& name, const Place& at) {
  defineUnique(pools_, "pool", name, std::make_shared<const Place>(at));
}

void CrossChecks::referencePool(const std::string& name, PlacePtr at) {
  poolReferences_.emplace_back(name, std::move(at));
}

bool CrossChecks::defineMatch(std::string_view host, std::string_view key, const PlacePtr& at) {
  std::string full;
  full.reserve(host.size() + key.size() + 1);
  full.append(host).push_back('\n');
  full.append(key);
  auto [it, inserted] = matches_.try_emplace(std::move(full), at);
  if (inserted) {
    return true;
  }
  std::string where =
      host.empty() ? std::string("on any host") : fmt::format("on host {}", quote(host));
  reporter_.error(*at, fmt::format("identical match {} already defined at {}; requests would "
                                   "never reach this one",
                                   where, it->second->describe()));
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
