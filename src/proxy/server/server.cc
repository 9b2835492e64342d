#include "proxy/server/server.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "proxy/net/listen_socket.h"
#include "proxy/server/file_config_source.h"

namespace fulcrum::server {

namespace {

constexpr int kListenBacklog = 4096;

std::string formatTime(SystemTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Everything the main thread says goes to stderr, one line per event; stdout carries only the
// machine-read lines ("listening NAME on ADDR", "admin on ADDR").
template <class... Args> void logLine(fmt::format_string<Args...> format, Args&&... args) {
  std::string line = fmt::format(format, std::forward<Args>(args)...);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// HOSTNAME-ADMINPORT: stable across restarts (so the store cache is found again), unique among
// the proxies of one host (they cannot share an admin port).
std::string defaultInstanceId(uint16_t adminPort) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == 0) {
    std::snprintf(host, sizeof(host), "fulcrum-proxy");
  }
  std::string id;
  for (const char* p = host; *p != 0; ++p) {
    const char c = *p;
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    id.push_back(safe ? c : '-');
  }
  return fmt::format("{}-{}", id, adminPort);
}

void announce(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

} // namespace

Server::Server(ServerOptions options, const TimeSource& time)
    : options_(std::move(options)), time_(time), io_(1), signals_(io_), drainTimer_(io_) {}

Server::~Server() {
  for (auto& worker : workers_) {
    worker->join();
  }
}

int Server::run() {
  auto adminAddress = parseSocketAddress(options_.adminAddress, /*allowZeroPort=*/true);
  if (!adminAddress) {
    logLine("fulcrum-proxy: --admin: {}", adminAddress.error().message);
    return 2;
  }
  admin_ = std::make_unique<admin::AdminServer>(
      io_, [this](const admin::AdminRequest& request, admin::Reply reply) {
        handleAdmin(request, std::move(reply));
      });
  auto adminPort = admin_->listen(adminAddress.value());
  if (!adminPort) {
    logLine("fulcrum-proxy: {}", adminPort.error().message);
    return 1;
  }
  SocketAddress bound = adminAddress.value();
  bound.port = adminPort.value();
  announce(fmt::format("admin on {}", bound.toString()));

  for (uint32_t i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, time_));
  }
  for (auto& worker : workers_) {
    worker->start();
  }

  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  std::function<void(const boost::system::error_code&, int)> onSignal =
      [this, &onSignal](const boost::system::error_code& ec, int signal) {
        if (ec) {
          return;
        }
        if (signal == SIGHUP) {
          if (source_ && !draining_) {
            source_->refresh("SIGHUP");
          }
        } else if (draining_) {
          logLine("fulcrum-proxy: second {} during drain: stopping now", strsignal(signal));
          finish();
          return;
        } else {
          startDrain(strsignal(signal));
        }
        signals_.async_wait(onSignal);
      };
  signals_.async_wait(onSignal);

  if (options_.id.empty()) {
    options_.id = defaultInstanceId(bound.port);
  }
  source_ = options_.configSource ? options_.configSource(io_)
                                  : std::make_unique<FileConfigSource>(io_, options_.configPath);
  SourceContext context{options_.id, bound.toString(), FULCRUM_VERSION};
  if (auto started = source_->start(
          context, [this](ConfigCandidate candidate) { apply(std::move(candidate)); });
      !started) {
    logLine("fulcrum-proxy: {}", started.error().message);
    exitCode_ = 1;
    finish();
  }

  io_.run();

  for (auto& worker : workers_) {
    if (!worker->joinFor(std::chrono::seconds(5))) {
      // A worker that does not wind down must not keep the process alive past its deadline.
      logLine("fulcrum-proxy: worker {} did not stop in time; exiting", worker->index());
      std::fflush(nullptr);
      std::_Exit(0);
    }
  }
  source_.reset(); // deregisters a store instance (may wait for the store's timeout)
  return exitCode_;
}

// ---------------------------------------------------------------------------------------------
// Config: load -> validate -> compile (here, off the workers) -> listeners -> publish

void Server::apply(ConfigCandidate candidate) {
  if (draining_) {
    return;
  }
  config::LoadResult& loaded = candidate.loaded;
  if (!loaded.ok()) {
    std::vector<std::string> errors;
    for (const auto& d : loaded.errors) {
      errors.push_back(d.format());
    }
    refuse(candidate, std::move(errors));
    return;
  }
  if (current_ && loaded.hash == current_->hash) {
    // The same content (editors write more than once; SIGHUP without a change; a rollback to the
    // running text; the store's revision of what was booted from the cache): nothing to
    // compile, but the source learns which revision this is.
    if (candidate.revision != appliedRevision_ || candidate.fromCache != appliedFromCache_) {
      appliedRevision_ = candidate.revision;
      appliedFromCache_ = candidate.fromCache;
      logLine("fulcrum-proxy: {} has the running content (hash {})", candidate.label,
              current_->hash);
    }
    source_->applied(candidate);
    return;
  }
  const MonotonicTime compileStart = time_.monotonicTime();
  snapshot::CompileInput input;
  input.config = std::move(*loaded.config);
  input.file = candidate.label;
  input.hash = loaded.hash;
  input.source = loaded.source;
  input.generation = generation_ + 1;
  input.now = time_.systemTime();
  auto compiled = snapshot::compileSnapshot(std::move(input), routeSlots_);
  if (!compiled) {
    refuse(candidate, {compiled.error().message});
    return;
  }
  snapshot::SnapshotConstSharedPtr snap = std::move(compiled.value());
  auto opened = openListeners(*snap);
  if (!opened) {
    refuse(candidate, {opened.error().message});
    return;
  }
  // Workers get the snapshot before any new listener, so that a new listener's first
  // connection finds its config (messages to a worker run in order).
  for (auto& worker : workers_) {
    worker->postSnapshot(snap);
  }
  commitListeners(*snap, std::move(opened.value()));
  ++generation_;
  ++reloadsSucceeded_;
  lastError_.clear();
  current_ = std::move(snap);
  appliedRevision_ = candidate.revision;
  appliedFromCache_ = candidate.fromCache;
  logLine(
      "fulcrum-proxy: applied {} hash {} ({}; compiled and published in {} ms)", candidate.label,
      current_->hash, candidate.reason,
      std::chrono::duration_cast<std::chrono::milliseconds>(time_.monotonicTime() - compileStart)
          .count());
  source_->applied(candidate);
}

void Server::refuse(const ConfigCandidate& candidate, std::vector<std::string> errors) {
  ++reloadsFailed_;
  lastError_.clear();
  if (candidate.revision != 0 && !candidate.fromCache) {
    refusedRevision_ = candidate.revision;
  }
  logLine("fulcrum-proxy: {} rejected ({}), {}:", candidate.label, candidate.reason,
          current_ ? "keeping hash " + current_->hash : "no config applied yet");
  for (const auto& e : errors) {
    logLine("  {}", e);
    lastError_ += e + "\n";
  }
  source_->refused(candidate, errors);
}

Result<std::vector<Server::OpenedListener>> Server::openListeners(const snapshot::Snapshot& snap) {
  using Opened = OpenedListener;
  std::vector<Opened> opened;
  auto closeOpened = [&opened] {
    for (auto& o : opened) {
      for (int fd : o.fds) {
        ::close(fd);
      }
    }
  };
  for (const auto& info : snap.listeners) {
    const config::Listener& l = *info.listener;
    bool kept = false;
    for (const auto& active : listeners_) {
      if (active.name == l.name && active.address == l.address) {
        kept = true;
      }
    }
    if (kept) {
      continue;
    }
    Opened o{l.name, l.address, info.address, {}};
    for (size_t w = 0; w < workers_.size(); ++w) {
      auto fd = net::openListenSocket(o.bound, kListenBacklog);
      if (!fd) {
        opened.push_back(std::move(o));
        closeOpened();
        return Error{fmt::format("listener {}: {}", l.name, fd.error().message)};
      }
      if (o.bound.port == 0) {
        auto port = net::boundPort(fd.value());
        if (port) {
          o.bound.port = port.value(); // every other worker joins this port
        }
      }
      o.fds.push_back(fd.value());
    }
    opened.push_back(std::move(o));
  }
  return opened;
}

void Server::commitListeners(const snapshot::Snapshot& snap, std::vector<OpenedListener> opened) {
  // Remove listeners that are gone or changed; existing connections stay up.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    bool keep = false;
    for (const auto& info : snap.listeners) {
      if (info.listener->name == it->name && info.listener->address == it->address) {
        keep = true;
      }
    }
    if (keep) {
      ++it;
      continue;
    }
    for (auto& worker : workers_) {
      worker->postRemoveListener(it->name);
    }
    logLine("fulcrum-proxy: closed listener {} on {}", it->name, it->bound.toString());
    it = listeners_.erase(it);
  }
  for (auto& o : opened) {
    for (size_t w = 0; w < workers_.size(); ++w) {
      workers_[w]->postAddListener(o.name, o.fds[w], o.bound.ipv6);
    }
    announce(fmt::format("listening {} on {}", o.name, o.bound.toString()));
    listeners_.push_back(ActiveListener{o.name, o.address, o.bound});
  }
}

// ---------------------------------------------------------------------------------------------
// Drain

void Server::startDrain(std::string_view why) {
  draining_ = true; // /readyz answers 503 from now on
  logLine("fulcrum-proxy: {}: draining (deadline {} ms)", why, options_.drainTimeout.count());
  if (source_) {
    source_->stop();
  }
  drainTimer_.expires_after(options_.drainTimeout);
  drainTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      logLine("fulcrum-proxy: drain deadline reached, closing remaining connections");
      finish();
    }
  });
  for (auto& worker : workers_) {
    worker->postDrain([this] {
      boost::asio::post(io_, [this] {
        if (++drainedWorkers_ == workers_.size()) {
          logLine("fulcrum-proxy: drained");
          finish();
        }
      });
    });
  }
  listeners_.clear();
}

void Server::finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  drainTimer_.cancel();
  for (auto& worker : workers_) {
    worker->postStop();
  }
  if (admin_) {
    admin_->stop();
  }
  signals_.cancel();
  io_.stop();
}

// ---------------------------------------------------------------------------------------------
// Admin

void Server::collect(std::function<void(std::vector<WorkerReport>)> done) {
  struct State {
    std::vector<WorkerReport> reports;
    size_t remaining = 0;
    std::function<void(std::vector<WorkerReport>)> done;
  };
  auto state = std::make_shared<State>();
  state->remaining = workers_.size();
  state->done = std::move(done);
  if (state->remaining == 0 || finished_) {
    state->done({});
    return;
  }
  for (auto& worker : workers_) {
    worker->postCollect([this, state](WorkerReport report) {
      boost::asio::post(io_, [state, report = std::move(report)]() mutable {
        state->reports.push_back(std::move(report));
        if (--state->remaining == 0) {
          state->done(std::move(state->reports));
        }
      });
    });
  }
}

void Server::handleAdmin(const admin::AdminRequest& request, admin::Reply reply) {
  if (request.method != "GET" && request.method != "HEAD") {
    reply({405, "text/plain; charset=utf-8", "method not allowed\n"});
    return;
  }
  if (request.path == "/livez") {
    reply({200, "text/plain; charset=utf-8", "ok\n"});
  } else if (request.path == "/readyz") {
    if (ready()) {
      reply({200, "text/plain; charset=utf-8", "ready\n"});
    } else {
      reply(
          {503, "text/plain; charset=utf-8", draining_ ? "draining\n" : "no config applied yet\n"});
    }
  } else if (request.path == "/metrics") {
    collect([this, reply](std::vector<WorkerReport> reports) {
      reply({200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(reports)});
    });
  } else if (request.path == "/pools") {
    collect([this, reply](std::vector<WorkerReport> reports) {
      reply({200, "application/json", renderPools(reports)});
    });
  } else if (request.path == "/config") {
    reply({current_ ? 200u : 503u, "application/json", renderConfig()});
  } else {
    reply({404, "text/plain; charset=utf-8",
           "not found; try /livez /readyz /metrics /config /pools\n"});
  }
}

std::string Server::renderMetrics(const std::vector<WorkerReport>& reports) const {
  stats::WorkerStats sum;
  for (const auto& r : reports) {
    sum.merge(r.stats);
  }
  std::string out;
  out.reserve(4096);
  stats::renderWorkerMetrics(sum, routeSlots_.names(), out);
  auto it = std::back_inserter(out);
  stats::writeMetricHeader(out, "fulcrum_config_reloads_total", "counter",
                           "Config loads by result (the first load counts)");
  fmt::format_to(it, "fulcrum_config_reloads_total{{result=\"success\"}} {}\n", reloadsSucceeded_);
  fmt::format_to(it, "fulcrum_config_reloads_total{{result=\"failure\"}} {}\n", reloadsFailed_);
  stats::writeMetricHeader(out, "fulcrum_config_info", "gauge",
                           "The applied config revision (value 1)");
  if (current_) {
    fmt::format_to(it, "fulcrum_config_info{{hash=\"{}\",generation=\"{}\"}} 1\n", current_->hash,
                   current_->generation);
  }
  stats::writeMetricHeader(out, "fulcrum_ready", "gauge", "1 when /readyz answers 200");
  fmt::format_to(it, "fulcrum_ready {}\n", ready() ? 1 : 0);
  stats::writeMetricHeader(out, "fulcrum_workers", "gauge", "Worker threads");
  fmt::format_to(it, "fulcrum_workers {}\n", workers_.size());
  return out;
}

std::string Server::renderPools(const std::vector<WorkerReport>& reports) const {
  nlohmann::json pools = nlohmann::json::array();
  if (current_) {
    for (const auto& pool : current_->pools) {
      nlohmann::json endpoints = nlohmann::json::array();
      for (const auto& ep : pool.endpoints) {
        size_t idle = 0;
        uint32_t failures = 0;
        size_t ejectedOn = 0;
        for (const auto& r : reports) {
          for (const auto& e : r.endpoints) {
            if (e.address == ep.address) {
              idle += e.idleConnections;
              failures = std::max(failures, e.consecutiveConnectFailures);
              ejectedOn += e.ejected ? 1 : 0;
            }
          }
        }
        std::string state = ejectedOn == 0                ? "healthy"
                            : ejectedOn == reports.size() ? "ejected"
                                                          : "partially_ejected";
        endpoints.push_back({{"address", ep.address},
                             {"weight", ep.weight},
                             {"state", state},
                             {"idle_connections", idle},
                             {"consecutive_connect_failures", failures},
                             {"ejected_on_workers", ejectedOn}});
      }
      static constexpr const char* kAlgorithms[] = {"round_robin", "least_request", "random",
                                                    "ring_hash", "maglev"};
      pools.push_back({{"name", pool.pool->name},
                       {"algorithm", kAlgorithms[static_cast<int>(pool.pool->algorithm)]},
                       {"endpoints", std::move(endpoints)}});
    }
  }
  nlohmann::json out = {{"pools", std::move(pools)}};
  return out.dump(2) + "\n";
}

std::string Server::renderConfig() const {
  nlohmann::json out;
  out["id"] = options_.id;
  if (current_) {
    out["hash"] = current_->hash;
    out["generation"] = current_->generation;
    out["file"] = current_->file;
    out["applied_at"] = formatTime(current_->compiledAt);
    out["source"] = current_->source;
  } else {
    out["hash"] = nullptr;
  }
  out["config_source"] = source_ ? source_->describe() : "";
  out["revision"] = appliedRevision_ != 0 ? nlohmann::json(appliedRevision_) : nlohmann::json();
  out["from_cache"] = appliedFromCache_;
  if (refusedRevision_ != 0) {
    out["refused_revision"] = refusedRevision_;
  }
  out["reloads"] = {{"success", reloadsSucceeded_}, {"failure", reloadsFailed_}};
  if (!lastError_.empty()) {
    out["last_error"] = lastError_;
  }
  return out.dump(2) + "\n";
}

} // namespace fulcrum::server
