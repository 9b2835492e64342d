#pragma once

#include <vector>

#include "proxy/lb/load_balancer.h"

namespace fulcrum::lb {

// The lookup table's size for `endpoints` endpoints: the smallest prime >= max(configured size,
// 100 x endpoints).
uint64_t maglevTableSize(uint64_t configured, size_t endpoints);

LoadBalancerFactorySharedPtr makeMaglevFactory(const config::Pool& pool,
                                               std::vector<HostWeight> hosts);

} // namespace fulcrum::lb
