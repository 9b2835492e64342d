// Session: the access-log record and the span of a request (docs/observability.md). Kept apart
// from session.cc so that the request path there only calls beginRequestLog(), applyTrace(),
// logRequest() and notes bytes and upstream times.

#include "proxy/access_log/writer.h"
#include "proxy/http/forward.h"
#include "proxy/server/request_target.h"
#include "proxy/server/session.h"
#include "proxy/tracing/otlp_json.h"

namespace fulcrum::server {

namespace {

constexpr std::string_view kTraceparent = "traceparent";

std::optional<std::string_view> headerValue(const http::RequestHead& head, std::string_view name) {
  for (const http::HeaderField& f : head.headers) {
    if (f.name.size() == name.size() && http::iequals(f.name, name)) {
      return f.value;
    }
  }
  return std::nullopt;
}

} // namespace

MonotonicTime Session::logClock() const {
  return worker_.observability().recording() ? worker_.time().monotonicTime() : MonotonicTime{};
}

void Session::beginRequestLog() {
  RequestLog& log = log_;
  WorkerObservability& obs = worker_.observability();
  log.pending = true;
  log.upstreamStart = {};
  log.upstreamEnd = {};
  log.bytesIn = req_.headBytes;
  log.bytesOut = 0;
  log.versionMinor = req_.versionMinor;
  log.pool = -1;
  log.text.clear();
  log.userAgent = {};
  log.referer = {};
  if (obs.recording()) {
    log.start = worker_.time().monotonicTime();
    log.method = log.keep(req_.method);
    log.host = log.keep(req_.host);
    log.target = log.keep(req_.target);
    log.requestId = log.keep(http::requestIdFor(req_, {}));
    if (obs.accessLog != nullptr && obs.format == access_log::Format::Combined) {
      log.userAgent = log.keep(headerValue(req_, "user-agent").value_or(""));
      log.referer = log.keep(headerValue(req_, "referer").value_or(""));
    }
  } else {
    log.method = log.host = log.target = log.requestId = {};
  }

  // Trace Context, whether or not spans are exported: the upstream always gets a traceparent.
  int count = 0;
  std::string_view incoming;
  for (const http::HeaderField& f : req_.headers) {
    if (f.name.size() == kTraceparent.size() && http::iequals(f.name, kTraceparent)) {
      ++count;
      incoming = f.value;
    }
  }
  std::optional<tracing::TraceParent> parent;
  if (count == 1) {
    parent = tracing::parseTraceparent(incoming);
  }
  lb::Rng& rng = worker_.rng();
  if (parent) {
    log.traceId = parent->traceId;
    log.parentId = parent->parentId;
    log.sampled = parent->sampled(); // parent-based: the caller decided
    log.keepTracestate = true;
  } else {
    const uint64_t high = rng.next();
    log.traceId = tracing::traceIdFrom(high, rng.next());
    log.parentId.reset();
    log.sampled = access_log::sampled(obs.traceThreshold, rng.next());
    log.keepTracestate = false; // a new trace: the old tracestate describes another one
  }
  log.spanId = tracing::spanIdFrom(rng.next());
  log.traced = true;
  tracing::writeTraceparent(log.traceId, log.spanId, log.sampled ? tracing::kFlagSampled : 0,
                            log.traceparent);
}

void Session::beginErrorLog() {
  if (log_.pending) {
    return;
  }
  log_.pending = true;
  log_.start = logClock();
  log_.upstreamStart = {};
  log_.upstreamEnd = {};
  log_.bytesIn = 0;
  log_.bytesOut = 0;
  log_.pool = -1;
  log_.text.clear();
  log_.method = log_.host = log_.target = log_.requestId = log_.userAgent = log_.referer = {};
  log_.traced = false;
  log_.sampled = false;
}

void Session::applyTrace(http::ForwardOptions& forwarding) {
  forwarding.traceparent = std::string_view(log_.traceparent, tracing::kTraceparentSize);
  forwarding.dropTracestate = !log_.keepTracestate;
  if (log_.requestId.size == 0 && worker_.observability().recording()) {
    log_.requestId = log_.keep(forwarding.generatedRequestId);
  }
}

void Session::logRequest() {
  if (!log_.pending) {
    return;
  }
  log_.pending = false;
  WorkerObservability& obs = worker_.observability();
  if (!obs.recording()) {
    return;
  }
  const bool line =
      obs.accessLog != nullptr && access_log::sampled(obs.accessLogThreshold, worker_.rng().next());
  const bool span = obs.spans != nullptr && log_.traced && log_.sampled;
  if (!line && !span) {
    return;
  }
  const MonotonicTime end = worker_.time().monotonicTime();
  const SystemTime endWall = obs.wallTime(worker_.time(), end);
  const auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(end - log_.start);
  const SystemTime startWall = endWall - std::chrono::duration_cast<SystemTime::duration>(duration);

  std::string_view route;
  std::string_view pool;
  std::string_view revision;
  if (snap_ != nullptr) {
    const snapshot::Snapshot& snapshot = *snap_->snapshot;
    revision = snapshot.hash;
    if (rule_ != nullptr && rule_->routeIndex < snapshot.config.routes.size()) {
      route = snapshot.config.routes[rule_->routeIndex].name;
    }
    if (log_.pool >= 0 && static_cast<size_t>(log_.pool) < snapshot.pools.size()) {
      pool = snapshot.pools[log_.pool].pool->name;
    }
  }
  const std::string_view upstream =
      endpoint_ != nullptr ? std::string_view(endpoint_->address()) : std::string_view();
  const std::string_view flags = stats::shortName(flag_);
  const std::string_view method = log_.view(log_.method);
  const std::string_view protocol = method.empty()           ? std::string_view()
                                    : log_.versionMinor == 0 ? "HTTP/1.0"
                                                             : "HTTP/1.1";
  const std::string_view client(clientIp_, clientIpLen_);
  char traceHex[32];
  std::string_view traceId;
  if (log_.traced) {
    tracing::writeHex(log_.traceId.data(), log_.traceId.size(), traceHex);
    traceId = std::string_view(traceHex, sizeof(traceHex));
  }

  if (line) {
    access_log::AccessLogEntry e;
    e.start = startWall;
    e.requestId = log_.view(log_.requestId);
    e.traceId = traceId;
    e.clientAddress = client;
    e.method = method;
    e.host = log_.view(log_.host);
    e.target = log_.view(log_.target);
    e.protocol = protocol;
    e.userAgent = log_.view(log_.userAgent);
    e.referer = log_.view(log_.referer);
    e.status = status_;
    e.bytesReceived = log_.bytesIn;
    e.bytesSent = log_.bytesOut;
    e.duration = duration;
    if (log_.upstreamStart != MonotonicTime{}) {
      const MonotonicTime upstreamEnd =
          log_.upstreamEnd != MonotonicTime{} ? log_.upstreamEnd : end;
      e.upstreamDuration =
          std::chrono::duration_cast<std::chrono::nanoseconds>(upstreamEnd - log_.upstreamStart);
    }
    e.upstreamAddress = upstream;
    e.route = route;
    e.pool = pool;
    e.responseFlags = flags;
    e.configRevision = revision;
    e.worker = worker_.index();
    const std::string_view text =
        access_log::formatLineInto(obs.format, e, obs.timeCache, obs.line);
    if (!obs.accessLog->push(text)) {
      ++worker_.stats().accessLogLinesDropped;
    }
  }

  if (span) {
    tracing::SpanData s;
    s.traceId = log_.traceId;
    s.spanId = log_.spanId;
    s.parentSpanId = log_.parentId;
    s.endUnixNano = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(endWall.time_since_epoch()).count());
    s.startUnixNano = s.endUnixNano - static_cast<uint64_t>(duration.count());
    s.method = method;
    splitTarget(log_.view(log_.target), s.path, s.query);
    s.host = log_.view(log_.host);
    s.clientAddress = client;
    s.protocolVersion = method.empty()           ? std::string_view()
                        : log_.versionMinor == 0 ? "1.0"
                                                 : "1.1";
    s.status = status_;
    s.route = route;
    s.pool = pool;
    s.upstreamAddress = upstream;
    s.responseFlags = flags;
    s.requestId = log_.view(log_.requestId);
    obs.spanLine.clear();
    tracing::appendSpanJson(s, obs.spanLine);
    obs.spanLine.push_back('\n');
    obs.spans->push(obs.spanLine); // a full ring counts the drop itself
  }
}

} // namespace fulcrum::server
