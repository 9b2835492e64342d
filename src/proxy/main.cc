// fulcrum-proxy: the data plane. Flags and exit codes: DESIGN §2; `--validate` exits 0 (valid),
// 1 (invalid, located errors on stderr) or 2 (usage), like `fulcrumctl validate`.

#include <malloc.h>
#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/time_source.h"
#include "config/loader.h"
#include "proxy/server/server.h"
#include "proxy/server/store_config_source.h"
#include "store/codec.h"

namespace {

int validate(const std::string& path) {
  const fulcrum::config::LoadResult result = fulcrum::config::loadFile(path);
  for (const auto& d : result.errors) {
    std::fprintf(stderr, "%s\n", d.format().c_str());
  }
  if (!result.ok()) {
    std::fprintf(stderr, "%s: invalid (%zu error%s)\n", path.c_str(), result.errors.size(),
                 result.errors.size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: valid (revision %s)\n", path.c_str(), result.hash.c_str());
  return 0;
}

// "500ms", "30s", "2m" or a bare number of milliseconds.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || value > 24ULL * 3600 * 1000) {
    return std::nullopt;
  }
  const std::string_view unit(ptr, text.data() + text.size() - ptr);
  if (unit.empty() || unit == "ms") {
    return std::chrono::milliseconds(value);
  }
  if (unit == "s") {
    return std::chrono::milliseconds(value * 1000);
  }
  if (unit == "m") {
    return std::chrono::milliseconds(value * 60 * 1000);
  }
  return std::nullopt;
}

// Every client and upstream connection is a descriptor. The soft limit is often 1024 (Debian's
// default), which a proxy reaches at ~500 busy clients; the hard limit is what the operator
// allowed, so take all of it, as HAProxy does for its maxconn. Failure leaves the soft limit.
void raiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

} // namespace

int main(int argc, char** argv) {
  // Session buffers (limits.bufferBytes, 64 KiB by default) get pages of their own instead of
  // heap space between small long-lived objects: a parked idle connection's record, Asio's
  // per-descriptor state. Freed sessions then return their memory to the system whole, where on
  // the heap they left holes the small objects kept from being trimmed (10,000 idle
  // connections: 1.14-1.18 KiB each with glibc's default threshold, 0.93-1.11 with this; see
  // docs/performance.md, target 4). Sessions are pooled, so the request path does not map.
  ::mallopt(M_MMAP_THRESHOLD, 64 * 1024); // NOLINT(concurrency-mt-unsafe): no thread runs yet
  // Config revisions work in blocks of megabytes (the config text and its copies, the decoder's
  // and cross-checks' tables, the route table's build arrays). glibc serves a request at or above
  // the mmap threshold from free space at the heap's top when there is enough, else from a new
  // mapping; with the heap trimmed to its last byte, every such block was a new mapping, faulted
  // in page by page and unmapped again: ~3,500 page faults and ~70 ms of main-thread CPU per
  // revision of a 10k-route config. Keeping 64 MiB of free space at the top (untouched pages
  // cost no memory) brings that to ~300 faults and ~21 ms (docs/performance.md, target 7).
  ::mallopt(M_TOP_PAD, 64 << 20); // NOLINT(concurrency-mt-unsafe): no thread runs yet
  raiseDescriptorLimit();
  CLI::App app{"fulcrum-proxy: the Fulcrum data plane (HTTP/1.1 reverse proxy and load balancer)"};
  fulcrum::server::ServerOptions options;
  const unsigned cores = std::thread::hardware_concurrency();
  options.workers = cores == 0 ? 1 : cores;
  bool validateOnly = false;
  fulcrum::server::StoreSourceOptions storeOptions;
  std::string drainTimeout = "30s";
  std::string bootWait = "3s";
  app.add_option("--config", options.configPath, "config file (YAML or JSON), hot-reloaded");
  app.add_option("--store", storeOptions.url,
                 "config store to watch: file:///DIR or etcd://HOST:PORT[,HOST:PORT...]");
  app.add_option("--cache-dir", storeOptions.cacheDir,
                 "with --store: where the last good revision is kept (default "
                 "$XDG_STATE_HOME/fulcrum/proxy-ID, else ~/.local/state/fulcrum/proxy-ID)");
  app.add_option("--store-boot-wait", bootWait,
                 "with --store: how long a starting proxy waits for the store before it serves "
                 "its cached revision")
      ->capture_default_str();
  app.add_option("--admin", options.adminAddress, "admin listener address (port 0: any)")
      ->capture_default_str();
  app.add_option("--workers", options.workers, "worker threads (default: cores)")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--config-nice", options.configNice,
                 "nice value of the main thread (config load and compile, admin) once the "
                 "workers run: config work takes idle CPU before the workers' (0: same priority)")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  std::string configSched = "normal";
  app.add_option("--config-sched", configSched,
                 "scheduling policy of the main thread once the workers run: normal (with "
                 "--config-nice) or idle (SCHED_IDLE: it runs only when a worker's CPU has "
                 "nothing else to do, so config work never delays traffic, but a saturated "
                 "worker delays revisions and admin requests)")
      ->check(CLI::IsMember({"normal", "idle"}))
      ->capture_default_str();
  app.add_option_function<uint32_t>(
         "--config-yield-us",
         [&options](uint32_t us) { options.configYield = std::chrono::microseconds(us); },
         "config work on the main thread (load, compile) yields its CPU to runnable workers "
         "after running this many microseconds, so a request that arrives meanwhile waits at "
         "most about that long for it (0: never yields). Default 200")
      ->check(CLI::Range(0u, 1000000u));
  app.add_option_function<double>(
         "--config-cpu-budget",
         [&options](double percent) { options.configCpuBudget = percent / 100.0; },
         "percent of one core the main thread may spend on config revisions that keep coming "
         "(file changes, store watch events); beyond it the newest change waits and replaces "
         "older waiting ones (100: unpaced). Default 5")
      ->check(CLI::Range(1.0, 100.0));
  app.add_option("--id", options.id,
                 "instance id, registered in the store and shown by /config (default "
                 "HOSTNAME-ADMINPORT)");
  app.add_option("--drain-timeout", drainTimeout,
                 "drain deadline after SIGTERM: 30s, 500ms, 2m (a bare number is milliseconds)")
      ->capture_default_str();
  std::string sendBatching = "on";
  app.add_option("--send-batching", sendBatching,
                 "send a worker's small writes of one event-loop pass with one io_uring_enter() "
                 "(falls back to one sendmsg() each where io_uring is unavailable): on or off")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  std::string recvBatching = "on";
  app.add_option("--recv-batching", recvBatching,
                 "receive from the sockets one epoll_wait() reports readable with one "
                 "io_uring_enter() instead of one recv() each (where io_uring is available): on "
                 "or off")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  std::string endpointSeries = "on";
  app.add_option("--metrics-endpoint-series", endpointSeries,
                 "per-endpoint metric series (fulcrum_endpoint_*): on or off")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--metrics-max-series", options.metricsMaxSeries,
                 "most label values per metrics dimension (listener, route, pool, endpoint); "
                 "more fold into \"__overflow__\"")
      ->check(CLI::Range(size_t{1}, size_t{1000000}))
      ->capture_default_str();
  std::string accessLogFormat = "json";
  app.add_option("--access-log", options.accessLog.path,
                 "write an access log to FILE ('-': standard output); reopened on SIGUSR1");
  app.add_option("--access-log-format", accessLogFormat, "json or combined (nginx)")
      ->capture_default_str();
  app.add_option("--access-log-sample", options.accessLog.sampleRatio,
                 "fraction of requests logged, 0..1")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--trace-collector", options.tracing.collector,
                 "OTLP/HTTP collector base URL (http://host:4318); spans go to {URL}/v1/traces")
      ->envname("OTEL_EXPORTER_OTLP_ENDPOINT");
  app.add_option("--trace-sample", options.traceSampleRatio,
                 "fraction of new traces sampled, 0..1 (an incoming traceparent's flag wins)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--service-name", options.tracing.serviceName, "service.name of exported spans")
      ->envname("OTEL_SERVICE_NAME")
      ->capture_default_str();
  app.add_flag("--validate", validateOnly, "check --config and exit (0 valid, 1 invalid)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  const bool fromStore = !storeOptions.url.empty();
  if (fromStore && !options.configPath.empty()) {
    std::fprintf(stderr, "fulcrum-proxy: --config and --store are mutually exclusive: a proxy "
                         "reads one file or watches one store\n");
    return 2;
  }
  if (!fromStore && options.configPath.empty()) {
    std::fprintf(stderr, "fulcrum-proxy: --config FILE or --store URL is required\n");
    return 2;
  }
  if (validateOnly) {
    if (fromStore) {
      std::fprintf(stderr, "fulcrum-proxy: --validate checks a --config FILE (for a store "
                           "revision: fulcrumctl validate)\n");
      return 2;
    }
    return validate(options.configPath);
  }
  if (fromStore && storeOptions.url.rfind("file://", 0) != 0 &&
      storeOptions.url.rfind("etcd://", 0) != 0) {
    std::fprintf(stderr, "fulcrum-proxy: --store %s: expected file:///DIR or etcd://HOST:PORT\n",
                 storeOptions.url.c_str());
    return 2;
  }
  if (!fromStore && !storeOptions.cacheDir.empty()) {
    std::fprintf(stderr, "fulcrum-proxy: --cache-dir only applies with --store\n");
    return 2;
  }
  if (!options.id.empty() && !fulcrum::store::isValidInstanceId(options.id)) {
    std::fprintf(stderr,
                 "fulcrum-proxy: --id %s: use 1-128 of A-Z a-z 0-9 . _ - (not starting with .)\n",
                 options.id.c_str());
    return 2;
  }
  const auto drain = parseDuration(drainTimeout);
  if (!drain) {
    std::fprintf(stderr, "fulcrum-proxy: --drain-timeout %s: expected e.g. 30s, 500ms, 2m\n",
                 drainTimeout.c_str());
    return 2;
  }
  options.drainTimeout = *drain;
  options.metricsEndpointSeries = endpointSeries == "on";
  options.configSchedIdle = configSched == "idle";
  options.sendBatching = sendBatching == "on";
  options.recvBatching = recvBatching == "on";
  const auto format = fulcrum::access_log::parseFormat(accessLogFormat);
  if (!format) {
    std::fprintf(stderr, "fulcrum-proxy: --access-log-format %s: expected json or combined\n",
                 accessLogFormat.c_str());
    return 2;
  }
  options.accessLog.format = *format;
  if (!options.tracing.collector.empty()) {
    if (auto url = fulcrum::tracing::parseCollectorUrl(options.tracing.collector); !url) {
      std::fprintf(stderr, "fulcrum-proxy: --trace-collector: %s\n", url.error().message.c_str());
      return 2;
    }
  }
  fulcrum::RealTimeSource time;
  if (fromStore) {
    const auto wait = parseDuration(bootWait);
    if (!wait) {
      std::fprintf(stderr, "fulcrum-proxy: --store-boot-wait %s: expected e.g. 3s, 500ms\n",
                   bootWait.c_str());
      return 2;
    }
    storeOptions.bootWait = *wait;
    storeOptions.store.time = &time;
    options.configSource = [storeOptions, &time](boost::asio::io_context& io) {
      return std::make_unique<fulcrum::server::StoreConfigSource>(io, storeOptions, time);
    };
  }
  fulcrum::server::Server server(std::move(options), time);
  return server.run();
}
