#include <fmt/format.h>

#include "common/address.h"
#include "store/etcd_store.h"

namespace fulcrum::store {

Result<EtcdConfig> parseEtcdUrl(std::string_view url) {
  constexpr std::string_view kScheme = "etcd://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Error{"not an etcd:// URL"};
  }
  std::string_view rest = url.substr(kScheme.size());
  EtcdConfig config;
  if (size_t query = rest.find('?'); query != std::string_view::npos) {
    std::string_view params = rest.substr(query + 1);
    rest = rest.substr(0, query);
    constexpr std::string_view kPrefix = "prefix=";
    if (params.substr(0, kPrefix.size()) != kPrefix || params.size() == kPrefix.size() ||
        params[kPrefix.size()] != '/') {
      return Error{"the only query parameter is prefix=/NAME"};
    }
    config.prefix = std::string(params.substr(kPrefix.size()));
    while (config.prefix.size() > 1 && config.prefix.back() == '/') {
      config.prefix.pop_back();
    }
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view endpoint = rest.substr(0, comma);
    auto address = parseSocketAddress(endpoint);
    if (!address) {
      return Error{fmt::format("endpoint {:?}: {}", endpoint, address.error().message)};
    }
    config.endpoints.push_back(address->toString());
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (config.endpoints.empty()) {
    return Error{"no endpoints (etcd://HOST:PORT[,HOST:PORT...])"};
  }
  return config;
}

} // namespace fulcrum::store
