#pragma once

// ConfigWatcher: tells the main thread when the config file may have changed.
//
// Watches the file's directory with inotify (not the file itself), so that editors and tools
// that replace the file by rename (vim, `mv tmp config.yaml`, Kubernetes ConfigMap symlink swaps)
// are seen as well as in-place writes. Events are debounced (a burst of writes is one callback):
// the callback runs `debounce` after the last event, but never later than `maxDelay` after the
// first event it covers, so that a file rewritten more often than `debounce` (a generator writing
// 10 revisions a second) is still picked up, newest text first, at least every `maxDelay`.
// The callback only says "look again": the server reloads and skips a revision whose hash it
// already runs. Main thread only.

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/result.h"

namespace fulcrum::server {

class ConfigWatcher {
public:
  ConfigWatcher(boost::asio::io_context& io, std::string path, std::function<void()> onChange,
                std::chrono::milliseconds debounce = std::chrono::milliseconds(100),
                std::chrono::milliseconds maxDelay = std::chrono::milliseconds(250));
  ~ConfigWatcher();

  Result<bool> start();
  void stop();

private:
  void read();
  void schedule();

  boost::asio::io_context& io_;
  std::string path_;
  std::string directory_;
  std::string name_;
  bool watchAll_ = false; // the path is a symlink: its target may change under any name
  std::function<void()> onChange_;
  std::chrono::milliseconds debounce_;
  std::chrono::milliseconds maxDelay_;
  bool pending_ = false;                               // a callback is scheduled
  std::chrono::steady_clock::time_point pendingSince_; // the first event it covers
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer timer_;
  alignas(8) char buffer_[8192];
  bool stopped_ = false;
};

} // namespace fulcrum::server
