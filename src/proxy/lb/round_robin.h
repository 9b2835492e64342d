#pragma once

#include <vector>

#include "proxy/lb/load_balancer.h"

namespace fulcrum::lb {

LoadBalancerFactorySharedPtr makeRoundRobinFactory(std::vector<HostWeight> hosts);

} // namespace fulcrum::lb
