#include "proxy/stats/metrics.h"

#include <algorithm>

namespace fulcrum::stats {

namespace {

template <class T, class A> void growTo(std::vector<T, A>& v, size_t n) {
  if (v.size() < n) {
    v.resize(n);
  }
}

void addClasses(StatusClasses& into, const StatusClasses& from) {
  for (size_t c = 0; c < into.size(); ++c) {
    into[c] += from[c];
  }
}

} // namespace

void WorkerStats::reserveSlots(size_t routeCount, size_t listenerCount, size_t poolCount,
                               size_t endpointCount) {
  growTo(routes, routeCount);
  growTo(listeners, listenerCount);
  growTo(pools, poolCount);
  growTo(endpoints, endpointCount);
}

void WorkerStats::merge(const WorkerStats& other) {
#define FULCRUM_STATS_MERGE(field, name, help) field += other.field;
  FULCRUM_WORKER_COUNTERS(FULCRUM_STATS_MERGE)
  FULCRUM_WORKER_GAUGES(FULCRUM_STATS_MERGE)
#undef FULCRUM_STATS_MERGE
  for (size_t i = 0; i < flags.size(); ++i) {
    flags[i] += other.flags[i];
  }
  reserveSlots(other.routes.size(), other.listeners.size(), other.pools.size(),
               other.endpoints.size());
  for (size_t s = 0; s < other.routes.size(); ++s) {
    addClasses(routes[s].byClass, other.routes[s].byClass);
    routes[s].duration.merge(other.routes[s].duration);
  }
  for (size_t s = 0; s < other.listeners.size(); ++s) {
    ListenerCounters& l = listeners[s];
    const ListenerCounters& o = other.listeners[s];
    addClasses(l.byClass, o.byClass);
    l.connectionsTotal += o.connectionsTotal;
    l.connectionsRejected += o.connectionsRejected;
    l.connectionsActive += o.connectionsActive;
    l.bytesReceived += o.bytesReceived;
    l.bytesSent += o.bytesSent;
  }
  for (size_t s = 0; s < other.pools.size(); ++s) {
    PoolCounters& p = pools[s];
    const PoolCounters& o = other.pools[s];
    addClasses(p.byClass, o.byClass);
    p.responseTime.merge(o.responseTime);
    p.connectTime.merge(o.connectTime);
    p.connectionsTotal += o.connectionsTotal;
    p.connectFailures += o.connectFailures;
    p.connectionsActive += o.connectionsActive;
  }
  for (size_t s = 0; s < other.endpoints.size(); ++s) {
    EndpointCounters& e = endpoints[s];
    const EndpointCounters& o = other.endpoints[s];
    addClasses(e.byClass, o.byClass);
    e.connectionsTotal += o.connectionsTotal;
    e.connectFailures += o.connectFailures;
    e.connectionsActive += o.connectionsActive;
  }
}

uint32_t SlotTable::slotFor(std::string_view name) {
  if (!enabled_) {
    return kNone;
  }
  const std::string key(name);
  if (auto it = index_.find(key); it != index_.end()) {
    return it->second;
  }
  if (index_.size() >= maxSeries_) {
    if (overflowSlot_ == 0) {
      names_.emplace_back(kOverflow);
      overflowSlot_ = static_cast<uint32_t>(names_.size() - 1);
    }
    overflowedNames_.insert(key);
    return overflowSlot_;
  }
  names_.push_back(key);
  const auto slot = static_cast<uint32_t>(names_.size() - 1);
  index_.emplace(key, slot);
  return slot;
}

std::string StatsSlots::endpointKey(std::string_view pool, std::string_view address) {
  std::string key;
  key.reserve(pool.size() + 1 + address.size());
  key.append(pool);
  key.push_back(kEndpointKeySeparator);
  key.append(address);
  return key;
}

std::pair<std::string_view, std::string_view> StatsSlots::splitEndpointKey(std::string_view key) {
  const size_t sep = key.find(kEndpointKeySeparator);
  if (sep == std::string_view::npos) {
    return {key, key}; // the overflow slot (or slot 0)
  }
  return {key.substr(0, sep), key.substr(sep + 1)};
}

} // namespace fulcrum::stats
