#pragma once

#include <vector>

#include "proxy/lb/load_balancer.h"

namespace fulcrum::lb {

LoadBalancerFactorySharedPtr makeRandomFactory(std::vector<HostWeight> hosts);

} // namespace fulcrum::lb
