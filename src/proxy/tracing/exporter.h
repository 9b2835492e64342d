#pragma once

// SpanExporter: batches sampled spans and POSTs them to an OTLP/HTTP collector
// ({collector}/v1/traces, Content-Type application/json), off the request path.
//
// Each worker encodes its spans (otlp_json.h) and pushes them, one per line, into its own
// SpscByteRing (ring(i)); a full ring refuses the span and counts it (never blocks). The exporter
// thread drains the rings every 50 ms and sends a batch when it holds maxBatchSpans spans or its
// oldest span waited flushInterval. Sending uses a plain blocking socket with timeouts on this
// thread only. A failed batch is dropped and counted (never retried): the first failure is
// reported through `note`, later ones only when export had worked in between.
//
// Threading: create/start/stop on the main thread; ring(i)'s producer side on worker i; the
// counters from any thread. stop() sends what is left (one attempt) after the workers stopped.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "proxy/access_log/spsc_ring.h"

namespace fulcrum::tracing {

// http://host:port[/prefix]; the traces path is prefix + "/v1/traces".
struct CollectorUrl {
  std::string host; // without brackets for IPv6
  std::string port; // "4318" when omitted
  std::string path; // "/v1/traces" or "/prefix/v1/traces"
  std::string hostHeader;
};
Result<CollectorUrl> parseCollectorUrl(std::string_view url);

struct ExporterOptions {
  std::string collector;
  std::string serviceName = "fulcrum-proxy";
  std::string instanceId;
  size_t ringBytes = 1 << 20; // per worker
  size_t maxBatchSpans = 512;
  std::chrono::milliseconds flushInterval{1000};
  std::chrono::milliseconds timeout{2000}; // connect, send and receive, each
};

class SpanExporter {
public:
  using Note = std::function<void(const std::string&)>;

  static Result<std::unique_ptr<SpanExporter>> create(ExporterOptions options, size_t workers,
                                                      Note note);
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;
  ~SpanExporter(); // stop()s

  access_log::SpscByteRing& ring(size_t worker) { return *rings_[worker]; }
  const ExporterOptions& options() const { return options_; }

  void start();
  void stop();

  // Any thread.
  uint64_t spansExported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t spansFailed() const { return failed_.load(std::memory_order_relaxed); }
  uint64_t batchesFailed() const { return batchesFailed_.load(std::memory_order_relaxed); }
  uint64_t spansDropped() const; // refused by full rings

private:
  SpanExporter(ExporterOptions options, CollectorUrl url, size_t workers, Note note);
  void run();
  void collect();
  void flush();
  Result<bool> post(const std::string& body);

  ExporterOptions options_;
  CollectorUrl url_;
  Note note_;
  std::vector<std::unique_ptr<access_log::SpscByteRing>> rings_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> batchesFailed_{0};
  // Exporter thread.
  std::string spans_; // comma-separated span objects of the current batch
  size_t batchCount_ = 0;
  std::chrono::steady_clock::time_point batchStart_{};
  std::string body_;
  bool failing_ = false;
  std::thread thread_;
};

} // namespace fulcrum::tracing
