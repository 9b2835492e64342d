#pragma once

// The etcd store: a ConfigStore on an etcd v3 cluster, spoken to over gRPC with stubs generated
// at build time from the etcd .proto files Debian ships. Key layout: docs/store.md.
//
// - compareAndSwap() is one Txn: compare the current key's value, then put the revision's keys
//   and the new pointer; it either all happens or nothing does.
// - Requests go to one endpoint at a time and fail over to the next on an unavailable error.
// - Watches resume from the last seen etcd revision, re-read everything after a compaction,
//   request progress notifications and carry `hasleader=true` (require-leader), and reconcile
//   with a linearizable read every StoreOptions::reconcileInterval.
// - Instances hold a lease kept alive at TTL/3; a lost lease is re-granted and the key re-put.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/config_store.h"

namespace fulcrum::store {

struct EtcdConfig {
  std::vector<std::string> endpoints; // host:port
  std::string prefix = "/fulcrum";    // every key lives under PREFIX/v1/
};

// etcd://h:p[,h:p...][/][?prefix=/name]
Result<EtcdConfig> parseEtcdUrl(std::string_view url);

Result<std::unique_ptr<ConfigStore>> openEtcdStore(const EtcdConfig& config,
                                                   const StoreOptions& options);

} // namespace fulcrum::store
