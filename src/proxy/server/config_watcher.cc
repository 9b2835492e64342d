#include "proxy/server/config_watcher.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace fulcrum::server {

ConfigWatcher::ConfigWatcher(boost::asio::io_context& io, std::string path,
                             std::function<void()> onChange, std::chrono::milliseconds debounce,
                             std::chrono::milliseconds maxDelay)
    : io_(io), path_(std::move(path)), onChange_(std::move(onChange)), debounce_(debounce),
      maxDelay_(std::max(maxDelay, debounce)), stream_(io), timer_(io) {
  std::filesystem::path p(path_);
  directory_ = p.has_parent_path() ? p.parent_path().string() : ".";
  name_ = p.filename().string();
}

ConfigWatcher::~ConfigWatcher() {
  stop();
}

Result<bool> ConfigWatcher::start() {
  struct stat st {};
  watchAll_ = ::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return Error{fmt::format("inotify_init1: {}", std::strerror(errno))};
  }
  const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY;
  if (::inotify_add_watch(fd, directory_.c_str(), mask) < 0) {
    auto err = Error{fmt::format("inotify watch {}: {}", directory_, std::strerror(errno))};
    ::close(fd);
    return err;
  }
  stream_.assign(fd);
  read();
  return true;
}

void ConfigWatcher::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  timer_.cancel();
  stream_.close(ec);
}

void ConfigWatcher::read() {
  stream_.async_read_some(
      boost::asio::buffer(buffer_), [this](const boost::system::error_code& ec, size_t n) {
        if (ec || stopped_) {
          return;
        }
        bool relevant = false;
        for (size_t offset = 0; offset + sizeof(inotify_event) <= n;) {
          const auto* event = reinterpret_cast<const inotify_event*>(buffer_ + offset);
          const std::string_view name =
              event->len > 0 ? std::string_view(event->name) : std::string_view();
          if (watchAll_ || name == name_ || (event->mask & IN_Q_OVERFLOW) != 0) {
            relevant = true;
          }
          offset += sizeof(inotify_event) + event->len;
        }
        if (relevant) {
          schedule();
        }
        read();
      });
}

void ConfigWatcher::schedule() {
  const auto now = std::chrono::steady_clock::now();
  if (!pending_) {
    pending_ = true;
    pendingSince_ = now;
  }
  timer_.expires_at(std::min(now + debounce_, pendingSince_ + maxDelay_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) {
      return; // cancelled by a newer schedule() (which re-armed it) or by stop()
    }
    pending_ = false;
    onChange_();
  });
}

} // namespace fulcrum::server
