#include "proxy/server/server.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <system_error>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/cooperative_yield.h"
#include "config/loader.h"
#include "proxy/net/listen_socket.h"
#include "proxy/server/file_config_source.h"
#include "proxy/stats/process_metrics.h"

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

// Asks the scheduler to run this thread in short slices (EEVDF's per-task slice, Linux 6.12 and
// later: sched_attr.sched_runtime of a SCHED_OTHER thread). A worker that wakes up while the main
// thread compiles a revision on its core then waits at most this long for the CPU, instead of
// the default slice (0.75 ms times a CPU-count factor) that shows up in the workers' p99 (issue 8,
// target 7). Older kernels ignore the field; failure changes nothing, so it is not reported.
void requestShortSlice(int nice) {
  struct SchedAttr {
    uint32_t size;
    uint32_t policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
  };
  SchedAttr attr{};
  attr.size = sizeof attr;
  attr.policy = 0; // SCHED_OTHER
  attr.nice = nice;
  attr.runtime = 100'000; // ns; the kernel's minimum custom slice
  ::syscall(SYS_sched_setattr, ::gettid(), &attr, 0U);
}

void announce(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

} // namespace

Server::Server(ServerOptions options, const TimeSource& time)
    : options_(std::move(options)), time_(time), io_(1), signals_(io_), drainTimer_(io_),
      pacer_(io_, time_, options_.configCpuBudget) {
  const size_t max = options_.metricsMaxSeries;
  statsSlots_.routes.configure(max, true);
  statsSlots_.listeners.configure(max, true);
  statsSlots_.pools.configure(max, true);
  statsSlots_.endpoints.configure(max, options_.metricsEndpointSeries);
  // Runs on the thread releasing a snapshot; drain() then runs here, on the main thread.
  reclaimer_ = snapshot::SnapshotReclaimer::create([this] {
    boost::asio::post(io_, [this] { pacer_.runNow([this] { reclaimer_->drain(); }); });
  });
}

Server::~Server() {
  reclaimer_->detach(); // snapshots released from now on are freed with the reclaimer
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
      io_, [this](const admin::AdminRequest& request, const admin::Reply& reply) {
        handleAdmin(request, reply);
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
    workers_.back()->setIoBatching(
        {.sends = options_.sendBatching, .receives = options_.recvBatching});
  }
  if (auto started = startObservability(); !started) {
    logLine("fulcrum-proxy: {}", started.error().message);
    return 1;
  }
  // Health state lives on the monitor's thread; it tells every worker about changes by message,
  // and workers report outliers to it by message.
  monitor_ = std::make_unique<health::HealthMonitor>(
      time_,
      [this](const health::EndpointStatus& status) {
        for (auto& worker : workers_) {
          worker->postEndpointStatus(status);
        }
      },
      static_cast<uint64_t>(time_.systemTime().time_since_epoch().count()));
  for (auto& worker : workers_) {
    worker->setOutlierSink(
        [monitor = monitor_.get()](std::string address, health::OutlierKind kind) {
          monitor->postOutlier(std::move(address), kind);
        });
  }
  monitor_->start();
  for (auto& worker : workers_) {
    worker->start();
  }
  // From here the main thread yields to the workers (and the health, log and exporter threads,
  // which exist already and keep their priority): config revisions are its CPU work, and
  // traffic comes first. Threads it starts later (the store's) inherit the value.
  CooperativeYield::enable(options_.configYield, time_);
  if (options_.configSchedIdle) {
    const sched_param param{};
    if (::sched_setscheduler(0, SCHED_IDLE, &param) != 0) {
      logLine("fulcrum-proxy: --config-sched idle: {} (keeping the workers' priority)",
              std::system_category().message(errno));
    }
  } else if (options_.configNice > 0) {
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.configNice) != 0) {
      logLine("fulcrum-proxy: --config-nice {}: {} (keeping the workers' priority)",
              options_.configNice, std::system_category().message(errno));
    } else {
      requestShortSlice(options_.configNice);
    }
  }

  signals_.add(SIGUSR1);
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
        } else if (signal == SIGUSR1) {
          if (accessLog_) {
            accessLog_->requestReopen(); // logrotate: the writer reopens the path
          }
        } else if (draining_) {
          logLine("fulcrum-proxy: second {} during drain: stopping now", ::sigdescr_np(signal));
          finish();
          return;
        } else {
          startDrain(::sigdescr_np(signal));
        }
        signals_.async_wait(onSignal);
      };
  signals_.async_wait(onSignal);

  if (options_.id.empty()) {
    options_.id = defaultInstanceId(bound.port);
  }
  source_ = options_.configSource ? options_.configSource(io_)
                                  : std::make_unique<FileConfigSource>(io_, options_.configPath);
  SourceContext context{options_.id, bound.toString(), FULCRUM_VERSION, &pacer_};
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
  stopObservability();
  source_.reset(); // deregisters a store instance (may wait for the store's timeout)
  return exitCode_;
}

// ---------------------------------------------------------------------------------------------
// Access log and tracing: the writer and exporter threads, and each worker's rings

Result<bool> Server::startObservability() {
  auto note = [](const std::string& text) { logLine("fulcrum-proxy: {}", text); };
  if (!options_.accessLog.path.empty()) {
    auto writer = access_log::AccessLogWriter::open(options_.accessLog, workers_.size(), note);
    if (!writer) {
      return writer.error();
    }
    accessLog_ = std::move(writer.value());
  }
  if (!options_.tracing.collector.empty()) {
    if (options_.tracing.instanceId.empty()) {
      options_.tracing.instanceId = options_.id;
    }
    auto exporter = tracing::SpanExporter::create(options_.tracing, workers_.size(), note);
    if (!exporter) {
      return exporter.error();
    }
    exporter_ = std::move(exporter.value());
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    WorkerObservability& obs = workers_[i]->observability();
    if (accessLog_) {
      obs.accessLog = &accessLog_->ring(i);
      obs.format = options_.accessLog.format;
      obs.accessLogThreshold = access_log::sampleThreshold(options_.accessLog.sampleRatio);
    }
    if (exporter_) {
      obs.spans = &exporter_->ring(i);
    }
    obs.traceThreshold = access_log::sampleThreshold(options_.traceSampleRatio);
  }
  if (accessLog_) {
    accessLog_->start();
  }
  if (exporter_) {
    exporter_->start();
  }
  return true;
}

void Server::stopObservability() {
  // The workers have stopped: what their rings hold is written / sent once more.
  if (accessLog_) {
    accessLog_->stop();
  }
  if (exporter_) {
    exporter_->stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Config: load -> validate -> compile (here, off the workers) -> listeners -> publish

void Server::apply(ConfigCandidate candidate) {
  if (draining_) {
    return;
  }
  lastReloadAttempt_ = time_.systemTime();
  config::LoadResult& loaded = candidate.loaded;
  if (!loaded.ok()) {
    std::vector<std::string> errors;
    for (const auto& d : loaded.errors) {
      errors.push_back(d.format());
    }
    refuse(candidate, errors);
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
  input.previous = current_;
  auto compiled = snapshot::compileSnapshot(std::move(input), statsSlots_, reclaimer_);
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
  if (monitor_) {
    monitor_->postConfig(snap); // after the workers' snapshot: its status messages follow it
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

void Server::refuse(const ConfigCandidate& candidate, const std::vector<std::string>& errors) {
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
  if (monitor_) {
    monitor_->stop(); // no more status messages to workers that are about to stop
  }
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

void Server::collectWithHealth(
    std::function<void(std::vector<WorkerReport>, health::MonitorReport)> done) {
  collect([this, done = std::move(done)](std::vector<WorkerReport> reports) mutable {
    if (!monitor_ || finished_) {
      done(std::move(reports), {});
      return;
    }
    auto shared = std::make_shared<std::vector<WorkerReport>>(std::move(reports));
    monitor_->postCollect([this, shared, done = std::move(done)](health::MonitorReport health) {
      boost::asio::post(io_, [shared, done, health = std::move(health)]() mutable {
        done(std::move(*shared), std::move(health));
      });
    });
  });
}

void Server::handleAdmin(const admin::AdminRequest& request, const admin::Reply& reply) {
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
    // ?format=text|openmetrics overrides the Accept header (e.g. a scrape job's params).
    stats::ExpositionFormat format = stats::negotiateFormat(request.accept);
    if (request.query.find("format=text") != std::string::npos) {
      format = stats::ExpositionFormat::PrometheusText;
    } else if (request.query.find("format=openmetrics") != std::string::npos) {
      format = stats::ExpositionFormat::OpenMetrics;
    }
    collectWithHealth([this, reply, format](const std::vector<WorkerReport>& reports,
                                            const health::MonitorReport& health) {
      reply({200, std::string(stats::contentType(format)),
             stats::renderExposition(buildFamilies(reports, health), format)});
    });
  } else if (request.path == "/stats") {
    collectWithHealth([this, reply](const std::vector<WorkerReport>& reports,
                                    const health::MonitorReport& health) {
      reply({200, "application/json", stats::renderJson(buildFamilies(reports, health))});
    });
  } else if (request.path == "/pools") {
    collectWithHealth([this, reply](const std::vector<WorkerReport>& reports,
                                    const health::MonitorReport& health) {
      reply({200, "application/json", renderPools(reports, health)});
    });
  } else if (request.path == "/config") {
    reply({current_ ? 200u : 503u, "application/json", renderConfig()});
  } else {
    reply({404, "text/plain; charset=utf-8",
           "not found; try /livez /readyz /metrics /stats /config /pools\n"});
  }
}

std::vector<stats::Family> Server::buildFamilies(const std::vector<WorkerReport>& reports,
                                                 const health::MonitorReport& health) const {
  using stats::Family;
  using stats::MetricType;
  stats::WorkerStats sum;
  for (const auto& r : reports) {
    sum.merge(r.stats);
  }
  std::vector<Family> families;
  families.reserve(64);
  stats::buildWorkerFamilies(sum, statsSlots_, families);
  auto add = [&families](std::string name, MetricType type, std::string help) -> Family& {
    return stats::addFamily(families, std::move(name), type, std::move(help));
  };
  auto seconds = [](SystemTime t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };

  Family& reloads = add("fulcrum_config_reloads_total", MetricType::Counter,
                        "Config loads by result (the first load counts)");
  reloads.series.push_back({{{"result", "success"}}, static_cast<double>(reloadsSucceeded_), {}});
  reloads.series.push_back({{{"result", "failure"}}, static_cast<double>(reloadsFailed_), {}});
  // Each family is filled before the next add(): push_back may move the earlier ones.
  Family& info = add("fulcrum_config_info", MetricType::Info,
                     "The applied config: source hash, generation and store revision (value 1)");
  if (current_) {
    std::vector<stats::Label> labels{{"hash", current_->hash},
                                     {"generation", std::to_string(current_->generation)}};
    if (appliedRevision_ != 0) {
      labels.push_back({"revision", std::to_string(appliedRevision_)}); // --store
    }
    info.series.push_back({std::move(labels), 1, {}});
  }
  Family& applied = add("fulcrum_config_last_reload_success_timestamp_seconds", MetricType::Gauge,
                        "When the applied config revision was loaded (Unix time)");
  if (current_) {
    applied.series.push_back({{}, seconds(current_->compiledAt), {}});
  }
  add("fulcrum_config_cpu_seconds_total", MetricType::Counter,
      "CPU the main thread spent on config revisions: load, validate, compile, free the replaced")
      .series.push_back({{}, std::chrono::duration<double>(pacer_.cpuSpent()).count(), {}});
  add("fulcrum_config_paced_total", MetricType::Counter,
      "Config changes that waited for the config CPU budget (--config-cpu-budget)")
      .series.push_back({{}, static_cast<double>(pacer_.deferred()), {}});
  add("fulcrum_config_yields_total", MetricType::Counter,
      "Times config work yielded to let runnable workers go first (--config-yield-us)")
      .series.push_back({{}, static_cast<double>(CooperativeYield::yieldsTotal()), {}});
  add("fulcrum_config_superseded_total", MetricType::Counter,
      "Config changes replaced by a newer one while they waited for the budget")
      .series.push_back({{}, static_cast<double>(pacer_.superseded()), {}});
  Family& attempt = add("fulcrum_config_last_reload_timestamp_seconds", MetricType::Gauge,
                        "When a config load was last attempted, applied or not (Unix time)");
  if (lastReloadAttempt_ != SystemTime{}) {
    attempt.series.push_back({{}, seconds(lastReloadAttempt_), {}});
  }
  add("fulcrum_ready", MetricType::Gauge, "1 when /readyz answers 200")
      .series.push_back({{}, ready() ? 1.0 : 0.0, {}});
  add("fulcrum_workers", MetricType::Gauge, "Worker threads")
      .series.push_back({{}, static_cast<double>(workers_.size()), {}});
  if (exporter_) {
    add("fulcrum_tracing_spans_exported_total", MetricType::Counter, "Spans the collector accepted")
        .series.push_back({{}, static_cast<double>(exporter_->spansExported()), {}});
    Family& dropped = add("fulcrum_tracing_spans_dropped_total", MetricType::Counter,
                          "Sampled spans not exported: queue full, or the export failed");
    dropped.series.push_back(
        {{{"reason", "queue_full"}}, static_cast<double>(exporter_->spansDropped()), {}});
    dropped.series.push_back(
        {{{"reason", "export_failed"}}, static_cast<double>(exporter_->spansFailed()), {}});
  }
  if (accessLog_) {
    add("fulcrum_access_log_write_errors_total", MetricType::Counter,
        "Failed writes (and reopens) of the access-log file")
        .series.push_back({{}, static_cast<double>(accessLog_->writeErrors()), {}});
  }
  health::appendHealthFamilies(health, current_.get(), options_.metricsEndpointSeries, families);
  if (const auto process = stats::readProcessStats()) {
    stats::appendProcessFamilies(*process, families);
  }
  return families;
}

std::string Server::renderPools(const std::vector<WorkerReport>& reports,
                                const health::MonitorReport& health) const {
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
        const health::EndpointReport* shared = nullptr;
        for (const auto& h : health.endpoints) {
          if (h.address == ep.address) {
            shared = &h;
          }
        }
        // state: what the balancer does with it now. "unhealthy"/"unknown" (active checks) and
        // "ejected" (outlier detection) hold on every worker; "connect_backoff" is the local
        // connect-failure back-off ("partially_..." when only some workers are in it).
        std::string state = "healthy";
        if (shared != nullptr && shared->state != health::HealthState::Healthy) {
          state = std::string(health::toString(shared->state));
        } else if (shared != nullptr && shared->ejected) {
          state = "ejected";
        } else if (ejectedOn != 0) {
          state = ejectedOn == reports.size() ? "ejected" : "partially_ejected";
        }
        nlohmann::json entry = {{"address", ep.address},
                                {"weight", ep.weight},
                                {"state", state},
                                {"idle_connections", idle},
                                {"consecutive_connect_failures", failures},
                                {"ejected_on_workers", ejectedOn}};
        if (shared != nullptr) {
          nlohmann::json h = {{"state", std::string(health::toString(shared->state))},
                              {"checked", shared->checked},
                              {"probes", shared->probes},
                              {"transitions", shared->transitions}};
          if (!shared->lastResult.empty()) {
            h["last_result"] = shared->lastResult;
            h["last_reason"] = shared->lastReason;
          }
          if (shared->lastCheckAt) {
            h["last_check_at"] = formatTime(*shared->lastCheckAt);
          }
          entry["health"] = std::move(h);
          nlohmann::json o = {{"ejected", shared->ejected},
                              {"times_ejected", shared->timesEjected},
                              {"ejections", shared->ejections}};
          if (shared->ejectedUntil) {
            o["ejected_until"] = formatTime(*shared->ejectedUntil);
          }
          if (!shared->ejectionReason.empty()) {
            o["reason"] = shared->ejectionReason;
          }
          entry["outlier"] = std::move(o);
        }
        endpoints.push_back(std::move(entry));
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
