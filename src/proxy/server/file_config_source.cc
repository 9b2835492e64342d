#include "proxy/server/file_config_source.h"

#include <cstdio>

#include <fmt/format.h>

namespace fulcrum::server {

FileConfigSource::FileConfigSource(boost::asio::io_context& io, std::string path)
    : io_(io), path_(std::move(path)) {}

Result<bool> FileConfigSource::start(const SourceContext& context, Deliver deliver) {
  deliver_ = std::move(deliver);
  pacer_ = context.pacer;
  watcher_ = std::make_unique<ConfigWatcher>(io_, path_, [this] {
    if (pacer_ != nullptr) {
      pacer_->submit([this] { load("file change"); });
    } else {
      load("file change");
    }
  });
  if (auto started = watcher_->start(); !started) {
    const std::string line =
        fmt::format("fulcrum-proxy: config watch disabled: {}\n", started.error().message);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  refresh("start");
  return true;
}

void FileConfigSource::refresh(std::string_view reason) {
  if (pacer_ != nullptr) {
    pacer_->runNow([this, reason] { load(reason); });
  } else {
    load(reason);
  }
}

void FileConfigSource::load(std::string_view reason) {
  if (!deliver_) {
    return;
  }
  ConfigCandidate candidate;
  candidate.loaded = config::loadFile(path_, cache_);
  candidate.label = path_;
  candidate.reason = std::string(reason);
  deliver_(std::move(candidate));
}

void FileConfigSource::stop() {
  if (watcher_) {
    watcher_->stop();
  }
  if (pacer_ != nullptr) {
    pacer_->cancel();
  }
  deliver_ = nullptr;
}

} // namespace fulcrum::server
