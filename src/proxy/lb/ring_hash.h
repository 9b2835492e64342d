#pragma once

#include <vector>

#include "proxy/lb/load_balancer.h"

namespace fulcrum::lb {

LoadBalancerFactorySharedPtr makeRingHashFactory(const config::Pool& pool,
                                                 std::vector<HostWeight> hosts);

} // namespace fulcrum::lb
