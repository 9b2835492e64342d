#include "store/etcd/etcd_client.h"

#include <algorithm>
#include <random>
#include <thread>

#include <fmt/format.h>

namespace fulcrum::store::etcd {

bool isRetryable(const grpc::Status& status) {
  switch (status.error_code()) {
  case grpc::StatusCode::UNAVAILABLE:
  case grpc::StatusCode::DEADLINE_EXCEEDED:
  case grpc::StatusCode::ABORTED:
    return true;
  default:
    // etcd reports some leadership trouble as UNKNOWN with these texts.
    return status.error_message().find("leader") != std::string::npos;
  }
}

std::shared_ptr<Connection> EtcdClient::connect(const std::string& address) {
  grpc::ChannelArguments args;
  // Notice a dead peer on idle streams (watches) without tripping etcd's ping policy (5s).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Come back quickly after an etcd restart, but never spin.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A private subchannel: replacing a stuck channel must really open a new connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(128 << 20);
  auto c = std::make_shared<Connection>();
  c->address = address;
  c->channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  c->kv = etcdserverpb::KV::NewStub(c->channel);
  c->watch = etcdserverpb::Watch::NewStub(c->channel);
  c->lease = etcdserverpb::Lease::NewStub(c->channel);
  return c;
}

EtcdClient::EtcdClient(const std::vector<std::string>& endpoints, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  for (const auto& address : endpoints) {
    endpoints_.push_back(Endpoint{address, connect(address), {}, {}});
  }
}

std::shared_ptr<Connection> EtcdClient::connection(size_t index) {
  std::lock_guard lock(mutex_);
  return endpoints_[index % endpoints_.size()].connection;
}

void EtcdClient::failed(size_t index) {
  index %= endpoints_.size();
  size_t expected = index;
  preferred_.compare_exchange_strong(expected, (index + 1) % endpoints_.size());
  constexpr auto kStuckAfter = std::chrono::seconds(3);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto& e = endpoints_[index];
  if (e.failingSince == std::chrono::steady_clock::time_point{}) {
    e.failingSince = now;
  } else if (now - e.failingSince > kStuckAfter && now - e.lastReset > kStuckAfter) {
    e.connection = connect(e.address);
    e.lastReset = now;
  }
}

void EtcdClient::succeeded(size_t index) {
  std::lock_guard lock(mutex_);
  endpoints_[index % endpoints_.size()].failingSince = {};
}

template <class Call> grpc::Status EtcdClient::withFailover(Call&& call, int* attempts) {
  auto deadline = std::chrono::system_clock::now() + timeout_;
  auto pause = std::chrono::milliseconds(25);
  thread_local std::minstd_rand jitter(std::random_device{}());
  grpc::Status status;
  int tries = 0;
  while (true) {
    size_t index = preferred();
    grpc::ClientContext context;
    // Each try may use what is left of the whole budget.
    context.set_deadline(deadline);
    ++tries;
    lastUsed_ = index;
    status = call(*connection(index), context);
    if (status.ok() || !isRetryable(status)) {
      if (status.ok()) {
        succeeded(index);
      }
      break;
    }
    failed(index);
    auto now = std::chrono::system_clock::now();
    if (now + pause >= deadline) {
      break;
    }
    // After a full round over the endpoints, back off (with jitter) before the next one.
    if (tries % static_cast<int>(endpoints_.size()) == 0) {
      std::this_thread::sleep_for(pause + std::chrono::milliseconds(jitter() % 25));
      pause = std::min(pause * 2, std::chrono::milliseconds(500));
    }
  }
  if (attempts != nullptr) {
    *attempts = tries;
  }
  return status;
}

grpc::Status EtcdClient::range(const etcdserverpb::RangeRequest& request,
                               etcdserverpb::RangeResponse* response) {
  return withFailover(
      [&](Connection& e, grpc::ClientContext& c) { return e.kv->Range(&c, request, response); },
      nullptr);
}

grpc::Status EtcdClient::txn(const etcdserverpb::TxnRequest& request,
                             etcdserverpb::TxnResponse* response, int* attempts) {
  return withFailover(
      [&](Connection& e, grpc::ClientContext& c) { return e.kv->Txn(&c, request, response); },
      attempts);
}

grpc::Status EtcdClient::put(const etcdserverpb::PutRequest& request,
                             etcdserverpb::PutResponse* response) {
  return withFailover(
      [&](Connection& e, grpc::ClientContext& c) { return e.kv->Put(&c, request, response); },
      nullptr);
}

grpc::Status EtcdClient::leaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                                    etcdserverpb::LeaseGrantResponse* response) {
  return withFailover(
      [&](Connection& e, grpc::ClientContext& c) {
        return e.lease->LeaseGrant(&c, request, response);
      },
      nullptr);
}

grpc::Status EtcdClient::leaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                                     etcdserverpb::LeaseRevokeResponse* response) {
  return withFailover(
      [&](Connection& e, grpc::ClientContext& c) {
        return e.lease->LeaseRevoke(&c, request, response);
      },
      nullptr);
}

std::string EtcdClient::describe(const grpc::Status& status) const {
  return fmt::format("etcd {}: {} ({})", endpoints_[lastUsed_.load() % endpoints_.size()].address,
                     status.error_message(), static_cast<int>(status.error_code()));
}

} // namespace fulcrum::store::etcd
