#include "proxy/snapshot/snapshot.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/cooperative_yield.h"
#include "proxy/snapshot/reclaimer.h"

namespace fulcrum::snapshot {

const ListenerInfo* Snapshot::findListener(std::string_view name) const {
  for (const auto& l : listeners) {
    if (l.listener->name == name) {
      return &l;
    }
  }
  return nullptr;
}

Result<SnapshotConstSharedPtr>
compileSnapshot(CompileInput input, stats::StatsSlots& slots,
                const std::shared_ptr<SnapshotReclaimer>& reclaimer) {
  auto snap = std::make_unique<Snapshot>();
  snap->generation = input.generation;
  snap->file = std::move(input.file);
  snap->hash = std::move(input.hash);
  snap->source = std::move(input.source);
  snap->compiledAt = input.now;
  snap->config = std::move(input.config);
  const config::Config& cfg = snap->config;

  for (const auto& listener : cfg.listeners) {
    auto addr = parseSocketAddress(listener.address, /*allowZeroPort=*/true);
    if (!addr) {
      return Error{fmt::format("listener {}: {}", listener.name, addr.error().message)};
    }
    snap->listeners.push_back(
        ListenerInfo{&listener, std::move(addr.value()), slots.listeners.slotFor(listener.name)});
  }

  for (const auto& pool : cfg.pools) {
    PoolInfo info;
    info.pool = &pool;
    info.statsSlot = slots.pools.slotFor(pool.name);
    std::vector<lb::HostWeight> hosts;
    for (size_t i = 0; i < pool.endpoints.size(); ++i) {
      yieldPoint();
      const auto& ep = pool.endpoints[i];
      auto addr = parseSocketAddress(ep.address);
      if (!addr) {
        return Error{fmt::format("pool {}: {}", pool.name, addr.error().message)};
      }
      boost::system::error_code ec;
      auto ip = boost::asio::ip::make_address(addr->host, ec);
      if (ec) {
        return Error{fmt::format("pool {}: endpoint {}: {}", pool.name, ep.address, ec.message())};
      }
      std::string address = addr->toString();
      const uint32_t slot =
          slots.endpoints.slotFor(stats::StatsSlots::endpointKey(pool.name, address));
      info.endpoints.push_back(EndpointInfo{
          std::move(address), boost::asio::ip::tcp::endpoint(ip, addr->port), ep.weight, slot});
      hosts.push_back(lb::HostWeight{static_cast<uint32_t>(i), ep.weight, true});
    }
    info.balancer = lb::makeLoadBalancerFactory(pool, std::move(hosts));
    if (!info.balancer) {
      return Error{fmt::format("pool {}: no load balancer for its algorithm", pool.name)};
    }
    snap->pools.push_back(std::move(info));
  }

  for (const auto& route : cfg.routes) {
    yieldPoint();
    snap->routeSlots.push_back(slots.routes.slotFor(route.name));
  }
  auto table = router::compileRouteTable(cfg, snap->routeSlots,
                                         input.previous ? input.previous->routes.get() : nullptr);
  if (!table) {
    return Error{fmt::format("routes: {}", table.error().message)};
  }
  snap->routes = std::move(table.value());

  snap->ruleFilters.resize(cfg.routes.size());
  for (size_t r = 0; r < cfg.routes.size(); ++r) {
    yieldPoint();
    const config::Route& route = cfg.routes[r];
    if (std::none_of(route.rules.begin(), route.rules.end(),
                     [](const config::Rule& rule) { return !rule.filters.empty(); })) {
      continue; // no rule of the route has filters: nothing reads its entry (hasFilters)
    }
    std::vector<RuleFilters> rules;
    for (const auto& rule : route.rules) {
      RuleFilters f;
      for (const auto& filter : rule.filters) {
        const config::HeaderModifier& m = filter.headers;
        switch (filter.type) {
        case config::FilterType::RequestHeaderModifier:
          f.requestRemove.insert(f.requestRemove.end(), m.remove.begin(), m.remove.end());
          for (const auto& h : m.set) {
            f.requestSet.push_back(http::HeaderField{h.name, h.value});
          }
          for (const auto& h : m.add) {
            f.requestAdd.push_back(http::HeaderField{h.name, h.value});
          }
          break;
        case config::FilterType::ResponseHeaderModifier:
          f.responseRemove.insert(f.responseRemove.end(), m.remove.begin(), m.remove.end());
          for (const auto& h : m.set) {
            f.responseSet.push_back(http::HeaderField{h.name, h.value});
          }
          for (const auto& h : m.add) {
            f.responseAdd.push_back(http::HeaderField{h.name, h.value});
          }
          break;
        case config::FilterType::UrlRewrite:
          f.rewrite = &filter.rewrite;
          break;
        case config::FilterType::RequestRedirect:
          f.redirect = &filter.redirect;
          break;
        }
      }
      rules.push_back(std::move(f));
    }
    snap->ruleFilters[r] = std::move(rules);
  }
  snap->routeSlotCount = static_cast<uint32_t>(slots.routes.size());
  snap->listenerSlotCount = static_cast<uint32_t>(slots.listeners.size());
  snap->poolSlotCount = static_cast<uint32_t>(slots.pools.size());
  snap->endpointSlotCount = static_cast<uint32_t>(slots.endpoints.size());
  if (reclaimer) {
    return reclaimer->manage(std::move(snap));
  }
  return SnapshotConstSharedPtr(std::move(snap));
}

} // namespace fulcrum::snapshot
