#pragma once

// FileConfigSource (`--config FILE`): the standalone config file, re-read when it changes
// (ConfigWatcher: inotify on its directory, debounced; then paced by the ConfigPacer, which reads
// the file when the config CPU budget allows, so the newest text is what gets loaded) and on
// SIGHUP (at once). Main thread only.

#include <memory>
#include <string>

#include "config/decode_cache.h"
#include "proxy/server/config_source.h"
#include "proxy/server/config_watcher.h"

namespace fulcrum::server {

class FileConfigSource final : public ConfigSource {
public:
  FileConfigSource(boost::asio::io_context& io, std::string path);

  std::string describe() const override { return "file " + path_; }
  Result<bool> start(const SourceContext& context, Deliver deliver) override;
  void refresh(std::string_view reason) override;
  void applied(const ConfigCandidate&) override {}
  void refused(const ConfigCandidate&, const std::vector<std::string>&) override {}
  void stop() override;

private:
  void load(std::string_view reason);

  boost::asio::io_context& io_;
  std::string path_;
  // The previous load's routes: an unchanged route of a 10k-route file is not decoded again.
  config::DecodeCache cache_;
  Deliver deliver_;
  ConfigPacer* pacer_ = nullptr;
  std::unique_ptr<ConfigWatcher> watcher_;
};

} // namespace fulcrum::server
