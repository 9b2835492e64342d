#include "proxy/server/config_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fulcrum::server {

namespace {

constexpr std::string_view kFormat = "fulcrum-proxy-cache 1";
constexpr std::string_view kFileName = "last-good.json";

std::string errnoText(int error) {
  return std::strerror(error);
}

Result<bool> writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error{fmt::format("cannot write {}: {}", path, errnoText(errno))};
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Result<bool> fsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    return Error{fmt::format("cannot open {}: {}", path, errnoText(errno))};
  }
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) {
    return Error{fmt::format("cannot fsync {}: {}", path, errnoText(error))};
  }
  return true;
}

} // namespace

ConfigCache::ConfigCache(std::string dir) : dir_(std::move(dir)) {}

std::string ConfigCache::path() const {
  return dir_ + "/" + std::string(kFileName);
}

Result<std::optional<CachedConfig>> ConfigCache::read() const {
  const std::string file = path();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec) && !ec) {
    return std::optional<CachedConfig>();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Error{fmt::format("cannot read {}: {}", file, errnoText(errno))};
  }
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto field = [&json](const char* name) -> const nlohmann::json* {
    auto it = json.find(name);
    return it == json.end() ? nullptr : &*it;
  };
  if (!json.is_object() || field("format") == nullptr || *field("format") != kFormat) {
    return Error{fmt::format("{}: not a fulcrum-proxy cache file ({:?} expected)", file, kFormat)};
  }
  const auto* revision = field("revision");
  const auto* hash = field("hash");
  const auto* config = field("config");
  if (revision == nullptr || !revision->is_number_unsigned() || hash == nullptr ||
      !hash->is_string() || config == nullptr || !config->is_string()) {
    return Error{fmt::format("{}: revision, hash or config missing", file)};
  }
  CachedConfig entry;
  entry.revision = revision->get<uint64_t>();
  entry.hash = hash->get<std::string>();
  entry.config = config->get<std::string>();
  if (const auto* store = field("store"); store != nullptr && store->is_string()) {
    entry.store = store->get<std::string>();
  }
  if (const auto* saved = field("savedAt"); saved != nullptr && saved->is_string()) {
    entry.savedAt = saved->get<std::string>();
  }
  return std::optional<CachedConfig>(std::move(entry));
}

Result<bool> ConfigCache::write(const CachedConfig& entry) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return Error{fmt::format("cannot create {}: {}", dir_, ec.message())};
  }
  const nlohmann::json json = {{"format", kFormat},        {"revision", entry.revision},
                               {"hash", entry.hash},       {"store", entry.store},
                               {"savedAt", entry.savedAt}, {"config", entry.config}};
  const std::string text = json.dump(2) + "\n";
  static std::atomic<uint64_t> counter{0};
  const std::string temp = fmt::format("{}/.{}.tmp.{}.{}", dir_, kFileName, ::getpid(), ++counter);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{fmt::format("cannot create {}: {}", temp, errnoText(errno))};
  }
  auto written = writeAll(fd, text, temp);
  if (written && ::fsync(fd) != 0) {
    written = Error{fmt::format("cannot fsync {}: {}", temp, errnoText(errno))};
  }
  ::close(fd);
  if (written && ::rename(temp.c_str(), path().c_str()) != 0) {
    written = Error{fmt::format("cannot rename {} to {}: {}", temp, path(), errnoText(errno))};
  }
  if (!written) {
    ::unlink(temp.c_str());
    return written;
  }
  return fsyncPath(dir_, O_RDONLY | O_DIRECTORY);
}

std::string defaultCacheDir(std::string_view id) {
  const std::string leaf = fmt::format("fulcrum/proxy-{}", id);
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return fmt::format("{}/{}", state, leaf);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return fmt::format("{}/.local/state/{}", home, leaf);
  }
  return fmt::format("./run/cache/proxy-{}", id);
}

} // namespace fulcrum::server
