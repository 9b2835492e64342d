#pragma once

// ConfigSource: where the proxy's config comes from. The server does not care which: a source
// hands it candidate documents, already parsed and validated by the one loader
// (config::loadFile / config::loadString), and the server compiles, applies or refuses each one
// exactly the same way, then tells the source the outcome.
//
// Implementations:
// - FileConfigSource (`--config FILE`): inotify on the file's directory, SIGHUP re-reads.
// - StoreConfigSource (`--store URL`): watches the store's current revision, caches the last good
//   one on local disk, boots from that cache when the store is unreachable, and registers the
//   instance in the store with the revision applied or refused.
//
// Threading: every method is called on the main thread (the server's io_context), and the
// `deliver` callback is only ever invoked there. A source that has threads of its own (the store
// client's) posts to the main io_context; it never calls the server from another thread.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/result.h"
#include "config/loader.h"
#include "proxy/server/config_pacer.h"

namespace fulcrum::server {

// One document offered to the server.
struct ConfigCandidate {
  config::LoadResult loaded; // the one loader's verdict; `loaded.hash` identifies the content
  std::string label;         // for logs and /config: "/etc/fulcrum.yaml", "store revision 42"
  uint64_t revision = 0;     // the store's revision number; 0 for a file
  std::string reason;        // why now: "start", "file change", "SIGHUP", "store", ...
  bool fromCache = false;    // read from the local last-known-good cache, not the store
};

// What the server knows about itself when the source starts.
struct SourceContext {
  std::string id;           // the instance id (--id)
  std::string adminAddress; // the admin listener's bound address (real port)
  std::string version;      // software version
  // Paces revisions that arrive on their own (file changes, store watch events): they go through
  // pacer->submit(), start-up and SIGHUP through runNow(). Owned by the server, outlives the
  // source; null = unpaced (tests).
  ConfigPacer* pacer = nullptr;
};

class ConfigSource {
public:
  using Deliver = std::function<void(ConfigCandidate)>;

  virtual ~ConfigSource() = default;

  // For logs and /config: "file /path/to/config.yaml", "store etcd://...".
  virtual std::string describe() const = 0;

  // Starts watching. `deliver` runs on the main thread, possibly before start() returns (the
  // file source delivers the file at once). An error means the source cannot work at all.
  virtual Result<bool> start(const SourceContext& context, Deliver deliver) = 0;

  // Look again now (SIGHUP).
  virtual void refresh(std::string_view reason) = 0;

  // The outcome of the server's attempt to apply `candidate` (called from within deliver, or
  // later; main thread). `errors` are formatted diagnostics.
  virtual void applied(const ConfigCandidate& candidate) = 0;
  virtual void refused(const ConfigCandidate& candidate,
                       const std::vector<std::string>& errors) = 0;

  // Stops delivering (drain). Idempotent.
  virtual void stop() = 0;
};

using ConfigSourceFactory = std::function<std::unique_ptr<ConfigSource>(boost::asio::io_context&)>;

} // namespace fulcrum::server
