#pragma once

// Snapshot: one config revision compiled for the data plane, immutable once built.
//
// Built on the main thread (compileSnapshot allocates, compiles RE2, builds LB tables), published
// to every worker as shared_ptr<const Snapshot> (RCU: a worker swaps its pointer between requests;
// a request keeps the snapshot it started with alive until it ends). Nothing in here is mutated
// after compileSnapshot returns, so workers read it without locks.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "common/address.h"
#include "common/result.h"
#include "common/time_source.h"
#include "config/schema.h"
#include "proxy/http/forward.h"
#include "proxy/http/parser.h"
#include "proxy/lb/load_balancer.h"
#include "proxy/router/route_table.h"
#include "proxy/stats/metrics.h"

namespace fulcrum::snapshot {

struct EndpointInfo {
  std::string address; // as configured, "ip:port"; the key of the per-worker upstream pools
  boost::asio::ip::tcp::endpoint endpoint;
  uint32_t weight = 1;
  uint32_t statsSlot =
      0; // StatsSlots::endpoints ("pool" + address); 0 when endpoint series are off
};

struct PoolInfo {
  const config::Pool* pool = nullptr;  // owned by Snapshot::config
  std::vector<EndpointInfo> endpoints; // indexed like pool->endpoints
  lb::LoadBalancerFactorySharedPtr balancer;
  uint32_t statsSlot = 0; // StatsSlots::pools
};

struct ListenerInfo {
  const config::Listener* listener = nullptr; // owned by Snapshot::config
  SocketAddress address;
  uint32_t statsSlot = 0; // StatsSlots::listeners
};

// A rule's filters in the shape the data plane applies them: header edits as views into the
// snapshot's Config (what http::writeUpstreamRequestHead / writeDownstreamResponseHead take),
// the URL rewrite and the redirect, if any.
struct RuleFilters {
  std::vector<std::string_view> requestRemove;
  std::vector<http::HeaderField> requestSet;
  std::vector<http::HeaderField> requestAdd;
  std::vector<std::string_view> responseRemove;
  std::vector<http::HeaderField> responseSet;
  std::vector<http::HeaderField> responseAdd;
  const config::UrlRewrite* rewrite = nullptr;
  const config::Redirect* redirect = nullptr;

  http::HeaderEdits requestEdits() const { return {requestRemove, requestSet, requestAdd}; }
  http::HeaderEdits responseEdits() const { return {responseRemove, responseSet, responseAdd}; }
};

struct Snapshot {
  uint64_t generation = 0; // 1 for the first config, +1 per applied revision
  std::string file;        // where it was loaded from
  std::string hash;        // xxh64 of the source text
  std::string source;      // the source text
  SystemTime compiledAt;

  config::Config config;
  router::RouteTablePtr routes;        // points into `config`
  std::vector<PoolInfo> pools;         // indexed like config.pools
  std::vector<ListenerInfo> listeners; // indexed like config.listeners
  std::vector<uint32_t> routeSlots;    // stats slot per route index (RouteSlots)
  // [routeIndex][ruleIndex]; empty for a route none of whose rules has filters (read only for
  // rules with CompiledRule::hasFilters).
  std::vector<std::vector<RuleFilters>> ruleFilters;
  uint32_t routeSlotCount = 1;    // every slot < this
  uint32_t listenerSlotCount = 1; // every ListenerInfo::statsSlot < this
  uint32_t poolSlotCount = 1;     // every PoolInfo::statsSlot < this
  uint32_t endpointSlotCount = 1; // every EndpointInfo::statsSlot < this

  // The listener named `name`, or nullptr.
  const ListenerInfo* findListener(std::string_view name) const;
};

using SnapshotConstSharedPtr = std::shared_ptr<const Snapshot>;

struct CompileInput {
  config::Config config;
  std::string file;
  std::string hash;
  std::string source;
  uint64_t generation = 0;
  SystemTime now;
  // The snapshot this one replaces, if any: the route table takes over the compiled form of the
  // leading routes both configs share (router::compileRouteTable's `previous`). Only read.
  std::shared_ptr<const Snapshot> previous;
};

// Compiles a validated config. Fails only where the validator let something through (an
// endpoint address that is not an IP literal, a route table the router refuses). Assigns stats
// slots from `slots` (stable across reloads). Main thread. With a `reclaimer`, the snapshot is
// freed by the reclaimer's owner thread whichever thread drops the last reference.
class SnapshotReclaimer;
Result<SnapshotConstSharedPtr>
compileSnapshot(CompileInput input, stats::StatsSlots& slots,
                const std::shared_ptr<SnapshotReclaimer>& reclaimer = nullptr);

} // namespace fulcrum::snapshot
