#include "proxy/server/session.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <span>

#include <boost/asio/write.hpp>

#include "proxy/lb/hash.h"
#include "proxy/router/filters.h"
#include "proxy/server/request_target.h"
#include "proxy/tracing/trace_context.h"

#include "proxy/http/forward.h"
#include <boost/asio/bind_allocator.hpp>

namespace fulcrum::server {

namespace {

using boost::asio::ip::tcp;
using stats::ResponseFlag;
using namespace std::chrono_literals;

// Defaults where the route leaves a timeout unset (docs/life_of_a_request.md, "Deadlines").
constexpr std::chrono::milliseconds kDefaultResponseHeadTimeout = 15s;
constexpr std::chrono::milliseconds kDefaultStreamIdleTimeout = 60s;
constexpr std::chrono::milliseconds kLingerTimeout = 2s;
constexpr std::chrono::milliseconds kErrorWriteTimeout = 10s;
constexpr size_t kLingerMaxBytes = 1 << 20;
constexpr uint32_t kMaxConnectAttempts = 3;
// Sticky splits hash their key with their own seed, so that a pool's hashOn on the same header
// does not correlate with the side of the split.
constexpr uint64_t kStickySplitSeed = 0x73706c6974ULL;
// What filters_ points to for a rule without filters.
const snapshot::RuleFilters kNoFilters{};
// Upstream response heads are held to the same size limit as request heads by default.
constexpr uint32_t kMaxResponseHeadBytes = 64 * 1024;
constexpr uint32_t kMaxResponseHeaders = 200;

constexpr MonotonicTime kNever = MonotonicTime::max();

void appendNumber(std::string& out, uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

void writeRedirect(uint16_t status, std::string_view location, std::string& out) {
  out.append("HTTP/1.1 ");
  appendNumber(out, status);
  out.push_back(' ');
  out.append(http::reasonPhrase(status));
  out.append("\r\nLocation: ");
  out.append(location);
  out.append("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

// The value of the first header `name` (case-insensitive), if any.
std::optional<std::string_view> findHeader(std::span<const http::HeaderField> headers,
                                           std::string_view name) {
  for (const http::HeaderField& field : headers) {
    if (http::iequals(field.name, name)) {
      return field.value;
    }
  }
  return std::nullopt;
}

// The value of cookie `name` in the request's Cookie headers ("a=1; b=2"), if any.
std::optional<std::string_view> findCookie(std::span<const http::HeaderField> headers,
                                           std::string_view name) {
  for (const http::HeaderField& field : headers) {
    if (!http::iequals(field.name, "cookie")) {
      continue;
    }
    std::string_view rest = field.value;
    while (!rest.empty()) {
      const size_t end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) {
        pair.remove_prefix(1);
      }
      const size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        std::string_view value = pair.substr(eq + 1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
          value.remove_suffix(1);
        }
        return value;
      }
    }
  }
  return std::nullopt;
}

} // namespace

Session::Session(Worker& worker) : worker_(worker), client_(worker.io()) {
  timer_.bind(&Session::onTimerThunk, this);
}

Session::~Session() {
  net::TimerWheel::disarm(timer_);
  boost::system::error_code ec;
  client_.close(ec);
}

// ---------------------------------------------------------------------------------------------
// Connection start and bookkeeping

void Session::start(tcp::socket socket, const tcp::endpoint& peer,
                    const config::Listener& listener) {
  client_ = std::move(socket);
  boost::system::error_code ec;
  const std::string ip = peer.address().to_string(ec);
  adoptConnection(listener, ip);
  snap_ = worker_.current();
  listenerSnap_ = snap_;
  phase_ = Phase::ReadingHead;
  firstRequest_ = true;
  resetRequest();
  // A new connection has headTimeout to deliver its first head, counted from accept.
  worker_.wheel().armAfter(timer_, limits_.headTimeout);
  readHead();
}

void Session::resume(tcp::socket socket, const tcp::endpoint& peer, WorkerSnapshotPtr listenerSnap,
                     const config::Listener& listener) {
  client_ = std::move(socket);
  boost::system::error_code ec;
  const std::string ip = peer.address().to_string(ec);
  adoptConnection(listener, ip);
  snap_ = listenerSnap;
  listenerSnap_ = std::move(listenerSnap);
  phase_ = Phase::ReadingHead;
  firstRequest_ = false;
  idleDeadline_ = {};
  resetRequest();
  // Bytes are waiting: the absolute head deadline starts now (and again in onHeadRead).
  worker_.wheel().armAfter(timer_, limits_.headTimeout);
  readHead();
}

void Session::adoptConnection(const config::Listener& listener, std::string_view clientIp) {
  listener_ = &listener;
  listenerName_ = &listener.name;
  limits_ = listener.limits;
  parseLimits_.maxRequestLine = limits_.maxRequestLineBytes;
  parseLimits_.maxHeadBytes = limits_.maxRequestHeadBytes;
  parseLimits_.maxHeaders = limits_.maxHeaders;
  const size_t bufferBytes = std::max<size_t>(limits_.bufferBytes, 1024);
  in_.shrinkTo(bufferBytes);
  out_.shrinkTo(bufferBytes);
  in_.reserve(bufferBytes);
  out_.reserve(bufferBytes);
  in_.clear();
  out_.clear();
  clientIpLen_ = std::min(clientIp.size(), sizeof(clientIp_));
  std::copy_n(clientIp.data(), clientIpLen_, clientIp_);
}

// The connection's listener config follows the snapshot its requests run on (same listener
// name), so that a long-lived connection keeps no snapshot older than its last request's alive.
// limits_ stay those read when the connection was accepted or revived. A listener the new config
// removed keeps its old config (owned by listenerSnap_) until the connection ends.
void Session::followListener() {
  if (listenerSnap_ == snap_) {
    return;
  }
  if (const snapshot::ListenerInfo* info = snap_->snapshot->findListener(*listenerName_)) {
    listener_ = info->listener;
    listenerName_ = &info->listener->name;
    listenerSnap_ = snap_;
  }
}

void Session::releaseActive() {
  if (activeSlot_ != nullptr) {
    --*activeSlot_;
    activeSlot_ = nullptr;
  }
}

void Session::releaseCounts() {
  if (poolState_ != nullptr) {
    poolState_->requests -= countedRequest_ ? 1 : 0;
    poolState_->pending -= countedPending_ ? 1 : 0;
    poolState_->retries -= countedRetry_ ? 1 : 0;
  }
  countedRequest_ = false;
  countedPending_ = false;
  countedRetry_ = false;
  poolState_ = nullptr;
}

void Session::resetRequest() {
  releaseActive();
  releaseCounts();
  retries_ = 0;
  bodySent_ = false;
  rule_ = nullptr;
  filters_ = nullptr;
  routeSlot_ = stats::RouteSlots::kUnrouted;
  poolSlot_ = 0;
  timed_ = false;
  endpoint_ = nullptr;
  endpointIndex_ = -1;
  hashKey_.reset();
  up_ = nullptr;
  reused_ = false;
  connectAttempts_ = 0;
  retried_ = false;
  reqFraming_ = http::BodyFraming::None;
  reqRemaining_ = 0;
  reqBodyBytes_ = 0;
  uploadSlice_ = 0;
  uploadDone_ = true;
  headWritten_ = false;
  responseStarted_ = false;
  responseDone_ = false;
  keepAliveAfter_ = true;
  upstreamReusable_ = true;
  respRemaining_ = 0;
  downloadSlice_ = 0;
  status_ = 0;
  flag_ = ResponseFlag::None;
  dechunk_ = false;
  dechunkConsumed_ = 0;
  interimSent_ = false;
}

bool Session::handlerDone(uint32_t epoch) {
  --pending_;
  if (phase_ == Phase::Closed) {
    if (pending_ == 0) {
      release();
    }
    return true;
  }
  return epoch != epoch_;
}

void Session::release() {
  net::TimerWheel::disarm(timer_);
  phase_ = Phase::Idle;
  releaseActive();
  releaseCounts();
  snap_.reset();
  listenerSnap_.reset();
  in_.clear();
  out_.clear();
  worker_.releaseSession(this);
}

// The keep-alive connection has been idle for kParkAfter with only its head read pending: cancel
// that read; its completion (onHeadRead) finishes the hand-over to the worker.
void Session::park() {
  phase_ = Phase::Parking;
  boost::system::error_code ignored;
  client_.cancel(ignored);
}

void Session::completePark() {
  net::TimerWheel::disarm(timer_);
  releaseActive();
  releaseCounts();
  snap_.reset();
  worker_.park(std::move(client_), std::move(listenerSnap_), *listener_, listenerSlot,
               idleDeadline_);
  phase_ = Phase::Idle;
  idleDeadline_ = {};
  in_.clear();
  out_.clear();
  worker_.releaseSession(this, /*connectionClosed=*/false);
}

void Session::countResponse(uint16_t status) {
  stats::RequestRecord record;
  record.listener = listenerSlot;
  record.route = routeSlot_;
  record.pool = poolSlot_;
  record.endpoint = endpointIndex_ >= 0 ? endpointSlot() : 0;
  record.status = status;
  record.timed = timed_;
  if (timed_) {
    record.duration = preciseNow() - requestStart_;
  }
  worker_.stats().recordRequest(record);
}

MonotonicTime Session::preciseNow() {
  // Reads the clock and refreshes the wheel's cached time with it (which only makes the
  // deadlines armed next more exact): the wheel's tick is too coarse for latency histograms.
  worker_.wheel().refreshNow();
  return worker_.wheel().now();
}

void Session::onDrain() {
  if (phase_ == Phase::ReadingHead && in_.empty()) {
    abort(ResponseFlag::None);
  }
}

// ---------------------------------------------------------------------------------------------
// Phase: read head -> parse

void Session::readHead() {
  if (in_.writable() == 0) {
    in_.compact();
  }
  if (in_.writable() == 0) {
    if (in_.capacity() < parseLimits_.maxHeadBytes + 4) {
      in_.reserve(std::min<size_t>(in_.capacity() * 2, parseLimits_.maxHeadBytes + 4));
    } else {
      respondError(431, ResponseFlag::DownstreamProtocolError, "request head too large");
      return;
    }
  }
  ++pending_;
  client_.async_read_some(in_.writeSpace(),
                          bound([this, e = epoch_](const boost::system::error_code& ec, size_t n) {
                            if (handlerDone(e)) {
                              return;
                            }
                            onHeadRead(ec, n);
                          }));
  clientReadTrust_.begin(client_, in_.writable());
  announceRead(client_, in_.writable());
}

void Session::onHeadRead(const boost::system::error_code& ec, size_t n) {
  if (phase_ == Phase::Parking) {
    if (ec == boost::asio::error::operation_aborted) {
      completePark();
      return;
    }
    phase_ = Phase::ReadingHead; // bytes or EOF beat the cancel: carry on unparked
  }
  idleDeadline_ = {};
  if (ec) {
    // EOF between requests is the normal end of a keep-alive connection.
    abort(in_.empty() ? ResponseFlag::None : ResponseFlag::DownstreamReset);
    return;
  }
  worker_.stats().addReceived(listenerSlot, n);
  const bool wasEmpty = in_.empty();
  in_.commit(n);
  if (wasEmpty && !firstRequest_) {
    // The absolute head deadline starts with the head's first byte (slowloris: trickling bytes
    // does not extend it).
    worker_.wheel().armAfter(timer_, limits_.headTimeout);
  }
  parseHead(clientReadTrust_.drained(n));
}

void Session::parseHead(bool drained) {
  http::ParseError error = http::ParseError::None;
  const auto status = http::parseRequestHead(in_.view(), parseLimits_, req_, error);
  if (status == http::ParseStatus::NeedMore) {
    if (in_.size() >= parseLimits_.maxHeadBytes) {
      respondError(431, ResponseFlag::DownstreamProtocolError, "request head too large");
      return;
    }
    readHead();
    return;
  }
  if (status == http::ParseStatus::Error) {
    respondError(http::statusFor(error), ResponseFlag::DownstreamProtocolError,
                 http::describe(error));
    return;
  }
  route(drained);
}

// ---------------------------------------------------------------------------------------------
// Phase: route -> pick

void Session::route(bool drained) {
  firstRequest_ = false;
  requestStart_ = preciseNow();
  timed_ = true;
  beginRequestLog();
  if (snap_ != worker_.current()) {
    releaseActive();
    releaseCounts();
    snap_ = worker_.current(); // RCU: this request runs on the newest snapshot
    followListener();
  }
  const snapshot::Snapshot& snapshot = *snap_->snapshot;
  isHead_ = req_.method == "HEAD";
  idempotent_ = health::isIdempotent(req_.method);
  http10_ = req_.versionMinor == 0;
  clientKeepAlive_ = req_.keepAlive && !worker_.draining();

  if (req_.method == "CONNECT") {
    respondError(501, ResponseFlag::DownstreamProtocolError, "CONNECT is not supported");
    return;
  }
  std::string_view path;
  std::string_view query;
  splitTarget(req_.target, path, query);
  auto normalized = router::normalizePath(path, scratch_, /*mergeSlashes=*/false);
  if (!normalized) {
    respondError(400, ResponseFlag::InvalidPath, "invalid request path");
    return;
  }
  const router::RequestView view{req_.host, normalized.value(), query, req_.method,
                                 std::span<const http::HeaderField>(req_.headers)};
  const router::RouteMatchResult match = snapshot.routes->lookup(view);
  if (match.rule == nullptr) {
    respondError(404, ResponseFlag::NoRoute, "no route");
    return;
  }
  rule_ = match.rule;
  routeSlot_ = rule_->statsSlot;
  worker_.stats().prefetchRoute(routeSlot_);
  // A rule without filters reads nothing more (its CompiledRule line says so).
  filters_ =
      rule_->hasFilters ? &snapshot.ruleFilters[rule_->routeIndex][rule_->ruleIndex] : &kNoFilters;
  if (filters_->redirect != nullptr) {
    const uint16_t port = client_.local_endpoint().port();
    auto redirect = router::computeRedirect(
        *filters_->redirect, router::RedirectRequest{"http", req_.host, port, view.path, query});
    countResponse(redirect.status);
    phase_ = Phase::Responding;
    ++epoch_;
    headOut_.clear();
    writeRedirect(redirect.status, redirect.location, headOut_);
    status_ = redirect.status;
    log_.bytesOut = headOut_.size();
    logRequest();
    worker_.wheel().armAfter(timer_, kErrorWriteTimeout);
    ++pending_;
    clientReadTrust_.onWrite();
    boost::asio::async_write(client_, boost::asio::buffer(headOut_),
                             bound([this, e = epoch_](const boost::system::error_code& ec, size_t) {
                               if (handlerDone(e)) {
                                 return;
                               }
                               onErrorWritten(ec);
                             }));
    return;
  }

  const std::span<const http::HeaderField> headers(req_.headers);
  std::optional<std::string_view> sticky;
  if (rule_->singlePool == router::kNoBackend && rule_->backends.size() > 1 &&
      rule_->rule != nullptr && rule_->rule->stickyHashOn) {
    sticky = findHeader(headers, *rule_->rule->stickyHashOn);
  }
  // Sticky: the same header value always takes the same side of the split; without it, random.
  const uint64_t splitKey = sticky ? lb::hashKey(*sticky, kStickySplitSeed) : worker_.rng().next();
  const uint32_t pool = router::pickBackend(*rule_, splitKey);
  if (pool == router::kNoBackend || pool >= snap_->pools.size()) {
    respondError(503, ResponseFlag::NoHealthyUpstream, "no backend for this route");
    return;
  }
  poolIndex_ = pool;
  poolSlot_ = snapshot.pools[pool].statsSlot;
  log_.pool = pool;
  {
    const config::Timeouts* t = rule_->timeouts;
    requestDeadline_ =
        t != nullptr && t->request ? requestStart_ + *t->request : kNever; // across all tries
  }
  poolState_ = &snap_->pools[pool];
  if (const auto& cb = snapshot.pools[pool].pool->circuitBreaker;
      cb && !breakerAdmits(poolState_->requests, cb->maxRequests)) {
    return;
  }
  ++poolState_->requests;
  countedRequest_ = true;
  // The consistent-hash key is taken now, while the head's views into in_ are valid. Without
  // the header or cookie, the balancer picks at random.
  if (const std::optional<config::HashOn>& hashOn = snapshot.pools[pool].pool->hashOn) {
    std::optional<std::string_view> key;
    switch (hashOn->kind) {
    case config::HashOn::Kind::Header:
      key = findHeader(headers, hashOn->name);
      break;
    case config::HashOn::Kind::Cookie:
      key = findCookie(headers, hashOn->name);
      break;
    case config::HashOn::Kind::ClientIp:
      key = std::string_view(clientIp_, clientIpLen_);
      break;
    }
    if (key) {
      hashKey_ = lb::hashKey(*key);
    }
  }

  // The upstream head is written now, while the head's views into in_ are valid.
  char requestId[32];
  const uint64_t a = worker_.rng().next();
  tracing::writeHexWords(a, worker_.rng().next(), requestId);
  http::ForwardOptions forwarding;
  forwarding.peerAddress = std::string_view(clientIp_, clientIpLen_);
  forwarding.generatedRequestId = std::string_view(requestId, sizeof(requestId));
  forwarding.edits = filters_->requestEdits();
  applyTrace(forwarding);
  if (filters_->rewrite != nullptr) {
    const config::UrlRewrite& rewrite = *filters_->rewrite;
    if (rewrite.pathKind) {
      // scratch_ may hold the normalized path the rewrite reads: write into two other strings.
      const std::string_view rewritten =
          router::rewritePath(rewrite, normalized.value(), match.match, rewriteScratch_);
      targetScratch_.assign(rewritten);
      if (!query.empty()) {
        targetScratch_.push_back('?');
        targetScratch_.append(query);
      }
      forwarding.pathOverride = targetScratch_;
    }
    if (rewrite.hostname) {
      forwarding.hostOverride = *rewrite.hostname;
    }
  }
  headOut_.clear();
  http::writeUpstreamRequestHead(req_, forwarding, headOut_);
  in_.consume(req_.headBytes);

  if (!prepareRequestBody()) {
    return;
  }
  // The whole request is read and the client asked to keep the connection: its next request
  // waits for readiness instead of a recv() that would find nothing. Not earlier (mid-request),
  // because a FIN that came with the last bytes read raises no further edge: a lost EOF here only
  // delays noticing a half-closed keep-alive client until the connection parks (kParkAfter).
  const bool complete =
      reqFraming_ == http::BodyFraming::None
          ? in_.empty()
          : reqFraming_ == http::BodyFraming::ContentLength && in_.size() == reqRemaining_;
  if (drained && complete && clientKeepAlive_) {
    net::markDrained(client_);
  }
  pickAndConnect();
}

bool Session::prepareRequestBody() {
  reqFraming_ = req_.framing;
  uploadSlice_ = 0;
  uploadDone_ = true;
  switch (reqFraming_) {
  case http::BodyFraming::None:
  case http::BodyFraming::UntilClose:
    reqFraming_ = http::BodyFraming::None;
    return true;
  case http::BodyFraming::ContentLength:
    if (limits_.maxRequestBodyBytes != 0 && req_.contentLength > limits_.maxRequestBodyBytes) {
      respondError(413, ResponseFlag::RequestBodyTooLarge, "request body too large");
      return false;
    }
    reqRemaining_ = req_.contentLength;
    uploadSlice_ = static_cast<size_t>(std::min<uint64_t>(in_.size(), reqRemaining_));
    uploadDone_ = reqRemaining_ == 0;
    return true;
  case http::BodyFraming::Chunked: {
    reqChunks_.reset();
    const auto step = reqChunks_.feed(in_.view());
    if (step.error != http::ParseError::None) {
      respondError(400, ResponseFlag::DownstreamProtocolError, http::describe(step.error));
      return false;
    }
    reqBodyBytes_ = step.dataBytes;
    if (limits_.maxRequestBodyBytes != 0 && reqBodyBytes_ > limits_.maxRequestBodyBytes) {
      respondError(413, ResponseFlag::RequestBodyTooLarge, "request body too large");
      return false;
    }
    uploadSlice_ = step.consumed;
    uploadDone_ = false; // becomes true when the slice that ends the body has been written
    return true;
  }
  }
  return true;
}

void Session::pickAndConnect() {
  WorkerSnapshot::Pool& pool = snap_->pools[poolIndex_];
  const auto& endpoints = pool.endpoints;
  const MonotonicTime now = worker_.wheel().now();
  releaseActive(); // a retry gives back the failed endpoint's count before picking again
  lb::PickContext context;
  context.avoid = endpointIndex_;
  context.hash = hashKey_;
  context.activeRequests = pool.active;
  const config::Pool& poolConfig = *snap_->snapshot->pools[poolIndex_].pool;
  // Panic: too few healthy endpoints left, balance over all of them (health checks and outlier
  // ejections are ignored; the local connect-failure back-off still applies).
  const bool panic =
      health::inPanic(pool.healthy, endpoints.size(), poolConfig.panicThresholdPercent);
  if (panic) {
    ++worker_.stats().panicPicks;
  }
  int64_t chosen = -1;
  for (size_t tries = 0; tries < std::max<size_t>(endpoints.size(), 1); ++tries) {
    const int64_t index = pool.balancer->pick(context);
    if (index < 0 || static_cast<size_t>(index) >= endpoints.size()) {
      break;
    }
    if (!endpoints[index]->ejected(now) && (panic || endpoints[index]->sharedHealthy(now))) {
      chosen = index;
      break;
    }
    context.avoid = index;
  }
  if (chosen < 0) {
    respondError(503, ResponseFlag::NoHealthyUpstream, "no healthy upstream");
    return;
  }
  endpointIndex_ = chosen;
  endpoint_ = endpoints[chosen];
  activeSlot_ = &pool.active[chosen];
  ++*activeSlot_;
  up_ = worker_.upstreams().takeIdle(*endpoint_);
  if (up_ != nullptr) {
    reused_ = true;
    ++worker_.stats().upstreamRequestsReused;
    writeHead();
    return;
  }
  if (const auto& cb = poolConfig.circuitBreaker) {
    uint32_t open = 0;
    for (const net::EndpointPool* endpoint : endpoints) {
      open += endpoint->openConnections();
    }
    if (!breakerAdmits(open, cb->maxConnections) ||
        !breakerAdmits(pool.pending, cb->maxPendingRequests)) {
      return;
    }
  }
  connect(*endpoint_);
}

bool Session::breakerAdmits(uint32_t count, uint32_t limit) {
  if (count < limit) {
    return true;
  }
  ++worker_.stats().upstreamOverflow;
  respondError(503, ResponseFlag::UpstreamOverflow, "upstream overflow (circuit breaker open)");
  return false;
}

// ---------------------------------------------------------------------------------------------
// Phase: connect / reuse

void Session::connect(net::EndpointPool& endpoint) {
  phase_ = Phase::Connecting;
  reused_ = false;
  ++connectAttempts_;
  up_ = worker_.upstreams().create(endpoint);
  const config::Pool& pool = *snap_->snapshot->pools[poolIndex_].pool;
  std::chrono::milliseconds timeout = pool.connectTimeout;
  if (rule_->timeouts != nullptr && rule_->timeouts->connect) {
    timeout = *rule_->timeouts->connect;
  }
  connectStart_ = preciseNow();
  connectDeadline_ = std::min(connectStart_ + timeout, requestDeadline_);
  worker_.wheel().arm(timer_, connectDeadline_);
  if (!countedPending_ && poolState_ != nullptr) {
    ++poolState_->pending;
    countedPending_ = true;
  }
  ++pending_;
  up_->socket.async_connect(endpoint.endpoint(),
                            bound([this, e = epoch_](const boost::system::error_code& ec) {
                              if (handlerDone(e)) {
                                return;
                              }
                              onConnected(ec);
                            }));
}

void Session::onConnected(const boost::system::error_code& ec) {
  if (countedPending_) {
    --poolState_->pending;
    countedPending_ = false;
  }
  if (ec) {
    ++worker_.stats().upstreamConnectFailures;
    ++worker_.stats().pools[poolSlot_].connectFailures;
    ++worker_.stats().endpoints[endpointSlot()].connectFailures;
    endpoint_->recordConnectFailure(worker_.wheel().now());
    recordOutcome(net::EndpointPool::Outcome::GatewayError);
    closeUpstream();
    const size_t endpoints = snap_->pools[poolIndex_].endpoints.size();
    if (connectAttempts_ < std::min<size_t>(kMaxConnectAttempts, endpoints)) {
      pickAndConnect(); // nothing was sent: trying another endpoint is always safe
      return;
    }
    if (tryRetry(health::TryFailure::ConnectFailure)) {
      return;
    }
    respondError(502, ResponseFlag::UpstreamConnectFailure, "upstream connect failed");
    return;
  }
  endpoint_->recordConnectSuccess();
  up_->connected = true;
  ++worker_.stats().upstreamConnectionsTotal;
  stats::PoolCounters& poolStats = worker_.stats().pools[poolSlot_];
  ++poolStats.connectionsTotal;
  poolStats.connectTime.observe(preciseNow() - connectStart_);
  ++worker_.stats().endpoints[endpointSlot()].connectionsTotal;
  boost::system::error_code ignored;
  up_->socket.set_option(tcp::no_delay(true), ignored);
  writeHead();
}

// ---------------------------------------------------------------------------------------------
// Phase: write head (+ the body bytes already buffered), then upload and download concurrently

void Session::writeHead() {
  phase_ = Phase::Exchanging;
  log_.upstreamStart = logClock();
  ++up_->requests;
  const config::Timeouts* timeouts = rule_->timeouts;
  const MonotonicTime now = worker_.wheel().now(); // fresh: route() or onConnected() read it
  upstreamSentAt_ = now;
  streamIdle_ = timeouts != nullptr && timeouts->idle ? *timeouts->idle : kDefaultStreamIdleTimeout;
  responseDeadline_ = kNever; // starts once the request is fully forwarded
  lastActivity_ = now;
  armExchangeTimer();

  std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(headOut_),
                                                   in_.readable(uploadSlice_)};
  bodySent_ = bodySent_ || uploadSlice_ > 0;
  if (queueSend(up_->socket, buffers, [](void* self, uint32_t epoch, ssize_t result) {
        static_cast<Session*>(self)->onHeadSent(epoch, result);
      })) {
    // Sent at the end of this pass of the event loop; the response read starts now, as after an
    // async_write.
    out_.clear();
    downloadRead();
    return;
  }
  const size_t written = net::sendNow(up_->socket, buffers);
  if (written == net::totalSize(buffers)) {
    // Sent at once (net/send_now.h): the response read starts, then the write completes, in the
    // order an async_write's completion would have kept.
    out_.clear();
    const uint32_t epoch = epoch_;
    downloadRead();
    if (epoch_ == epoch && phase_ == Phase::Exchanging) {
      onHeadWritten({});
    }
    return;
  }
  writeHeadRest(buffers, written);
  out_.clear();
  downloadRead();
}

void Session::announceRead(tcp::socket& socket, size_t requested) {
  if (net::IoBatch* batch = worker_.ioBatch()) {
    batch->expectRead(socket, requested);
  }
}

bool Session::queueSend(tcp::socket& socket,
                        const std::array<boost::asio::const_buffer, 2>& buffers,
                        net::IoBatch::Done done) {
  net::IoBatch* batch = worker_.ioBatch();
  if (batch == nullptr || !batch->queue(socket.native_handle(), buffers, done, this, epoch_)) {
    return false;
  }
  ++pending_;
  return true;
}

namespace {
// The error a failed send reports (-errno).
boost::system::error_code sendError(ssize_t result) {
  return {static_cast<int>(-result), boost::asio::error::get_system_category()};
}
} // namespace

void Session::onHeadSent(uint32_t epoch, ssize_t result) {
  if (handlerDone(epoch)) {
    return;
  }
  if (result < 0 && result != -EAGAIN) {
    onHeadWritten(sendError(result));
    return;
  }
  // The buffers are as they were queued: nothing touches an outstanding write's bytes.
  const std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(headOut_),
                                                         in_.readable(uploadSlice_)};
  const size_t written = result > 0 ? static_cast<size_t>(result) : 0;
  if (written == net::totalSize(buffers)) {
    onHeadWritten({});
    return;
  }
  writeHeadRest(buffers, written);
}

void Session::writeHeadRest(const std::array<boost::asio::const_buffer, 2>& buffers,
                            size_t written) {
  if (written != 0) {
    net::markSendBlocked(up_->socket);
  }
  ++pending_;
  upReadTrust_.onWrite();
  boost::asio::async_write(up_->socket, net::remainderOf(buffers, written),
                           bound([this, e = epoch_](const boost::system::error_code& ec, size_t) {
                             if (handlerDone(e)) {
                               return;
                             }
                             onHeadWritten(ec);
                           }));
}

void Session::armExchangeTimer() {
  MonotonicTime deadline = std::min(requestDeadline_, lastActivity_ + streamIdle_);
  if (!responseStarted_) {
    deadline = std::min(deadline, responseDeadline_);
  }
  worker_.wheel().arm(timer_, deadline);
}

void Session::onHeadWritten(const boost::system::error_code& ec) {
  if (ec) {
    if (retryOnFreshConnection()) {
      return;
    }
    recordOutcome(net::EndpointPool::Outcome::GatewayError);
    if (tryRetry(health::TryFailure::Reset)) {
      return;
    }
    respondError(502, ResponseFlag::UpstreamReset, "upstream connection reset");
    return;
  }
  headWritten_ = true;
  if (reqFraming_ == http::BodyFraming::None) {
    uploadDone_ = true;
  } else {
    const size_t slice = uploadSlice_;
    log_.bytesIn += slice;
    in_.consume(slice);
    uploadSlice_ = 0;
    if (reqFraming_ == http::BodyFraming::ContentLength) {
      reqRemaining_ -= slice;
      uploadDone_ = reqRemaining_ == 0;
    } else {
      uploadDone_ = reqChunks_.done();
    }
  }
  if (uploadDone_) {
    if (responseDone_) {
      finishExchange();
      return;
    }
    armResponseHeadDeadline();
    return;
  }
  uploadRead();
}

void Session::uploadRead() {
  in_.compact();
  ++pending_;
  client_.async_read_some(in_.writeSpace(),
                          bound([this, e = epoch_](const boost::system::error_code& ec, size_t n) {
                            if (handlerDone(e)) {
                              return;
                            }
                            onUploadRead(ec, n);
                          }));
  clientReadTrust_.begin(client_, in_.writable());
  announceRead(client_, 0); // a body: bulk
}

void Session::onUploadRead(const boost::system::error_code& ec, size_t n) {
  if (ec) {
    abort(ResponseFlag::DownstreamReset); // the client went away before its body was complete
    return;
  }
  if (clientReadTrust_.drained(n)) {
    net::markDrained(client_);
  }
  worker_.stats().addReceived(listenerSlot, n);
  in_.commit(n);
  lastActivity_ = worker_.wheel().now();
  if (reqFraming_ == http::BodyFraming::ContentLength) {
    uploadSlice_ = static_cast<size_t>(std::min<uint64_t>(in_.size(), reqRemaining_));
  } else {
    const auto step = reqChunks_.feed(in_.view());
    if (step.error != http::ParseError::None) {
      respondError(400, ResponseFlag::DownstreamProtocolError, http::describe(step.error));
      return;
    }
    reqBodyBytes_ += step.dataBytes;
    if (limits_.maxRequestBodyBytes != 0 && reqBodyBytes_ > limits_.maxRequestBodyBytes) {
      respondError(413, ResponseFlag::RequestBodyTooLarge, "request body too large");
      return;
    }
    uploadSlice_ = step.consumed;
  }
  if (uploadSlice_ == 0) {
    uploadRead();
    return;
  }
  uploadWrite();
}

void Session::uploadWrite() {
  bodySent_ = true;
  ++pending_;
  upReadTrust_.onWrite();
  boost::asio::async_write(up_->socket, in_.readable(uploadSlice_),
                           bound([this, e = epoch_](const boost::system::error_code& ec, size_t) {
                             if (handlerDone(e)) {
                               return;
                             }
                             onUploadWritten(ec);
                           }));
}

void Session::onUploadWritten(const boost::system::error_code& ec) {
  if (ec) {
    respondError(502, ResponseFlag::UpstreamReset, "upstream connection reset");
    return;
  }
  lastActivity_ = worker_.wheel().now();
  const size_t slice = uploadSlice_;
  log_.bytesIn += slice;
  in_.consume(slice);
  uploadSlice_ = 0;
  if (reqFraming_ == http::BodyFraming::ContentLength) {
    reqRemaining_ -= slice;
    uploadDone_ = reqRemaining_ == 0;
  } else {
    uploadDone_ = reqChunks_.done();
  }
  if (!uploadDone_) {
    uploadRead();
    return;
  }
  if (responseDone_) {
    finishExchange();
    return;
  }
  armResponseHeadDeadline();
}

// The response head is due timeouts.backendRequest after the request was fully forwarded (the
// request timeout, when set alone, covers it; neither set: kDefaultResponseHeadTimeout).
void Session::armResponseHeadDeadline() {
  if (responseStarted_) {
    return;
  }
  const config::Timeouts* t = rule_->timeouts;
  if (t != nullptr && t->backendRequest) {
    responseDeadline_ = worker_.wheel().now() + *t->backendRequest;
  } else if (t != nullptr && t->request) {
    responseDeadline_ = kNever;
  } else {
    responseDeadline_ = worker_.wheel().now() + kDefaultResponseHeadTimeout;
  }
  armExchangeTimer();
}

// ---------------------------------------------------------------------------------------------
// Phase: read response head -> stream response body

void Session::downloadRead() {
  if (out_.writable() == 0) {
    out_.compact();
  }
  if (out_.writable() == 0) {
    if (!responseStarted_ && out_.capacity() < kMaxResponseHeadBytes) {
      out_.reserve(std::min<size_t>(out_.capacity() * 2, kMaxResponseHeadBytes));
    } else {
      respondError(502, ResponseFlag::UpstreamProtocolError, "upstream response head too large");
      return;
    }
  }
  ++pending_;
  up_->socket.async_read_some(
      out_.writeSpace(), bound([this, e = epoch_](const boost::system::error_code& ec, size_t n) {
        if (handlerDone(e)) {
          return;
        }
        onDownloadRead(ec, n);
      }));
  upReadTrust_.begin(up_->socket, out_.writable());
  announceRead(up_->socket, responseStarted_ ? 0 : out_.writable()); // a body: bulk
}

bool Session::retryOnFreshConnection() {
  // Only when nothing of a response arrived and the request can be sent again as it was: a
  // pooled connection the upstream closed while we picked it, and a request without a body.
  if (!reused_ || retried_ || responseStarted_ || interimSent_ || !out_.empty() ||
      reqFraming_ != http::BodyFraming::None || status_ != 0) {
    return false;
  }
  retried_ = true;
  ++worker_.stats().upstreamRetries;
  ++epoch_; // the other half of the exchange on the old connection is now stale
  closeUpstream();
  connect(*endpoint_);
  return true;
}

// A request can be sent again as it was: no body, or not one byte of it (nor the head) written
// yet, and the forwarded head is still in headOut_ (a relayed 1xx reuses that string).
bool Session::replayable() const {
  if (interimSent_ || responseStarted_) {
    return false;
  }
  return reqFraming_ == http::BodyFraming::None || (!bodySent_ && !headWritten_);
}

bool Session::tryRetry(health::TryFailure failure, uint16_t status) {
  const config::RetryPolicy* policy = rule_->retry;
  if (policy == nullptr || retries_ >= policy->attempts || !replayable() || poolState_ == nullptr) {
    return false;
  }
  const health::RetryConditions conditions = health::RetryConditions::parse(policy->on);
  if (failure == health::TryFailure::Status ? !conditions.matchesStatus(status)
                                            : !conditions.matches(failure)) {
    return false;
  }
  // Nothing reached the upstream on a connect failure; otherwise the method must be safe to
  // repeat, unless the rule says otherwise.
  if (failure != health::TryFailure::ConnectFailure && !idempotent_ && !policy->nonIdempotent) {
    return false;
  }
  if (!countedRetry_) {
    const auto& cb = snap_->snapshot->pools[poolIndex_].pool->circuitBreaker;
    if ((cb && poolState_->retries >= cb->maxRetries) ||
        !health::retryBudgetAllows(poolState_->retries, poolState_->requests,
                                   policy->budgetPercent)) {
      ++worker_.stats().upstreamRetriesSkipped;
      return false;
    }
    ++poolState_->retries;
    countedRetry_ = true;
  }
  ++retries_;
  ++worker_.stats().upstreamRetryAttempts;
  ++epoch_; // the rest of the failed try (its other half, a late completion) is stale
  closeUpstream();
  releaseActive();
  // The next try starts clean: nothing of this one went downstream.
  headWritten_ = false;
  bodySent_ = false;
  responseDone_ = false;
  upstreamReusable_ = true;
  uploadDone_ = reqFraming_ == http::BodyFraming::None;
  status_ = 0;
  out_.clear();
  connectAttempts_ = 0;
  reused_ = false;
  responseDeadline_ = kNever;
  const auto delay = health::retryBackoff(
      retries_, std::chrono::duration_cast<std::chrono::milliseconds>(policy->backoff.base),
      std::chrono::duration_cast<std::chrono::milliseconds>(policy->backoff.max),
      static_cast<double>(worker_.rng().next() >> 11) * 0x1.0p-53);
  phase_ = Phase::Backoff;
  backoffUntil_ = worker_.wheel().now() + delay;
  worker_.wheel().arm(timer_, std::min(backoffUntil_, requestDeadline_));
  return true;
}

void Session::recordOutcome(net::EndpointPool::Outcome outcome) {
  if (endpoint_ == nullptr) {
    return;
  }
  const auto& od = snap_->snapshot->pools[poolIndex_].pool->outlierDetection;
  if (!od) {
    return;
  }
  bool gateway = false;
  if (endpoint_->recordOutcome(outcome, od->consecutive5xx, od->consecutiveGatewayErrors,
                               gateway)) {
    worker_.reportOutlier(endpoint_->address(), gateway
                                                    ? health::OutlierKind::ConsecutiveGatewayErrors
                                                    : health::OutlierKind::Consecutive5xx);
  }
}

void Session::onDownloadRead(const boost::system::error_code& ec, size_t n) {
  if (ec) {
    if (!responseStarted_) {
      if (retryOnFreshConnection()) {
        return;
      }
      recordOutcome(net::EndpointPool::Outcome::GatewayError);
      if (tryRetry(health::TryFailure::Reset)) {
        return;
      }
      respondError(502,
                   out_.empty() ? ResponseFlag::UpstreamReset : ResponseFlag::UpstreamProtocolError,
                   "upstream closed the connection before a complete response head");
      return;
    }
    if (ec == boost::asio::error::eof && resp_.framing == http::BodyFraming::UntilClose) {
      upstreamReusable_ = false;
      responseComplete();
      return;
    }
    // Mid-body: the client must see a truncated response, so close without completing it.
    abort(ResponseFlag::UpstreamReset);
    return;
  }
  out_.commit(n);
  lastActivity_ = worker_.wheel().now();
  const bool drained = upReadTrust_.drained(n);
  if (!responseStarted_) {
    parseResponseHead(drained);
  } else {
    downloadForward(drained);
  }
}

void Session::parseResponseHead(bool drained) {
  static const http::Limits kResponseLimits{kMaxResponseHeadBytes, kMaxResponseHeadBytes,
                                            kMaxResponseHeaders};
  for (;;) {
    http::ParseError error = http::ParseError::None;
    const auto status =
        http::parseResponseHead(out_.view(), kResponseLimits, isHead_, resp_, error);
    if (status == http::ParseStatus::NeedMore) {
      downloadRead();
      return;
    }
    if (status == http::ParseStatus::Error) {
      respondError(502, ResponseFlag::UpstreamProtocolError, "malformed upstream response");
      return;
    }
    if (resp_.status >= 200) {
      break;
    }
    if (resp_.status == 101) {
      // Upgrade is hop-by-hop and never forwarded, so a switch is a protocol error.
      respondError(502, ResponseFlag::UpstreamProtocolError, "unexpected 101 from upstream");
      return;
    }
    // 1xx: relayed as is (100 Continue answers the client's Expect), except to HTTP/1.0 clients.
    const size_t headBytes = resp_.headBytes;
    if (http10_) {
      out_.consume(headBytes);
      continue;
    }
    interimSent_ = true; // headOut_ no longer holds the upstream request: no retry from here
    headOut_.clear();
    http::ResponseOptions interim;
    interim.clientVersionMinor = req_.versionMinor;
    http::writeDownstreamResponseHead(resp_, interim, headOut_);
    out_.consume(headBytes);
    ++pending_;
    clientReadTrust_.onWrite();
    boost::asio::async_write(client_, boost::asio::buffer(headOut_),
                             bound([this, e = epoch_](const boost::system::error_code& ec, size_t) {
                               if (handlerDone(e)) {
                                 return;
                               }
                               onInterimWritten(ec);
                             }));
    return;
  }

  // A final response: outlier detection counts it, and a retryable status is retried now,
  // before any byte of it went downstream (nothing of it is buffered but its head).
  {
    using Outcome = net::EndpointPool::Outcome;
    const uint16_t s = resp_.status;
    recordOutcome(s == 502 || s == 503 || s == 504 ? Outcome::GatewayError
                  : s >= 500                       ? Outcome::Status5xx
                                                   : Outcome::Success);
    if (s >= 400 && tryRetry(health::TryFailure::Status, s)) {
      return;
    }
  }
  status_ = resp_.status;
  worker_.stats().pools[poolSlot_].responseTime.observe(preciseNow() - upstreamSentAt_);
  upstreamReusable_ = resp_.keepAlive && resp_.framing != http::BodyFraming::UntilClose;
  http::ResponseOptions options;
  options.clientVersionMinor = req_.versionMinor;
  options.clientKeepAlive = clientKeepAlive_;
  options.edits = filters_->responseEdits();
  options.close = !uploadDone_ || worker_.draining();
  headOut_.clear();
  const http::ResponseDisposition disposition =
      http::writeDownstreamResponseHead(resp_, options, headOut_);
  keepAliveAfter_ = !disposition.close;
  dechunk_ = disposition.dechunk;
  out_.consume(resp_.headBytes);
  responseStarted_ = true;
  armExchangeTimer();
  switch (resp_.framing) {
  case http::BodyFraming::ContentLength:
    respRemaining_ = resp_.contentLength;
    break;
  case http::BodyFraming::Chunked:
    respChunks_.reset();
    break;
  default:
    respRemaining_ = 0;
    break;
  }
  downloadForward(drained);
}

void Session::onInterimWritten(const boost::system::error_code& ec) {
  if (ec) {
    abort(ResponseFlag::DownstreamReset);
    return;
  }
  worker_.stats().addSent(listenerSlot, headOut_.size());
  log_.bytesOut += headOut_.size();
  parseResponseHead();
}

// Forwards what out_ holds of the response body (after the head on the first call).
void Session::downloadForward(bool drained) {
  bool ends = false;
  size_t slice = 0;
  switch (resp_.framing) {
  case http::BodyFraming::None:
    ends = true;
    break;
  case http::BodyFraming::ContentLength:
    slice = static_cast<size_t>(std::min<uint64_t>(out_.size(), respRemaining_));
    ends = slice == respRemaining_;
    break;
  case http::BodyFraming::Chunked: {
    if (dechunk_) {
      if (!dechunkInPlace(slice, ends)) {
        abort(ResponseFlag::UpstreamProtocolError);
        return;
      }
      break;
    }
    const auto step = respChunks_.feed(out_.view());
    if (step.error != http::ParseError::None) {
      abort(ResponseFlag::UpstreamProtocolError); // the client never sees the last chunk
      return;
    }
    slice = step.consumed;
    ends = step.done;
    break;
  }
  case http::BodyFraming::UntilClose:
    slice = out_.size();
    break;
  }
  if (ends && out_.size() > (dechunk_ ? dechunkConsumed_ : slice)) {
    upstreamReusable_ = false; // bytes after the response: never reuse this connection
  }
  if (ends && drained && upstreamReusable_) {
    // The connection's next request (here or after the pool) waits for the response without a
    // recv() first. Only at the end of a response: a FIN that came with the last bytes read
    // raises no further edge, and mid-body that would stall the download; on a pooled connection
    // the request written into it is answered by a reset instead (retried like a stale one).
    net::markDrained(up_->socket);
  }
  downloadSlice_ = slice;
  const bool withHead = !headOut_.empty();
  if (slice == 0 && !withHead) {
    if (dechunk_) {
      out_.consume(dechunkConsumed_);
    }
    if (ends) {
      responseComplete();
    } else {
      downloadRead();
    }
    return;
  }
  std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(headOut_),
                                                   out_.readable(slice)};
  // `ends` is re-derived in onDownloadWritten from the framing state.
  if (queueSend(client_, buffers, [](void* self, uint32_t epoch, ssize_t result) {
        static_cast<Session*>(self)->onDownloadSent(epoch, result);
      })) {
    return; // sent at the end of this pass of the event loop
  }
  const size_t written = net::sendNow(client_, buffers);
  if (written != 0) {
    worker_.stats().addSent(listenerSlot, written);
    log_.bytesOut += written;
  }
  if (written == net::totalSize(buffers)) {
    onDownloadWritten({}); // sent at once (net/send_now.h)
    return;
  }
  writeDownloadRest(buffers, written);
}

void Session::onDownloadSent(uint32_t epoch, ssize_t result) {
  if (handlerDone(epoch)) {
    return;
  }
  if (result < 0 && result != -EAGAIN) {
    onDownloadWritten(sendError(result));
    return;
  }
  const std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(headOut_),
                                                         out_.readable(downloadSlice_)};
  const size_t written = result > 0 ? static_cast<size_t>(result) : 0;
  if (written != 0) {
    worker_.stats().addSent(listenerSlot, written);
    log_.bytesOut += written;
  }
  if (written == net::totalSize(buffers)) {
    onDownloadWritten({});
    return;
  }
  writeDownloadRest(buffers, written);
}

void Session::writeDownloadRest(const std::array<boost::asio::const_buffer, 2>& buffers,
                                size_t written) {
  if (written != 0) {
    net::markSendBlocked(client_);
  }
  ++pending_;
  clientReadTrust_.onWrite();
  boost::asio::async_write(client_, net::remainderOf(buffers, written),
                           bound([this, e = epoch_](const boost::system::error_code& ec, size_t n) {
                             if (handlerDone(e)) {
                               return;
                             }
                             worker_.stats().addSent(listenerSlot, n);
                             log_.bytesOut += n;
                             onDownloadWritten(ec);
                           }));
}

// For an HTTP/1.0 client: strips the chunked coding of what out_ holds by moving each payload
// run to the front of the buffer. Afterwards out_'s first `payloadBytes` bytes are payload to
// write and dechunkConsumed_ bytes of input are used up (consumed after the write).
bool Session::dechunkInPlace(size_t& payloadBytes, bool& ends) {
  char* const base = out_.mutableReadPtr();
  size_t read = 0;
  size_t written = 0;
  const size_t available = out_.size();
  for (;;) {
    std::string_view payload;
    const auto step =
        respChunks_.feedPayload(std::string_view(base + read, available - read), payload);
    if (step.error != http::ParseError::None) {
      return false;
    }
    if (!payload.empty()) {
      std::memmove(base + written, payload.data(), payload.size());
      written += payload.size();
    }
    read += step.consumed;
    if (step.done || step.consumed == 0 || read == available) {
      ends = step.done;
      break;
    }
  }
  payloadBytes = written;
  dechunkConsumed_ = read;
  return true;
}

void Session::onDownloadWritten(const boost::system::error_code& ec) {
  if (ec) {
    abort(ResponseFlag::DownstreamReset);
    return;
  }
  headOut_.clear();
  const size_t slice = dechunk_ ? dechunkConsumed_ : downloadSlice_;
  out_.consume(slice);
  downloadSlice_ = 0;
  lastActivity_ = worker_.wheel().now();
  bool ends = false;
  switch (resp_.framing) {
  case http::BodyFraming::None:
    ends = true;
    break;
  case http::BodyFraming::ContentLength:
    respRemaining_ -= slice;
    ends = respRemaining_ == 0;
    break;
  case http::BodyFraming::Chunked:
    ends = respChunks_.done();
    break;
  case http::BodyFraming::UntilClose:
    break;
  }
  if (ends) {
    responseComplete();
    return;
  }
  if (!out_.empty() && resp_.framing != http::BodyFraming::UntilClose) {
    downloadForward(); // e.g. the chunk decoder stopped at a buffer boundary
    return;
  }
  downloadRead();
}

void Session::responseComplete() {
  responseDone_ = true;
  log_.upstreamEnd = logClock();
  countResponse(status_);
  if (!uploadDone_) {
    // The upstream answered before the request body was complete: the rest of the body cannot
    // be skipped reliably, so neither connection is reused.
    keepAliveAfter_ = false;
    upstreamReusable_ = false;
  }
  finishExchange();
}

// ---------------------------------------------------------------------------------------------
// Phase: finish -> keep-alive or close

void Session::finishExchange() {
  logRequest();
  net::TimerWheel::disarm(timer_);
  ++epoch_; // nothing of this exchange may still complete into the next one
  if (up_ != nullptr) {
    const config::Pool& pool = *snap_->snapshot->pools[poolIndex_].pool;
    worker_.upstreams().release(up_, upstreamReusable_ && uploadDone_ && responseDone_,
                                pool.maxIdlePerEndpoint, pool.upstreamIdleTimeout);
    up_ = nullptr;
  }
  if (!keepAliveAfter_ || worker_.draining()) {
    if (!clientKeepAlive_ && uploadDone_ && in_.empty()) {
      // The client asked to close and sent its whole request: no unread input to protect the
      // response from, so close at once (saves the shutdown and the lingering reads).
      abort(ResponseFlag::None);
      return;
    }
    gracefulClose();
    return;
  }
  resetRequest();
  phase_ = Phase::ReadingHead;
  if (!in_.empty()) {
    // A pipelined request is already here.
    worker_.wheel().armAfter(timer_, limits_.headTimeout);
    parseHead();
    return;
  }
  const MonotonicTime now = worker_.wheel().now();
  idleDeadline_ = now + limits_.idleTimeout;
  worker_.wheel().arm(timer_, std::min(idleDeadline_, now + Worker::kParkAfter));
  readHead();
}

// ---------------------------------------------------------------------------------------------
// Endings

void Session::respondError(uint16_t status, ResponseFlag flag, std::string_view text) {
  if (phase_ == Phase::Closed || phase_ == Phase::Responding || phase_ == Phase::Lingering) {
    return;
  }
  if (responseStarted_) {
    abort(flag); // too late for a status: truncate
    return;
  }
  if (flag_ == ResponseFlag::None) {
    flag_ = flag;
    ++worker_.stats().flags[static_cast<size_t>(flag)];
  }
  status_ = status;
  countResponse(status);
  closeUpstream();
  releaseActive();
  releaseCounts();
  ++epoch_;
  boost::system::error_code ignored;
  client_.cancel(ignored); // a pending read of the head or body is abandoned
  phase_ = Phase::Responding;
  scratch_.clear();
  appendNumber(scratch_, status);
  scratch_.push_back(' ');
  scratch_.append(http::reasonPhrase(status));
  scratch_.append(": ");
  scratch_.append(text);
  scratch_.push_back('\n');
  headOut_.clear();
  http::writeErrorResponse(status, scratch_, /*close=*/true, headOut_);
  beginErrorLog();
  log_.bytesOut += headOut_.size();
  logRequest();
  worker_.wheel().armAfter(timer_, kErrorWriteTimeout);
  ++pending_;
  clientReadTrust_.onWrite();
  boost::asio::async_write(client_, boost::asio::buffer(headOut_),
                           bound([this, e = epoch_](const boost::system::error_code& ec, size_t n) {
                             if (handlerDone(e)) {
                               return;
                             }
                             worker_.stats().addSent(listenerSlot, n);
                             onErrorWritten(ec);
                           }));
}

void Session::onErrorWritten(const boost::system::error_code& ec) {
  if (ec) {
    abort(ResponseFlag::None);
    return;
  }
  gracefulClose();
}

void Session::gracefulClose() {
  closeUpstream();
  ++epoch_;
  phase_ = Phase::Lingering;
  boost::system::error_code ignored;
  client_.shutdown(tcp::socket::shutdown_send, ignored);
  // Read and discard what the client still sends (e.g. the rest of a rejected body) for a short
  // while, so that closing does not reset the connection under the response we just sent.
  lingerBytes_ = 0;
  in_.clear();
  worker_.wheel().armAfter(timer_, kLingerTimeout);
  linger();
}

void Session::linger() {
  ++pending_;
  client_.async_read_some(in_.writeSpace(),
                          bound([this, e = epoch_](const boost::system::error_code& ec, size_t n) {
                            if (handlerDone(e)) {
                              return;
                            }
                            lingerBytes_ += n;
                            if (ec || lingerBytes_ > kLingerMaxBytes) {
                              abort(ResponseFlag::None);
                              return;
                            }
                            linger();
                          }));
}

void Session::closeUpstream() {
  if (up_ != nullptr) {
    worker_.upstreams().close(up_);
    up_ = nullptr;
  }
}

void Session::abort(ResponseFlag flag) {
  if (phase_ == Phase::Closed || phase_ == Phase::Idle) {
    return;
  }
  if (flag != ResponseFlag::None && flag_ == ResponseFlag::None) {
    flag_ = flag;
    ++worker_.stats().flags[static_cast<size_t>(flag)];
  }
  logRequest();
  closeUpstream();
  releaseActive();
  releaseCounts();
  boost::system::error_code ignored;
  client_.close(ignored);
  net::TimerWheel::disarm(timer_);
  phase_ = Phase::Closed;
  ++epoch_;
  if (pending_ == 0) {
    release();
  }
}

// ---------------------------------------------------------------------------------------------
// Deadlines

void Session::onTimerThunk(void* self) {
  static_cast<Session*>(self)->onTimer();
}

void Session::onTimer() {
  const MonotonicTime now = worker_.wheel().now();
  switch (phase_) {
  case Phase::ReadingHead:
    if (in_.empty() && idleDeadline_ != MonotonicTime{} && now < idleDeadline_ && pending_ == 1 &&
        !worker_.draining()) {
      if (net::IoBatch* batch = worker_.ioBatch();
          batch != nullptr && batch->holdsReceived(client_.native_handle())) {
        // Bytes were received for the pending read (net/io_batch.h): not idle, and a parked
        // descriptor would never report them. The read completes in this pass.
        worker_.wheel().arm(timer_, std::min(idleDeadline_, now + Worker::kParkAfter));
        return;
      }
      park();
    } else if (in_.empty()) {
      abort(ResponseFlag::None); // idle keep-alive connection (or a client that never spoke)
    } else {
      ++worker_.stats().timeoutsHead;
      respondError(408, ResponseFlag::DownstreamHeadTimeout, "request head timeout");
    }
    return;
  case Phase::Connecting:
    if (now >= requestDeadline_) {
      ++worker_.stats().timeoutsRequest;
      respondError(504, ResponseFlag::UpstreamTimeout, "request timeout");
    } else if (now >= connectDeadline_) {
      ++worker_.stats().timeoutsConnect;
      boost::system::error_code ignored;
      up_->socket.close(ignored); // completes the connect with an error: onConnected fails over
    } else {
      worker_.wheel().arm(timer_, connectDeadline_);
    }
    return;
  case Phase::Backoff:
    if (now >= requestDeadline_) {
      ++worker_.stats().timeoutsRequest;
      respondError(504, ResponseFlag::UpstreamTimeout, "request timeout");
    } else if (now >= backoffUntil_) {
      pickAndConnect();
    } else {
      worker_.wheel().arm(timer_, std::min(backoffUntil_, requestDeadline_));
    }
    return;
  case Phase::Exchanging: {
    if (now >= requestDeadline_) {
      ++worker_.stats().timeoutsRequest;
      respondError(504, ResponseFlag::UpstreamTimeout, "request timeout");
      return;
    }
    if (!responseStarted_ && now >= responseDeadline_) {
      ++worker_.stats().timeoutsTry;
      recordOutcome(net::EndpointPool::Outcome::GatewayError);
      if (tryRetry(health::TryFailure::Timeout)) {
        return;
      }
      respondError(504, ResponseFlag::UpstreamTimeout, "upstream timeout");
      return;
    }
    if (now >= lastActivity_ + streamIdle_) {
      ++worker_.stats().timeoutsIdle;
      respondError(504, ResponseFlag::UpstreamTimeout, "upstream idle timeout");
      return;
    }
    armExchangeTimer();
    return;
  }
  case Phase::Responding:
  case Phase::Lingering:
    abort(ResponseFlag::None);
    return;
  case Phase::Parking:
  case Phase::Idle:
  case Phase::Closed:
    return;
  }
}

} // namespace fulcrum::server
