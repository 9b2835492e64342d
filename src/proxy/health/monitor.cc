#include "proxy/health/monitor.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <charconv>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "proxy/stats/metrics.h"

namespace fulcrum::health {

using boost::asio::ip::tcp;
using namespace std::chrono_literals;

namespace {
constexpr size_t kMaxProbeResponse = 1024; // only the status line matters
} // namespace

std::string_view toString(OutlierKind kind) {
  return kind == OutlierKind::Consecutive5xx ? "consecutive_5xx" : "consecutive_gateway_errors";
}

struct HealthMonitor::Endpoint {
  Endpoint(boost::asio::io_context& io, std::string a, tcp::endpoint e)
      : address(std::move(a)), endpoint(e), timer(io), deadline(io), socket(io),
        tracker(1, 1, true) {}

  std::string address;
  tcp::endpoint endpoint;
  const config::Pool* checkPool = nullptr;   // pool whose healthCheck probes this endpoint
  const config::Pool* outlierPool = nullptr; // pool whose outlierDetection ejects it
  boost::asio::steady_timer timer;           // next probe, or the end of an ejection
  boost::asio::steady_timer deadline;        // probe timeout
  tcp::socket socket;
  std::string request;
  std::array<char, kMaxProbeResponse> response{};
  size_t responseBytes = 0;
  HealthTracker tracker;
  bool probing = false;
  bool removed = false;
  uint64_t probeGeneration = 0; // bumped to abandon a probe in flight
  std::string lastResult;
  std::string lastReason;
  std::optional<SystemTime> lastCheckAt;
  MonotonicTime ejectedUntil{};
  SystemTime ejectedUntilWall{};
  std::string ejectionReason;
  uint32_t timesEjected = 0;
  uint64_t probes = 0;
  uint64_t transitions = 0;
  uint64_t ejections = 0;
  std::unique_ptr<boost::asio::steady_timer> ejectionTimer;
};

HealthMonitor::HealthMonitor(const TimeSource& time, Publish publish, uint64_t seed)
    : time_(time), publish_(std::move(publish)), rng_(seed), io_(1),
      guard_(boost::asio::make_work_guard(io_)) {}

HealthMonitor::~HealthMonitor() {
  stop();
}

void HealthMonitor::start() {
  thread_ = std::thread([this] { io_.run(); });
  (void)::pthread_setname_np(thread_.native_handle(), "health");
}

void HealthMonitor::stop() {
  if (!thread_.joinable()) {
    return;
  }
  boost::asio::post(io_, [this] {
    for (auto& [address, ep] : endpoints_) {
      ep->removed = true;
      ep->timer.cancel();
      ep->deadline.cancel();
      if (ep->ejectionTimer) {
        ep->ejectionTimer->cancel();
      }
      boost::system::error_code ignored;
      ep->socket.close(ignored);
    }
    endpoints_.clear();
    guard_.reset();
  });
  thread_.join();
}

void HealthMonitor::postConfig(snapshot::SnapshotConstSharedPtr snapshot) {
  boost::asio::post(
      io_, [this, snapshot = std::move(snapshot)]() mutable { applyConfig(std::move(snapshot)); });
}

void HealthMonitor::postOutlier(std::string address, OutlierKind kind) {
  boost::asio::post(io_, [this, address = std::move(address), kind] { onOutlier(address, kind); });
}

void HealthMonitor::postCollect(std::function<void(MonitorReport)> reply) {
  boost::asio::post(io_, [this, reply = std::move(reply)] {
    MonitorReport report;
    report.ejectionsRefused = ejectionsRefused_;
    const MonotonicTime now = time_.monotonicTime();
    for (const auto& [address, ep] : endpoints_) {
      EndpointReport r;
      r.address = address;
      r.checked = ep->checkPool != nullptr;
      r.state = ep->checkPool != nullptr ? ep->tracker.state() : HealthState::Healthy;
      r.lastResult = ep->lastResult;
      r.lastReason = ep->lastReason;
      r.lastCheckAt = ep->lastCheckAt;
      r.ejected = now < ep->ejectedUntil;
      if (r.ejected) {
        r.ejectedUntil = ep->ejectedUntilWall;
      }
      r.ejectionReason = ep->ejectionReason;
      r.timesEjected = ep->timesEjected;
      r.probes = ep->probes;
      r.transitions = ep->transitions;
      r.ejections = ep->ejections;
      report.endpoints.push_back(std::move(r));
    }
    reply(std::move(report));
  });
}

// ---------------------------------------------------------------------------------------------
// Config: keep the state of endpoints that stay, start new ones per startHealthy

void HealthMonitor::applyConfig(snapshot::SnapshotConstSharedPtr snapshot) {
  std::unordered_map<std::string, std::shared_ptr<Endpoint>> next;
  for (const snapshot::PoolInfo& pool : snapshot->pools) {
    for (const snapshot::EndpointInfo& info : pool.endpoints) {
      std::shared_ptr<Endpoint>& ep = next[info.address];
      if (!ep) {
        auto it = endpoints_.find(info.address);
        if (it != endpoints_.end()) {
          ep = it->second;
          endpoints_.erase(it);
          ep->checkPool = nullptr;
          ep->outlierPool = nullptr;
        } else {
          ep = std::make_shared<Endpoint>(io_, info.address, info.endpoint);
        }
      }
      if (ep->checkPool == nullptr && pool.pool->healthCheck) {
        ep->checkPool = pool.pool;
      }
      if (ep->outlierPool == nullptr && pool.pool->outlierDetection) {
        ep->outlierPool = pool.pool;
      }
    }
  }
  // Endpoints gone from the config: stop their probes.
  for (auto& [address, ep] : endpoints_) {
    ep->removed = true;
    ++ep->probeGeneration;
    ep->timer.cancel();
    ep->deadline.cancel();
    if (ep->ejectionTimer) {
      ep->ejectionTimer->cancel();
    }
    boost::system::error_code ignored;
    ep->socket.close(ignored);
  }
  endpoints_ = std::move(next);
  current_ = std::move(snapshot);

  for (auto& [address, ep] : endpoints_) {
    if (ep->checkPool == nullptr) {
      if (ep->probing || ep->probes > 0 || !ep->tracker.eligible()) {
        // It lost its health check: forget the probes, it is healthy again.
        ++ep->probeGeneration;
        ep->timer.cancel();
        ep->deadline.cancel();
        boost::system::error_code ignored;
        ep->socket.close(ignored);
        ep->probing = false;
        ep->tracker = HealthTracker(1, 1, true);
        ep->lastResult.clear();
        ep->lastReason.clear();
        publish(*ep);
      }
      continue;
    }
    const config::HealthCheck& check = *ep->checkPool->healthCheck;
    const bool fresh = ep->probes == 0 && !ep->probing;
    if (fresh) {
      ep->tracker =
          HealthTracker(check.healthyThreshold, check.unhealthyThreshold, check.startHealthy);
      publish(*ep); // workers start new endpoints per startHealthy too; this confirms it
    } else {
      ep->tracker.setThresholds(check.healthyThreshold, check.unhealthyThreshold);
    }
    // The probe request follows the current config (path and Host may have changed).
    ep->request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: fulcrum-health\r\n"
                              "Connection: close\r\n\r\n",
                              check.path, check.host.empty() ? address : check.host);
    if (!ep->probing) {
      ++ep->probeGeneration;
      ep->timer.cancel();
      // The first probe comes soon (spread by jitter), later ones every interval.
      const auto first =
          fresh ? jitteredInterval(std::chrono::milliseconds(10), check.jitterPercent, random01())
                : jitteredInterval(
                      std::chrono::duration_cast<std::chrono::milliseconds>(check.interval),
                      check.jitterPercent, random01());
      scheduleProbe(ep, first);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Active probes

void HealthMonitor::scheduleProbe(const std::shared_ptr<Endpoint>& ep,
                                  std::chrono::milliseconds delay) {
  const uint64_t generation = ep->probeGeneration;
  ep->timer.expires_after(delay);
  ep->timer.async_wait([this, ep, generation](const boost::system::error_code& ec) {
    if (ec || ep->removed || generation != ep->probeGeneration || ep->checkPool == nullptr) {
      return;
    }
    probe(ep);
  });
}

void HealthMonitor::probe(const std::shared_ptr<Endpoint>& ep) {
  const config::HealthCheck& check = *ep->checkPool->healthCheck;
  ep->probing = true;
  const uint64_t generation = ++ep->probeGeneration;
  boost::system::error_code ignored;
  ep->socket.close(ignored);
  ep->responseBytes = 0;
  ep->deadline.expires_after(check.timeout);
  ep->deadline.async_wait([ep, generation](const boost::system::error_code& ec) {
    if (!ec && generation == ep->probeGeneration) {
      ep->lastReason = "timeout";
      boost::system::error_code ignored;
      ep->socket.close(ignored); // completes the pending operation with an error
    }
  });
  auto fail = [this, ep, generation](std::string what, const boost::system::error_code& ec) {
    if (generation != ep->probeGeneration || ep->removed) {
      return;
    }
    std::string reason =
        ep->lastReason == "timeout" ? std::string("timeout") : what + ": " + ec.message();
    finishProbe(ep, false, std::move(reason));
  };
  ep->lastReason.clear();
  ep->socket.async_connect(ep->endpoint, [this, ep, generation,
                                          fail](const boost::system::error_code& ec) {
    if (generation != ep->probeGeneration || ep->removed) {
      return;
    }
    if (ec) {
      fail("connect", ec);
      return;
    }
    if (ep->checkPool->healthCheck->kind == config::HealthCheck::Kind::Tcp) {
      finishProbe(ep, true, "connected");
      return;
    }
    boost::asio::async_write(
        ep->socket, boost::asio::buffer(ep->request),
        [this, ep, generation, fail](const boost::system::error_code& ec, size_t) {
          if (generation != ep->probeGeneration || ep->removed) {
            return;
          }
          if (ec) {
            fail("write", ec);
            return;
          }
          // Reads until the status line is complete (or the response ends).
          auto read = std::make_shared<std::function<void()>>();
          *read = [this, ep, generation, fail, read] {
            ep->socket.async_read_some(
                boost::asio::buffer(ep->response.data() + ep->responseBytes,
                                    ep->response.size() - ep->responseBytes),
                [this, ep, generation, fail, read](const boost::system::error_code& ec, size_t n) {
                  if (generation != ep->probeGeneration || ep->removed) {
                    *read = nullptr;
                    return;
                  }
                  ep->responseBytes += n;
                  const std::string_view got(ep->response.data(), ep->responseBytes);
                  const size_t eol = got.find("\r\n");
                  if (eol == std::string_view::npos) {
                    if (ec || ep->responseBytes == ep->response.size()) {
                      *read = nullptr;
                      if (ec) {
                        fail("read", ec);
                      } else {
                        finishProbe(ep, false, "malformed response");
                      }
                      return;
                    }
                    (*read)();
                    return;
                  }
                  *read = nullptr;
                  // "HTTP/1.x NNN reason"
                  const std::string_view line = got.substr(0, eol);
                  uint16_t status = 0;
                  if (line.size() >= 12 && line.substr(0, 7) == "HTTP/1." && line[8] == ' ') {
                    std::from_chars(line.data() + 9, line.data() + 12, status);
                  }
                  if (status < 100 || status > 599) {
                    finishProbe(ep, false, "malformed response");
                    return;
                  }
                  bool expected = false;
                  for (const auto& [low, high] : ep->checkPool->healthCheck->expectedStatuses) {
                    expected = expected || (status >= low && status <= high);
                  }
                  finishProbe(ep, expected, fmt::format("status {}", status));
                });
          };
          (*read)();
        });
  });
}

void HealthMonitor::finishProbe(const std::shared_ptr<Endpoint>& ep, bool success,
                                std::string reason) {
  ++ep->probeGeneration; // the deadline and any late completion are now stale
  ep->deadline.cancel();
  boost::system::error_code ignored;
  ep->socket.close(ignored);
  ep->probing = false;
  ++ep->probes;
  ep->lastResult = success ? "success" : "failure";
  ep->lastReason = std::move(reason);
  ep->lastCheckAt = time_.systemTime();
  if (ep->tracker.record(success)) {
    ++ep->transitions;
    publish(*ep);
  }
  if (ep->checkPool == nullptr || ep->removed) {
    return;
  }
  const config::HealthCheck& check = *ep->checkPool->healthCheck;
  scheduleProbe(
      ep, jitteredInterval(std::chrono::duration_cast<std::chrono::milliseconds>(check.interval),
                           check.jitterPercent, random01()));
}

// ---------------------------------------------------------------------------------------------
// Passive outlier ejection

void HealthMonitor::onOutlier(const std::string& address, OutlierKind kind) {
  auto it = endpoints_.find(address);
  if (it == endpoints_.end() || it->second->outlierPool == nullptr) {
    return;
  }
  Endpoint& ep = *it->second;
  const MonotonicTime now = time_.monotonicTime();
  if (now < ep.ejectedUntil) {
    return; // already ejected (reports from other workers in flight)
  }
  const config::Pool& pool = *ep.outlierPool;
  const config::OutlierDetection& od = *pool.outlierDetection;
  size_t ejected = 0;
  for (const config::Endpoint& member : pool.endpoints) {
    auto other = endpoints_.find(member.address);
    if (other != endpoints_.end() && now < other->second->ejectedUntil) {
      ++ejected;
    }
  }
  if (!ejectionAllowed(ejected, pool.endpoints.size(), od.maxEjectionPercent)) {
    ++ejectionsRefused_;
    return;
  }
  ++ep.timesEjected;
  ++ep.ejections;
  const auto duration = ejectionTime(
      ep.timesEjected, std::chrono::duration_cast<std::chrono::milliseconds>(od.baseEjectionTime),
      std::chrono::duration_cast<std::chrono::milliseconds>(od.maxEjectionTime));
  ep.ejectedUntil = now + duration;
  ep.ejectedUntilWall = time_.systemTime() + duration;
  ep.ejectionReason = std::string(toString(kind));
  publish(ep);
  // Tell the workers when it ends too (they also compare the time themselves; this keeps their
  // per-pool healthy counts, used for the panic threshold, in step).
  if (!ep.ejectionTimer) {
    ep.ejectionTimer = std::make_unique<boost::asio::steady_timer>(io_);
  }
  ep.ejectionTimer->expires_after(duration);
  ep.ejectionTimer->async_wait([this, self = it->second](const boost::system::error_code& ec) {
    if (!ec && !self->removed) {
      publish(*self);
    }
  });
}

void HealthMonitor::publish(const Endpoint& ep) {
  EndpointStatus status;
  status.address = ep.address;
  status.healthy = ep.checkPool == nullptr || ep.tracker.eligible();
  status.ejectedUntil = ep.ejectedUntil;
  if (publish_) {
    publish_(status);
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

void appendHealthFamilies(const MonitorReport& report, const snapshot::Snapshot* snapshot,
                          bool endpointSeries, std::vector<stats::Family>& families) {
  if (snapshot == nullptr) {
    return;
  }
  auto find = [&report](const std::string& address) -> const EndpointReport* {
    for (const EndpointReport& r : report.endpoints) {
      if (r.address == address) {
        return &r;
      }
    }
    return nullptr;
  };
  struct Kind {
    const char* name;
    stats::MetricType type;
    const char* help;
    uint64_t (*value)(const EndpointReport&);
  };
  static constexpr Kind kKinds[] = {
      {"fulcrum_endpoint_healthy", stats::MetricType::Gauge,
       "1 when the endpoint passes its active health check (or has none)",
       [](const EndpointReport& r) -> uint64_t { return r.state == HealthState::Healthy; }},
      {"fulcrum_endpoint_ejected", stats::MetricType::Gauge,
       "1 while outlier detection ejects the endpoint",
       [](const EndpointReport& r) -> uint64_t { return r.ejected; }},
      {"fulcrum_health_transitions_total", stats::MetricType::Counter,
       "Active health state changes of the endpoint",
       [](const EndpointReport& r) -> uint64_t { return r.transitions; }},
      {"fulcrum_health_probes_total", stats::MetricType::Counter,
       "Active health probes sent to the endpoint",
       [](const EndpointReport& r) -> uint64_t { return r.probes; }},
      {"fulcrum_outlier_ejections_total", stats::MetricType::Counter,
       "Outlier ejections of the endpoint",
       [](const EndpointReport& r) -> uint64_t { return r.ejections; }},
  };
  if (endpointSeries) {
    for (const Kind& kind : kKinds) {
      stats::Family family{kind.name, kind.type, kind.help, {}, {}};
      for (const snapshot::PoolInfo& pool : snapshot->pools) {
        for (const snapshot::EndpointInfo& ep : pool.endpoints) {
          const EndpointReport* r = find(ep.address);
          if (r == nullptr) {
            continue;
          }
          family.series.push_back({{{"pool", pool.pool->name}, {"endpoint", ep.address}},
                                   static_cast<double>(kind.value(*r)),
                                   {}});
        }
      }
      families.push_back(std::move(family));
    }
  }
  stats::Family refused{"fulcrum_outlier_ejections_refused_total",
                        stats::MetricType::Counter,
                        "Outlier ejections refused by maxEjectionPercent",
                        {},
                        {}};
  refused.series.push_back({{}, static_cast<double>(report.ejectionsRefused), {}});
  families.push_back(std::move(refused));
}

} // namespace fulcrum::health
