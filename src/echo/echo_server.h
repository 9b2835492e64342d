#pragma once

// fulcrum-echo: a small, fast HTTP/1.1 origin server for demos, tests and benchmarks.
//
// Every response names the backend: header `X-Backend: NAME`, and plain bodies are `NAME\n`.
// Paths (exact, query ignored for matching):
//   /echo    JSON {"method","target","version","headers":[[name,value],...] (as received),
//            "body_bytes":N,"backend":NAME}
//   /health  200 `ok NAME\n`, or `unhealthy NAME\n` with the status set by /health?set=CODE
//            (process-wide; ?set=200 restores). A set request answers 200 `NAME health CODE\n`.
//   /stats   JSON {"name","connections" (accepted so far),"open_connections",
//            "requests" (request heads seen so far, /stats requests excluded)}
//   other    200 `NAME\n`
// Query parameters on any path shape the answer:
//   delay=MS    wait (timer, after the request body is read) before answering
//   status=C    answer with status C (200-599); 204 and 304 have no body
//   bytes=N     the body is N bytes, byte i being 'a' + i % 26, streamed from a fixed buffer
//   chunked=1   chunked response encoding (HTTP/1.1 clients only)
//   close=1     send the head and the first half of the body (for chunked: without the last
//               chunk), then close the connection
// Request bodies (Content-Length or chunked) are read, counted and dropped, never buffered;
// `Expect: 100-continue` gets a 100 Continue. Keep-alive and pipelining (answered in order),
// HTTP/1.0 and HTTP/1.1. A malformed request is answered 400 (431, 505, 417 where those fit)
// and the connection is closed.
//
// Threading: worker 0 runs on the thread that calls run() and owns the listener; workers
// 1..N-1 get their own threads. Accepted connections are handed to workers round-robin and
// stay on that worker for their life. Counters and the health status are process-wide atomics.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/result.h"

namespace fulcrum::echo {

struct EchoOptions {
  SocketAddress listen{"127.0.0.1", 0, false}; // port 0: the OS picks
  std::string name = "echo";
  int threads = 1;
};

// State shared by all workers. Lives as long as the server.
struct EchoState {
  std::string name;
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> openConnections{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<int> healthStatus{200};
};

class EchoServer {
public:
  explicit EchoServer(EchoOptions options);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // Binds and listens. Returns the bound address (`127.0.0.1:PORT`, `[::1]:PORT`). Call once,
  // before run(), on the thread that will call run().
  Result<std::string> listen();

  // Serves until stop() or SIGINT/SIGTERM. Blocks the calling thread, which becomes worker 0.
  void run();

  // Makes run() return soon. Thread-safe, also from a worker.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fulcrum::echo
