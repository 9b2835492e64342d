#pragma once

// Session: one client connection and, one at a time, the requests on it. The request path is a
// sequence of named phases (docs/life_of_a_request.md):
//
//   readHead -> parseHead -> route -> pick -> connect/reuse -> writeHead
//     -> upload (request body)   \  run concurrently once the head is written
//     -> download (response)     /
//   -> finishExchange (log/stats, upstream back to its pool) -> keep-alive (next head) or close
//
// Pipelined requests are answered in order because a session handles one request at a time: the
// bytes of the next request stay in the buffer (or the kernel) until the current one has ended.
// Bodies are streamed through two fixed buffers (one per direction), and a buffer is refilled only
// after its previous contents were written: a slow reader slows the writer, memory stays bounded.
//
// Threading: a session lives on one worker and is touched only by that worker's thread. Sessions
// are pooled: release() hands it back to the worker once no handler of it is pending.
// Asynchronous handlers carry the session's epoch; when a phase is abandoned (error, retry,
// close) the epoch is bumped and stale handlers only do their bookkeeping.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/time_source.h"
#include "config/schema.h"
#include "proxy/health/policy.h"
#include "proxy/http/forward.h"
#include "proxy/http/parser.h"
#include "proxy/net/buffer.h"
#include "proxy/net/handler_memory.h"
#include "proxy/net/read_speculation.h"
#include "proxy/net/send_now.h"
#include "proxy/net/timer_wheel.h"
#include "proxy/net/upstream_pool.h"
#include "proxy/router/route_table.h"
#include "proxy/server/observability.h"
#include "proxy/server/worker.h"
#include "proxy/stats/response_flags.h"

namespace fulcrum::server {

// Members are grouped by phase of the request path, not packed: one Session per active
// connection, pooled, so the padding is a few dozen bytes per busy connection.
class Session { // NOLINT(clang-analyzer-optin.performance.Padding)
public:
  explicit Session(Worker& worker);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // Takes an accepted connection from listener `listener` (whose config is in the worker's
  // current snapshot). `peer` is the client's address.
  void start(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer,
             const config::Listener& listener);

  // Continues a connection that waited parked (Worker::park) and now has bytes to read: `socket`
  // from `peer`, accepted by `listener` (whose config `listenerSnap` owns).
  void resume(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer,
              WorkerSnapshotPtr listenerSnap, const config::Listener& listener);

  // The worker is draining: an idle keep-alive connection is closed now; a busy one finishes
  // its request and answers with `Connection: close`.
  void onDrain();

  // The worker is stopping: closes both connections now (pending operations complete aborted).
  void shutdown() { abort(stats::ResponseFlag::None); }

  // Index in the worker's live list and in its owning list (maintained by the worker).
  size_t liveIndex = 0;
  size_t ownerIndex = 0;
  // Stats slot of the listener that accepted the connection (set by the worker before start or
  // resume).
  uint32_t listenerSlot = 0;

private:
  enum class Phase : uint8_t {
    Idle,        // not started / released
    ReadingHead, // waiting for (the rest of) a request head
    Parking,     // idle read cancelled; the connection moves to the worker once it completes
    Connecting,  // connecting to the picked endpoint
    Exchanging,  // request forwarded, upload and/or download in progress
    Backoff,     // a try failed; waiting (timer wheel) before the retry picks again
    Responding,  // writing a proxy-generated response, then closing
    Lingering,   // response sent, write side shut down, discarding input until EOF
    Closed,      // sockets closed, waiting for pending handlers
  };

  // Phases of the request path.
  void readHead();
  void onHeadRead(const boost::system::error_code& ec, size_t n);
  // `drained`: the client read that completed the head drained the socket (net::ReadTrust).
  void parseHead(bool drained = false);
  void route(bool drained);
  bool prepareRequestBody();
  void pickAndConnect();
  void connect(net::EndpointPool& endpoint);
  void onConnected(const boost::system::error_code& ec);
  void writeHead();
  // The part of the head (and buffered body) a send did not take, as an asynchronous write.
  void writeHeadRest(const std::array<boost::asio::const_buffer, 2>& buffers, size_t written);
  void onHeadSent(uint32_t epoch, ssize_t result); // a batched send's completion
  void onHeadWritten(const boost::system::error_code& ec);
  void uploadRead();
  void onUploadRead(const boost::system::error_code& ec, size_t n);
  void uploadWrite();
  void onUploadWritten(const boost::system::error_code& ec);
  void downloadRead();
  void onDownloadRead(const boost::system::error_code& ec, size_t n);
  // `drained`: the upstream read that brought these bytes drained the socket (net::ReadTrust).
  void parseResponseHead(bool drained = false);
  void downloadForward(bool drained = false);
  void writeDownloadRest(const std::array<boost::asio::const_buffer, 2>& buffers, size_t written);
  void onDownloadSent(uint32_t epoch, ssize_t result); // a batched send's completion
  void onDownloadWritten(const boost::system::error_code& ec);
  // Queues `buffers` on the worker's send batch (net/io_batch.h), counted as pending until
  // `done` runs with this epoch; false when they must be sent directly.
  bool queueSend(boost::asio::ip::tcp::socket& socket,
                 const std::array<boost::asio::const_buffer, 2>& buffers, net::IoBatch::Done done);
  // After starting a read on `socket`: tells the worker's I/O batch (net/io_batch.h).
  void announceRead(boost::asio::ip::tcp::socket& socket, size_t requested);
  bool dechunkInPlace(size_t& payloadBytes, bool& ends);
  void onInterimWritten(const boost::system::error_code& ec);
  void responseComplete();
  void finishExchange();

  // Endings.
  void respondError(uint16_t status, stats::ResponseFlag flag, std::string_view text);
  void onErrorWritten(const boost::system::error_code& ec);
  void gracefulClose();
  void linger();
  void abort(stats::ResponseFlag flag);
  void closeUpstream();
  bool retryOnFreshConnection();
  // Retry policy (docs/life_of_a_request.md, "Retries"): true when a retry was scheduled.
  bool tryRetry(health::TryFailure failure, uint16_t status = 0);
  bool replayable() const;
  void recordOutcome(net::EndpointPool::Outcome outcome);
  // Circuit breaker (per worker): answers 503 UO and returns false when `limit` is reached.
  bool breakerAdmits(uint32_t count, uint32_t limit);
  void releaseCounts();
  void release();
  bool handlerDone(uint32_t epoch); // bookkeeping at the top of every handler

  // Deadlines (one wheel timer per session).
  static void onTimerThunk(void* self);
  void onTimer();
  void armExchangeTimer();
  void armResponseHeadDeadline();

  // Binds a completion handler to this session's preallocated operation memory.
  template <class Handler> auto bound(Handler&& handler) {
    return boost::asio::bind_allocator(net::HandlerAllocator<char>(handlerMemory_),
                                       std::forward<Handler>(handler));
  }

  void resetRequest();
  void adoptConnection(const config::Listener& listener, std::string_view clientIp);
  void followListener();
  void park();
  void completePark();

  void releaseActive();
  void countResponse(uint16_t status);
  // The clock now (exact, unlike the wheel's tick time); for latency metrics.
  MonotonicTime preciseNow();
  uint32_t endpointSlot() const {
    return snap_->snapshot->pools[poolIndex_].endpoints[endpointIndex_].statsSlot;
  }

  // Access log and span (session_log.cc). beginRequestLog: a parsed request starts (copies what
  // the record needs, decides the Trace Context); beginErrorLog: a response to a head that did
  // not parse; applyTrace: traceparent/tracestate for the upstream head; logRequest: the request
  // ended (emits once; no-op when nothing is pending).
  void beginRequestLog();
  void beginErrorLog();
  void applyTrace(http::ForwardOptions& forwarding);
  void logRequest();
  MonotonicTime logClock() const; // the precise clock when recording, else {}

  Worker& worker_;
  net::HandlerMemory handlerMemory_; // outlives every operation: sessions are never freed early
  boost::asio::ip::tcp::socket client_;
  net::Timer timer_;
  Phase phase_ = Phase::Idle;
  uint32_t epoch_ = 0;
  uint32_t pending_ = 0; // asynchronous operations outstanding
  // Whether the pending client / upstream read may mark its socket drained
  // (net/read_speculation.h).
  net::ReadTrust clientReadTrust_;
  net::ReadTrust upReadTrust_;

  // Connection-scoped.
  const config::Listener* listener_ = nullptr; // owned by listenerSnap_
  // The snapshot that owns listener_: the one the connection was accepted or revived with, then
  // that of its latest request (followListener), unless the listener left the config.
  WorkerSnapshotPtr listenerSnap_;
  const std::string* listenerName_ = nullptr;
  config::ListenerLimits limits_;
  http::Limits parseLimits_;
  char clientIp_[48] = {0};
  size_t clientIpLen_ = 0;
  net::Buffer in_;             // client -> proxy
  net::Buffer out_;            // upstream -> proxy
  std::string headOut_;        // upstream request head / interim or final response head / error
  std::string scratch_;        // path normalization
  std::string rewriteScratch_; // URL rewrite
  std::string targetScratch_;  // rewritten target (path and query)
  WorkerSnapshotPtr snap_;

  // Request-scoped.
  http::RequestHead req_;
  http::ResponseHead resp_;
  http::ChunkedDecoder reqChunks_;
  http::ChunkedDecoder respChunks_;
  const router::CompiledRule* rule_ = nullptr;
  const snapshot::RuleFilters* filters_ = nullptr; // of rule_ (owned by snap_) or kNoFilters
  uint32_t routeSlot_ = 0;
  uint32_t poolIndex_ = 0;
  uint32_t poolSlot_ = 0; // stats slot of the pool, 0 until the request is routed to one
  bool timed_ = false;    // requestStart_ belongs to this request (its head was parsed)
  int64_t endpointIndex_ = -1;
  std::optional<uint64_t> hashKey_; // the pool's hashOn key of this request (ring_hash, maglev)
  // The in-flight count this request holds (an element of snap_->pools[poolIndex_].active), or
  // null. Valid while snap_ is held; dropped by releaseActive() before snap_ changes.
  uint32_t* activeSlot_ = nullptr;
  net::EndpointPool* endpoint_ = nullptr;
  net::UpstreamConnection* up_ = nullptr;
  bool reused_ = false;
  uint32_t connectAttempts_ = 0;
  bool retried_ = false;
  // Retries and breakers: the pool's per-worker counts this request holds (in poolState_, an
  // element of snap_->pools; released by releaseCounts() before snap_ changes).
  WorkerSnapshot::Pool* poolState_ = nullptr;
  bool countedRequest_ = false;
  bool countedPending_ = false;
  bool countedRetry_ = false;
  uint32_t retries_ = 0;    // retries sent by the rule's policy
  bool idempotent_ = false; // the method, decided in route (req_'s views may move later)
  bool bodySent_ = false;   // a request-body byte went upstream on this try
  MonotonicTime backoffUntil_{};
  bool interimSent_ = false; // a 1xx went to the client
  bool isHead_ = false;
  bool clientKeepAlive_ = true;
  bool http10_ = false;
  http::BodyFraming reqFraming_ = http::BodyFraming::None;
  uint64_t reqRemaining_ = 0; // Content-Length bytes still to forward
  uint64_t reqBodyBytes_ = 0; // body payload bytes seen (limits.maxRequestBodyBytes)
  size_t uploadSlice_ = 0;    // bytes of in_ being written upstream
  bool uploadDone_ = true;
  bool headWritten_ = false;
  bool responseStarted_ = false; // any byte of a final response head went to the client
  bool responseDone_ = false;
  bool keepAliveAfter_ = true; // decided when the final response head is written
  bool upstreamReusable_ = true;
  uint64_t respRemaining_ = 0;
  size_t downloadSlice_ = 0;
  bool dechunk_ = false; // HTTP/1.0 client, chunked response: strip the coding
  size_t dechunkConsumed_ = 0;
  uint16_t status_ = 0;
  stats::ResponseFlag flag_ = stats::ResponseFlag::None;
  MonotonicTime requestStart_{};
  MonotonicTime connectStart_{};     // connect() of the current upstream attempt
  MonotonicTime upstreamSentAt_{};   // request head handed to the upstream connection
  MonotonicTime responseDeadline_{}; // response head due (timeouts.backendRequest)
  MonotonicTime requestDeadline_{};  // whole exchange due (timeouts.request), or max()
  MonotonicTime lastActivity_{};
  std::chrono::milliseconds streamIdle_{};
  MonotonicTime connectDeadline_{};
  size_t lingerBytes_ = 0;
  bool firstRequest_ = true;
  // Keep-alive idle: the connection closes at this time, and parks before it (kParkAfter). Zero
  // when the session is not idle between requests.
  MonotonicTime idleDeadline_{};
  RequestLog log_;
};

} // namespace fulcrum::server
