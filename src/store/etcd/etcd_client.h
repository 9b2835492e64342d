#pragma once

// A thin etcd v3 client over the generated gRPC stubs: one channel per endpoint, a preferred
// endpoint that moves on when it fails, and unary calls retried across endpoints (with backoff)
// until StoreOptions::requestTimeout. Streams (watch, lease keep-alive) are opened by their
// owners on endpoint(preferred()).
//
// Thread-safety: every method may be called from any thread; gRPC stubs are thread-safe and the
// preferred index is atomic.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"

namespace fulcrum::store::etcd {

// One channel to one endpoint and its stubs. Replaced as a whole when the channel seems stuck;
// holders of the old one finish their call on it.
struct Connection {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
};

class EtcdClient {
public:
  EtcdClient(const std::vector<std::string>& endpoints, std::chrono::milliseconds timeout);

  size_t count() const { return endpoints_.size(); }
  size_t preferred() const { return preferred_.load(); }
  std::shared_ptr<Connection> connection(size_t index);
  // Records a failure of endpoint `index`: moves the preference to the next endpoint, and
  // replaces the endpoint's channel once it has failed for a while without a success (a channel
  // whose first handshake hit an etcd that was still starting can stay stuck).
  void failed(size_t index);
  void succeeded(size_t index);
  std::chrono::milliseconds timeout() const { return timeout_; }

  grpc::Status range(const etcdserverpb::RangeRequest& request,
                     etcdserverpb::RangeResponse* response);
  // `attempts` counts the tries: more than one means an earlier try may have been applied.
  grpc::Status txn(const etcdserverpb::TxnRequest& request, etcdserverpb::TxnResponse* response,
                   int* attempts = nullptr);
  grpc::Status put(const etcdserverpb::PutRequest& request, etcdserverpb::PutResponse* response);
  grpc::Status leaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                          etcdserverpb::LeaseGrantResponse* response);
  grpc::Status leaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                           etcdserverpb::LeaseRevokeResponse* response);

  // "etcd 127.0.0.1:2379: UNAVAILABLE: ..."
  std::string describe(const grpc::Status& status) const;

private:
  template <class Call> grpc::Status withFailover(Call&& call, int* attempts);

  struct Endpoint {
    std::string address;
    std::shared_ptr<Connection> connection;
    std::chrono::steady_clock::time_point failingSince{}; // epoch: not failing
    std::chrono::steady_clock::time_point lastReset{};
  };
  static std::shared_ptr<Connection> connect(const std::string& address);

  std::mutex mutex_; // guards endpoints_[*].connection, failingSince, lastReset
  std::vector<Endpoint> endpoints_;
  std::atomic<size_t> preferred_{0};
  std::atomic<size_t> lastUsed_{0};
  std::chrono::milliseconds timeout_;
};

// True for failures worth another endpoint or a retry (unavailable, no leader, deadline).
bool isRetryable(const grpc::Status& status);

} // namespace fulcrum::store::etcd
