#include <fmt/format.h>

#include "store/config_store.h"
#include "store/etcd_store.h"
#include "store/file_store.h"

namespace fulcrum::store {

Result<std::unique_ptr<ConfigStore>> openStore(std::string_view url, const StoreOptions& options) {
  constexpr std::string_view kFile = "file://";
  constexpr std::string_view kEtcd = "etcd://";
  if (url.substr(0, kFile.size()) == kFile) {
    // file:///abs/dir, or file://./rel/dir relative to the working directory.
    std::string path(url.substr(kFile.size()));
    while (path.size() > 1 && path.back() == '/') {
      path.pop_back();
    }
    if (path.empty()) {
      return Error{
          fmt::format("store URL {:?}: no directory (file:///abs/dir or file://./dir)", url)};
    }
    auto store = openFileStore(path, options);
    if (!store) {
      return Error{fmt::format("store {}: {}", url, store.error().message)};
    }
    return store;
  }
  if (url.substr(0, kEtcd.size()) == kEtcd) {
    auto config = parseEtcdUrl(url);
    if (!config) {
      return Error{fmt::format("store URL {:?}: {}", url, config.error().message)};
    }
    return openEtcdStore(config.value(), options);
  }
  return Error{fmt::format("store URL {:?}: expected file:///DIR or etcd://HOST:PORT[,...]", url)};
}

} // namespace fulcrum::store
