#pragma once

// StoreConfigSource (`--store URL`): the proxy as a client of the config store.
//
// - Watches the store's current revision (ConfigStore::watch, on the store's own thread) and
//   posts each new revision to the main io_context, where it is loaded by the one loader and
//   offered to the server. Revisions are offered in increasing order, each at most once; a
//   refused one is not offered again (the next write is).
// - Caches the last applied revision on local disk (ConfigCache, atomic replace) and boots from
//   that cache when the store cannot give a usable revision at start: unreachable, no answer
//   within `bootWait`, empty, or its current revision is refused. The store's revision replaces
//   the cached one as soon as one arrives that applies.
// - Registers the instance in the store (ConfigStore::registerInstance: etcd lease with
//   keep-alive, or heartbeat file) with its id, admin address, and the revisions it applied and
//   refused (with the errors); re-registers after failures and updates the record after every
//   apply or refusal.
//
// Threads: the public methods and everything that touches the server run on the main thread.
// Store I/O that may block (the boot probe, registration, status updates, cache writes) runs on
// one reporter thread owned by this object; watch callbacks run on the store's watch thread and
// only post to the main io_context.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/steady_timer.hpp>

#include "proxy/server/config_cache.h"
#include "proxy/server/config_source.h"
#include "store/config_store.h"

namespace fulcrum::server {

struct StoreSourceOptions {
  std::string url;      // file:///DIR or etcd://HOST:PORT[,...]
  std::string cacheDir; // empty: defaultCacheDir(id)
  // How long a booting proxy waits for the store before it serves its cached revision.
  std::chrono::milliseconds bootWait{3000};
  store::StoreOptions store;
};

class StoreConfigSource final : public ConfigSource {
public:
  StoreConfigSource(boost::asio::io_context& io, StoreSourceOptions options,
                    const TimeSource& time);
  ~StoreConfigSource() override;

  std::string describe() const override { return "store " + options_.url; }
  Result<bool> start(const SourceContext& context, Deliver deliver) override;
  void refresh(std::string_view reason) override;
  void applied(const ConfigCandidate& candidate) override;
  void refused(const ConfigCandidate& candidate, const std::vector<std::string>& errors) override;
  void stop() override;

private:
  // Main thread.
  void onRevision(store::Revision revision, std::string_view reason);
  void onHealth(bool healthy, const std::string& error);
  void onProbe(Result<std::optional<store::Revision>> current);
  void bootFromCache(const std::string& why);
  template <class F> void postToMain(F&& f);

  // Reporter thread.
  void runReporter();
  void wakeReporter();

  boost::asio::io_context& io_;
  StoreSourceOptions options_;
  const TimeSource& time_;
  std::unique_ptr<ConfigCache> cache_;
  std::unique_ptr<store::ConfigStore> store_;
  std::unique_ptr<store::WatchHandle> watch_;
  boost::asio::steady_timer bootTimer_;
  Deliver deliver_;
  ConfigPacer* pacer_ = nullptr; // see SourceContext::pacer
  // Guards posted handlers against running after stop() (main thread reads and writes it).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // Main thread only.
  uint64_t offered_ = 0;                 // highest store revision offered to the server
  std::optional<store::Revision> offer_; // the revision being offered (for the cache)
  bool appliedAny_ = false;              // a config (store or cache) is being served
  bool cacheTried_ = false;              // the cache had its one chance at boot
  bool storeHealthy_ = true;
  uint64_t appliedRevision_ = 0;

  // The newest revision from the watch not yet taken by the main thread, under pendingMutex_.
  std::mutex pendingMutex_;
  std::optional<store::Revision> pending_;
  bool pendingPosted_ = false;

  // Shared with the reporter thread, under mutex_.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool probe_ = false;                     // read current() and post the answer
  store::InstanceStatus status_;           // what the registration should say
  bool statusDirty_ = false;               // status_ changed since the last successful write
  std::optional<CachedConfig> cacheWrite_; // the newest entry waiting to be written
  std::thread reporter_;
};

} // namespace fulcrum::server
