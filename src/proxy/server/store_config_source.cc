#include "proxy/server/store_config_source.h"

#include <pthread.h>

#include <cstdio>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "store/codec.h"

namespace fulcrum::server {

namespace {

template <class... Args> void logLine(fmt::format_string<Args...> format, Args&&... args) {
  std::string line = fmt::format(format, std::forward<Args>(args)...);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string revisionText(uint64_t revision) {
  return revision == 0 ? std::string("no revision") : fmt::format("revision {}", revision);
}

constexpr std::chrono::milliseconds kRetryFirst{200};
constexpr std::chrono::milliseconds kRetryMax{5000};

} // namespace

StoreConfigSource::StoreConfigSource(boost::asio::io_context& io, StoreSourceOptions options,
                                     const TimeSource& time)
    : io_(io), options_(std::move(options)), time_(time), bootTimer_(io) {}

StoreConfigSource::~StoreConfigSource() {
  stop();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (reporter_.joinable()) {
    reporter_.join(); // deregisters the instance (best effort, bounded by the store's timeout)
  }
}

template <class F> void StoreConfigSource::postToMain(F&& f) {
  boost::asio::post(io_, [alive = alive_, f = std::forward<F>(f)]() mutable {
    if (*alive) {
      f();
    }
  });
}

Result<bool> StoreConfigSource::start(const SourceContext& context, Deliver deliver) {
  deliver_ = std::move(deliver);
  pacer_ = context.pacer;
  cache_ = std::make_unique<ConfigCache>(options_.cacheDir.empty() ? defaultCacheDir(context.id)
                                                                   : options_.cacheDir);
  auto opened = store::openStore(options_.url, options_.store);
  if (!opened) {
    return Error{opened.error().message};
  }
  store_ = std::move(opened.value());
  logLine("fulcrum-proxy: config from store {} as instance {} (cache {})", store_->describe(),
          context.id, cache_->path());

  {
    std::lock_guard lock(mutex_);
    status_.id = context.id;
    status_.adminAddress = context.adminAddress;
    status_.version = context.version;
    statusDirty_ = true;
    probe_ = true; // the boot probe: is there a current revision, can we reach the store?
  }
  reporter_ = std::thread([this] { runReporter(); });
  (void)::pthread_setname_np(reporter_.native_handle(), "store-reporter");

  auto watch = store_->watch(0, [this](const store::WatchEvent& event) {
    // Store thread: only post.
    if (event.revision) {
      // Latest state: while the main thread is busy (a big config compiles), newer revisions
      // replace the waiting one instead of queueing behind it; at most one post is pending.
      {
        std::lock_guard lock(pendingMutex_);
        pending_ = *event.revision;
        if (pendingPosted_) {
          return;
        }
        pendingPosted_ = true;
      }
      postToMain([this] {
        onHealth(true, "");
        // Paced: while the pacer holds this back, pendingPosted_ stays set, so newer revisions
        // only replace pending_; the one taken when the budget allows is the newest.
        auto take = [this] {
          std::optional<store::Revision> revision;
          {
            std::lock_guard lock(pendingMutex_);
            revision.swap(pending_);
            pendingPosted_ = false;
          }
          if (revision) {
            onRevision(std::move(*revision), "store");
          }
        };
        if (pacer_ != nullptr) {
          pacer_->submit(std::move(take));
        } else {
          take();
        }
      });
    } else {
      postToMain(
          [this, healthy = event.healthy, error = event.error] { onHealth(healthy, error); });
    }
  });
  if (!watch) {
    return Error{fmt::format("watching {}: {}", options_.url, watch.error().message)};
  }
  watch_ = std::move(watch.value());

  bootTimer_.expires_after(options_.bootWait);
  bootTimer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!ec && *alive) {
      bootFromCache(fmt::format("no answer from store {} within {} ms", options_.url,
                                options_.bootWait.count()));
    }
  });
  return true;
}

void StoreConfigSource::refresh(std::string_view) {
  {
    std::lock_guard lock(mutex_);
    probe_ = true;
  }
  wake_.notify_all();
}

void StoreConfigSource::stop() {
  *alive_ = false;
  deliver_ = nullptr;
  if (pacer_ != nullptr) {
    pacer_->cancel();
  }
  bootTimer_.cancel();
  watch_.reset(); // waits for a running watch callback (which only posts)
}

// ---------------------------------------------------------------------------------------------
// Main thread

void StoreConfigSource::onRevision(store::Revision revision, std::string_view reason) {
  const uint64_t number = revision.meta.number;
  if (!deliver_ || number <= offered_) {
    return; // seen already (the boot probe and the watch both deliver the first one)
  }
  offered_ = number;
  ConfigCandidate candidate;
  candidate.loaded = config::loadString(revision.config, fmt::format("revision {}", number));
  candidate.label = fmt::format("store revision {}", number);
  candidate.revision = number;
  candidate.reason = std::string(reason);
  offer_ = std::move(revision);
  deliver_(std::move(candidate));
  offer_.reset();
}

void StoreConfigSource::onHealth(bool healthy, const std::string& error) {
  if (healthy == storeHealthy_) {
    return;
  }
  storeHealthy_ = healthy;
  if (healthy) {
    logLine("fulcrum-proxy: store {} reachable again", options_.url);
    return;
  }
  logLine("fulcrum-proxy: store {} unreachable: {}; {}", options_.url, error,
          appliedRevision_ != 0 ? fmt::format("still serving revision {}", appliedRevision_)
                                : std::string("no config applied yet"));
  bootFromCache(fmt::format("store {} unreachable: {}", options_.url, error));
}

void StoreConfigSource::onProbe(Result<std::optional<store::Revision>> current) {
  if (!current) {
    bootFromCache(fmt::format("store {} unreachable: {}", options_.url, current.error().message));
  } else if (!current.value()) {
    bootFromCache(fmt::format("store {} has no revision yet", options_.url));
  } else {
    onRevision(std::move(*current.value()), "store");
  }
}

void StoreConfigSource::bootFromCache(const std::string& why) {
  if (appliedAny_ || cacheTried_ || !deliver_) {
    return; // serving something already, or the cache had its one chance
  }
  cacheTried_ = true;
  bootTimer_.cancel();
  auto cached = cache_->read();
  if (!cached) {
    logLine("fulcrum-proxy: {}; cached config unusable: {}; not ready until the store answers", why,
            cached.error().message);
    return;
  }
  if (!cached.value()) {
    logLine("fulcrum-proxy: {}; no cached config in {}; not ready until the store answers", why,
            cache_->dir());
    return;
  }
  CachedConfig& entry = *cached.value();
  logLine("fulcrum-proxy: {}; booting from cached revision {} (saved {} from {}, {})", why,
          entry.revision, entry.savedAt, entry.store, cache_->path());
  ConfigCandidate candidate;
  candidate.loaded =
      config::loadString(entry.config, fmt::format("cached revision {}", entry.revision));
  if (candidate.loaded.hash != entry.hash) {
    logLine("fulcrum-proxy: cached revision {} is corrupt (hash {} expected, {} found); not ready "
            "until the store answers",
            entry.revision, entry.hash, candidate.loaded.hash);
    return;
  }
  candidate.label = fmt::format("cached revision {}", entry.revision);
  candidate.revision = entry.revision;
  candidate.reason = "store unavailable at boot";
  candidate.fromCache = true;
  deliver_(std::move(candidate));
}

void StoreConfigSource::applied(const ConfigCandidate& candidate) {
  appliedAny_ = true;
  bootTimer_.cancel();
  appliedRevision_ = candidate.revision;
  {
    std::lock_guard lock(mutex_);
    status_.appliedRevision = candidate.revision;
    statusDirty_ = true;
    if (!candidate.fromCache && offer_ && offer_->meta.number == candidate.revision) {
      cacheWrite_ = CachedConfig{candidate.revision, candidate.loaded.hash, options_.url,
                                 store::formatTime(time_.systemTime()), offer_->config};
    }
  }
  wake_.notify_all();
}

void StoreConfigSource::refused(const ConfigCandidate& candidate,
                                const std::vector<std::string>& errors) {
  if (candidate.fromCache) {
    return; // not a store revision: nothing to report (the log says why)
  }
  if (!appliedAny_) {
    // Booting, and the store's revision is refused: the last good one is the cached one.
    // Posted, not called: we are inside the server's apply().
    postToMain([this, why = fmt::format("store revision {} refused", candidate.revision)] {
      bootFromCache(why);
    });
  }
  {
    std::lock_guard lock(mutex_);
    status_.refusedRevision = candidate.revision;
    status_.errors = errors;
    statusDirty_ = true;
  }
  wake_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Reporter thread

void StoreConfigSource::runReporter() {
  std::unique_ptr<store::InstanceRegistration> registration;
  auto retryDelay = kRetryFirst;
  auto retryAt = std::chrono::steady_clock::time_point{};
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const bool registrationWanted = !registration || statusDirty_;
    if (probe_) {
      probe_ = false;
      lock.unlock();
      auto current = store_->current();
      postToMain([this, current = std::move(current)]() mutable { onProbe(std::move(current)); });
      lock.lock();
    } else if (cacheWrite_) {
      CachedConfig entry = std::move(*cacheWrite_);
      cacheWrite_.reset();
      lock.unlock();
      if (auto written = cache_->write(entry); !written) {
        logLine("fulcrum-proxy: cannot cache revision {}: {}", entry.revision,
                written.error().message);
      }
      lock.lock();
    } else if (registrationWanted && now >= retryAt) {
      store::InstanceStatus status = status_;
      statusDirty_ = false;
      lock.unlock();
      Result<bool> done = true;
      if (!registration) {
        auto registered = store_->registerInstance(status);
        if (registered) {
          registration = std::move(registered.value());
        } else {
          done = Error{registered.error().message};
        }
      } else {
        done = registration->update(status);
      }
      lock.lock();
      if (!done) {
        statusDirty_ = true;
        retryAt = std::chrono::steady_clock::now() + retryDelay;
        retryDelay = std::min(retryDelay * 2, kRetryMax);
        if (!failing) {
          logLine("fulcrum-proxy: cannot {} instance {} in store {}: {}; retrying",
                  registration ? "update" : "register", status.id, options_.url,
                  done.error().message);
        }
        failing = true;
      } else {
        if (failing) {
          logLine("fulcrum-proxy: instance {} registered in store {} ({} applied)", status.id,
                  options_.url, revisionText(status.appliedRevision));
        }
        failing = false;
        retryDelay = kRetryFirst;
      }
    } else if (registrationWanted) {
      wake_.wait_until(lock, retryAt);
    } else {
      wake_.wait(lock);
    }
  }
  lock.unlock();
  registration.reset(); // deregisters (best effort)
}

} // namespace fulcrum::server
