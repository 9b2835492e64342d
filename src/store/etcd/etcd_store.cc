#include "store/etcd_store.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <xxhash.h>

#include "store/codec.h"
#include "store/etcd/etcd_client.h"

namespace fulcrum::store {
namespace {

using etcd::EtcdClient;
using namespace std::chrono_literals;

// Key layout (docs/store.md); P = EtcdConfig::prefix.
struct Keys {
  explicit Keys(const std::string& prefix) : root(prefix + "/v1/") {}
  std::string current() const { return root + "current"; }
  std::string revision(RevisionNumber n) const { return root + "revisions/" + paddedNumber(n); }
  std::string config(RevisionNumber n) const { return root + "configs/" + paddedNumber(n); }
  std::string revisions() const { return root + "revisions/"; }
  std::string instance(const std::string& id) const { return root + "instances/" + id; }
  std::string instances() const { return root + "instances/"; }
  std::string audits() const { return root + "audit/"; }
  std::string root;
};

// The range_end that selects every key starting with `prefix`.
std::string prefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

std::optional<RevisionNumber> parseNumber(std::string_view text) {
  RevisionNumber n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return n;
}

std::string hashOf(std::string_view text) {
  return fmt::format("{:016x}", XXH64(text.data(), text.size(), 0));
}

class EtcdStore;

// One watch: a thread that (re)reads the current pointer and keeps a watch stream open on it,
// with a reader thread per stream. See watch() in config_store.h for the contract and
// docs/store.md for the client duties it carries out.
class EtcdWatch final : public WatchHandle {
public:
  EtcdWatch(EtcdStore& store, RevisionNumber from, WatchCallback callback);
  ~EtcdWatch() override;

private:
  void run();
  bool waitStopping(std::chrono::milliseconds d);
  // Reads the current pointer (linearizable) and delivers it if newer; returns the etcd
  // revision of the read, or nullopt on failure (health reported).
  std::optional<int64_t> reconcile();
  void deliver(RevisionNumber number);
  void setHealth(bool healthy, const std::string& error);
  // One watch stream until it breaks, is compacted away, goes silent or the watch stops.
  void stream(int64_t startRevision);

  EtcdStore& store_;
  RevisionNumber last_;
  WatchCallback callback_;
  bool healthy_ = true;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  grpc::ClientContext* activeContext_ = nullptr; // cancelled on stop; guarded by mutex_
  std::thread thread_;
};

class EtcdRegistration final : public InstanceRegistration {
public:
  EtcdRegistration(EtcdStore& store, InstanceStatus status)
      : store_(store), status_(std::move(status)) {}
  ~EtcdRegistration() override;
  Result<bool> start(); // grant + put synchronously, then keep alive on a thread
  Result<bool> update(const InstanceStatus& status) override;

private:
  Result<bool> grantAndPut(); // mutex_ held
  Result<bool> putStatus();   // mutex_ held
  bool keepAlive();           // one keep-alive round trip; false if the lease is gone
  void run();

  EtcdStore& store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  InstanceStatus status_;
  int64_t lease_ = 0;
  SystemTime registeredAt_;
  std::thread thread_;
};

class EtcdStore final : public ConfigStore {
public:
  EtcdStore(const EtcdConfig& config, const StoreOptions& options)
      : config_(config), options_(options), keys_(config.prefix),
        client_(config.endpoints, options.requestTimeout),
        time_(options.time != nullptr ? options.time : &realTime_) {}

  std::string describe() const override {
    std::string url = "etcd://";
    for (size_t i = 0; i < config_.endpoints.size(); ++i) {
      url += (i == 0 ? "" : ",") + config_.endpoints[i];
    }
    return config_.prefix == "/fulcrum" ? url : url + "/?prefix=" + config_.prefix;
  }

  // The current revision number and the etcd revision of the read.
  Result<std::pair<RevisionNumber, int64_t>> currentNumber() {
    etcdserverpb::RangeRequest request;
    request.set_key(keys_.current());
    etcdserverpb::RangeResponse response;
    auto status = client_.range(request, &response);
    if (!status.ok()) {
      return Error{client_.describe(status)};
    }
    RevisionNumber number = 0;
    if (response.kvs_size() > 0) {
      auto parsed = parseNumber(response.kvs(0).value());
      if (!parsed) {
        return Error{fmt::format("{}: not a revision number", keys_.current())};
      }
      number = *parsed;
    }
    return std::make_pair(number, response.header().revision());
  }

  Result<std::optional<Revision>> current() override {
    auto number = currentNumber();
    if (!number) {
      return Error{number.error().message};
    }
    if (number->first == 0) {
      return std::optional<Revision>();
    }
    return get(number->first);
  }

  Result<std::optional<Revision>> get(RevisionNumber number) override {
    if (number == 0) {
      return std::optional<Revision>();
    }
    // Both keys in one read, so that they come from one etcd revision.
    etcdserverpb::TxnRequest request;
    request.add_success()->mutable_request_range()->set_key(keys_.revision(number));
    request.add_success()->mutable_request_range()->set_key(keys_.config(number));
    etcdserverpb::TxnResponse response;
    auto status = client_.txn(request, &response);
    if (!status.ok()) {
      return Error{client_.describe(status)};
    }
    const auto& metaRange = response.responses(0).response_range();
    const auto& configRange = response.responses(1).response_range();
    if (metaRange.kvs_size() == 0) {
      return std::optional<Revision>();
    }
    auto meta = decodeRevisionMeta(metaRange.kvs(0).value());
    if (!meta) {
      return Error{fmt::format("revision {}: {}", number, meta.error().message)};
    }
    if (configRange.kvs_size() == 0) {
      return Error{fmt::format("revision {}: config key missing", number)};
    }
    return std::optional<Revision>(Revision{std::move(meta.value()), configRange.kvs(0).value()});
  }

  Result<std::vector<RevisionMeta>> list() override {
    etcdserverpb::RangeRequest request;
    request.set_key(keys_.revisions());
    request.set_range_end(prefixEnd(keys_.revisions()));
    request.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
    request.set_sort_target(etcdserverpb::RangeRequest::KEY);
    etcdserverpb::RangeResponse response;
    auto status = client_.range(request, &response);
    if (!status.ok()) {
      return Error{client_.describe(status)};
    }
    std::vector<RevisionMeta> metas;
    for (const auto& kv : response.kvs()) {
      auto meta = decodeRevisionMeta(kv.value());
      if (!meta) {
        return Error{fmt::format("{}: {}", kv.key(), meta.error().message)};
      }
      metas.push_back(std::move(meta.value()));
    }
    return metas;
  }

  Result<CasOutcome> compareAndSwap(RevisionNumber expectedCurrent,
                                    const NewRevision& revision) override {
    if (!isValidSource(revision.source)) {
      return Error{fmt::format("invalid revision source {:?}", revision.source)};
    }
    Revision written;
    written.meta.number = expectedCurrent + 1;
    written.meta.author = revision.author;
    written.meta.time = time_->systemTime();
    written.meta.message = revision.message;
    written.meta.source = revision.source;
    written.meta.hash = revision.hash.empty() ? hashOf(revision.config) : revision.hash;
    written.meta.parent = expectedCurrent;
    written.config = revision.config;
    std::string metaText = toJson(written.meta).dump();

    etcdserverpb::TxnRequest request;
    auto* compare = request.add_compare();
    compare->set_key(keys_.current());
    if (expectedCurrent == 0) {
      compare->set_target(etcdserverpb::Compare::CREATE);
      compare->set_result(etcdserverpb::Compare::EQUAL);
      compare->set_create_revision(0); // the key does not exist
    } else {
      compare->set_target(etcdserverpb::Compare::VALUE);
      compare->set_result(etcdserverpb::Compare::EQUAL);
      compare->set_value(std::to_string(expectedCurrent));
    }
    auto put = [&](const std::string& key, const std::string& value) {
      auto* p = request.add_success()->mutable_request_put();
      p->set_key(key);
      p->set_value(value);
    };
    put(keys_.config(written.meta.number), written.config);
    put(keys_.revision(written.meta.number), metaText);
    put(keys_.current(), std::to_string(written.meta.number));
    request.add_failure()->mutable_request_range()->set_key(keys_.current());

    etcdserverpb::TxnResponse response;
    int attempts = 0;
    auto status = client_.txn(request, &response, &attempts);
    if (!status.ok()) {
      return Error{fmt::format("{} (outcome unknown)", client_.describe(status))};
    }
    CasOutcome outcome;
    if (response.succeeded()) {
      outcome.won = true;
      outcome.current = written.meta.number;
      outcome.revision = std::move(written);
      return outcome;
    }
    const auto& range = response.responses(0).response_range();
    outcome.current = range.kvs_size() > 0 ? parseNumber(range.kvs(0).value()).value_or(0) : 0;
    if (attempts > 1 && outcome.current == written.meta.number) {
      // An earlier try timed out but was applied: if the revision there is ours, we won.
      auto there = get(written.meta.number);
      if (there && there.value() && there.value()->meta.time == written.meta.time &&
          there.value()->meta.author == written.meta.author &&
          there.value()->config == written.config) {
        outcome.won = true;
        outcome.revision = std::move(written);
      }
    }
    return outcome;
  }

  Result<std::unique_ptr<WatchHandle>> watch(RevisionNumber fromRevision,
                                             WatchCallback callback) override {
    return std::unique_ptr<WatchHandle>(
        std::make_unique<EtcdWatch>(*this, fromRevision, std::move(callback)));
  }

  Result<std::unique_ptr<InstanceRegistration>>
  registerInstance(const InstanceStatus& status) override {
    if (!isValidInstanceId(status.id)) {
      return Error{fmt::format("invalid instance id {:?}", status.id)};
    }
    auto registration = std::make_unique<EtcdRegistration>(*this, status);
    if (auto started = registration->start(); !started) {
      return Error{started.error().message};
    }
    return std::unique_ptr<InstanceRegistration>(std::move(registration));
  }

  Result<std::vector<InstanceInfo>> instances() override {
    etcdserverpb::RangeRequest request;
    request.set_key(keys_.instances());
    request.set_range_end(prefixEnd(keys_.instances()));
    etcdserverpb::RangeResponse response;
    auto status = client_.range(request, &response);
    if (!status.ok()) {
      return Error{client_.describe(status)};
    }
    std::vector<InstanceInfo> result;
    for (const auto& kv : response.kvs()) {
      auto decoded = decodeInstanceStatus(kv.value());
      if (!decoded) {
        continue;
      }
      InstanceInfo info;
      info.status = std::move(decoded.value());
      auto json = nlohmann::json::parse(kv.value(), nullptr, false);
      if (json.is_object() && json.contains("updated") && json["updated"].is_string()) {
        info.lastSeen = parseTime(json["updated"].get<std::string>()).value_or(SystemTime{});
      }
      info.alive = true; // the key exists only while its lease lives
      result.push_back(std::move(info));
    }
    std::sort(result.begin(), result.end(),
              [](const auto& a, const auto& b) { return a.status.id < b.status.id; });
    return result;
  }

  Result<bool> appendAudit(const AuditEntry& entry) override {
    thread_local std::mt19937_64 random(std::random_device{}());
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(entry.time.time_since_epoch()).count();
    etcdserverpb::PutRequest request;
    request.set_key(
        fmt::format("{}{:020}-{:08x}", keys_.audits(), ns, static_cast<uint32_t>(random())));
    request.set_value(toJson(entry).dump());
    etcdserverpb::PutResponse response;
    auto status = client_.put(request, &response);
    if (!status.ok()) {
      return Error{client_.describe(status)};
    }
    return true;
  }

  Result<std::vector<AuditEntry>> audit(size_t limit) override {
    std::vector<AuditEntry> entries;
    if (limit == 0) {
      return entries;
    }
    etcdserverpb::RangeRequest request;
    request.set_key(keys_.audits());
    request.set_range_end(prefixEnd(keys_.audits()));
    request.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
    request.set_sort_target(etcdserverpb::RangeRequest::KEY);
    request.set_limit(static_cast<int64_t>(limit));
    etcdserverpb::RangeResponse response;
    auto status = client_.range(request, &response);
    if (!status.ok()) {
      return Error{client_.describe(status)};
    }
    for (auto it = response.kvs().rbegin(); it != response.kvs().rend(); ++it) {
      if (auto entry = decodeAuditEntry(it->value())) {
        entries.push_back(std::move(entry.value()));
      }
    }
    return entries;
  }

  EtcdClient& client() { return client_; }
  const Keys& keys() const { return keys_; }
  const StoreOptions& options() const { return options_; }
  const TimeSource& time() const { return *time_; }

private:
  EtcdConfig config_;
  StoreOptions options_;
  Keys keys_;
  EtcdClient client_;
  RealTimeSource realTime_;
  const TimeSource* time_;
};

// ---------------------------------------------------------------------------------------------
// Watch

EtcdWatch::EtcdWatch(EtcdStore& store, RevisionNumber from, WatchCallback callback)
    : store_(store), last_(from), callback_(std::move(callback)) {
  thread_ = std::thread([this] { run(); });
}

EtcdWatch::~EtcdWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (activeContext_ != nullptr) {
      activeContext_->TryCancel();
    }
  }
  wake_.notify_all();
  thread_.join();
}

bool EtcdWatch::waitStopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, d, [this] { return stopping_; });
}

void EtcdWatch::setHealth(bool healthy, const std::string& error) {
  if (healthy != healthy_) {
    healthy_ = healthy;
    callback_(WatchEvent{std::nullopt, healthy, error});
  }
}

void EtcdWatch::deliver(RevisionNumber number) {
  if (number <= last_) {
    return; // monotonic: never go back, never repeat
  }
  auto revision = store_.get(number);
  if (!revision) {
    setHealth(false, revision.error().message);
    return;
  }
  if (!revision.value()) {
    return; // cannot happen with the CAS layout; the next reconcile tries again
  }
  setHealth(true, "");
  last_ = number;
  callback_(WatchEvent{std::move(*revision.value()), true, ""});
}

std::optional<int64_t> EtcdWatch::reconcile() {
  auto current = store_.currentNumber();
  if (!current) {
    setHealth(false, current.error().message);
    return std::nullopt;
  }
  setHealth(true, "");
  deliver(current->first);
  return current->second;
}

void EtcdWatch::run() {
  thread_local std::minstd_rand jitter(std::random_device{}());
  auto backoff = 100ms;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
    }
    // Bootstrap (and after compaction or any break): a linearizable read, then watch from the
    // revision after it.
    auto etcdRevision = reconcile();
    if (!etcdRevision) {
      if (waitStopping(backoff + std::chrono::milliseconds(jitter() % 100))) {
        return;
      }
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
      continue;
    }
    backoff = 100ms;
    stream(*etcdRevision + 1);
  }
}

void EtcdWatch::stream(int64_t startRevision) {
  size_t index = store_.client().preferred();
  auto connection = store_.client().connection(index);
  auto& endpoint = *connection;
  grpc::ClientContext context;
  // Require a leader: a member cut off from quorum cancels the stream instead of going silent.
  context.AddMetadata("hasleader", "true");
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    activeContext_ = &context;
  }
  auto rpc = endpoint.watch->Watch(&context);

  etcdserverpb::WatchRequest create;
  auto* c = create.mutable_create_request();
  c->set_key(store_.keys().current());
  c->set_start_revision(startRevision);
  c->set_progress_notify(true);
  bool ok = rpc->Write(create);

  // The reader thread hands responses over; this thread decides.
  std::deque<etcdserverpb::WatchResponse> queue;
  bool ended = !ok;
  std::thread reader([&] {
    etcdserverpb::WatchResponse response;
    while (rpc->Read(&response)) {
      std::lock_guard lock(mutex_);
      queue.push_back(std::move(response));
      wake_.notify_all();
    }
    std::lock_guard lock(mutex_);
    ended = true;
    wake_.notify_all();
  });

  const auto interval = store_.options().reconcileInterval;
  auto lastHeard = std::chrono::steady_clock::now();
  auto lastReconcile = lastHeard;
  bool progressAsked = false;
  bool broken = false;
  std::string why;
  while (!broken) {
    std::deque<etcdserverpb::WatchResponse> batch;
    bool streamEnded = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, interval, [&] { return stopping_ || ended || !queue.empty(); });
      if (stopping_) {
        break;
      }
      batch.swap(queue);
      streamEnded = ended;
    }
    if (!batch.empty()) {
      lastHeard = std::chrono::steady_clock::now();
      progressAsked = false;
      store_.client().succeeded(index);
    }
    for (const auto& response : batch) {
      if (response.canceled()) {
        broken = true;
        why = response.compact_revision() > 0
                  ? fmt::format("watch compacted at {}; re-reading", response.compact_revision())
                  : "watch canceled: " + response.cancel_reason();
        break;
      }
      // Apply per response (one etcd revision), the newest pointer value in it.
      RevisionNumber newest = 0;
      for (const auto& event : response.events()) {
        if (event.type() == mvccpb::Event::PUT) {
          newest = std::max(newest, parseNumber(event.kv().value()).value_or(0));
        }
      }
      if (newest > 0) {
        deliver(newest);
      }
    }
    if (broken) {
      break;
    }
    if (streamEnded) {
      why = "watch stream ended";
      broken = true;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    auto silent = now - lastHeard;
    if (silent >= interval) {
      // Liveness: a silent stream must answer a progress request.
      if (progressAsked && silent >= 3 * interval) {
        why = "watch stream silent; reconnecting";
        broken = true;
        break;
      }
      if (!progressAsked) {
        etcdserverpb::WatchRequest progress;
        progress.mutable_progress_request();
        if (!rpc->Write(progress)) {
          why = "watch stream closed";
          broken = true;
          break;
        }
        progressAsked = true;
      }
    }
    if (now - lastReconcile >= interval) {
      // Periodic reconcile, whatever the stream says: a linearizable read catches anything the
      // stream missed (etcd has had watch bugs; see docs/store.md).
      lastReconcile = now;
      if (!reconcile()) {
        why = "reconcile failed";
        broken = true;
        break;
      }
    }
  }
  context.TryCancel();
  reader.join();
  (void)rpc->Finish();
  {
    std::lock_guard lock(mutex_);
    activeContext_ = nullptr;
  }
  if (broken && why.find("compacted") == std::string::npos) {
    store_.client().failed(index); // try the next endpoint
    setHealth(false, fmt::format("etcd {}: {}", endpoint.address, why));
    waitStopping(100ms);
  }
}

// ---------------------------------------------------------------------------------------------
// Instances

Result<bool> EtcdRegistration::start() {
  {
    std::lock_guard lock(mutex_);
    registeredAt_ = store_.time().systemTime();
    if (auto ok = grantAndPut(); !ok) {
      return ok;
    }
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

EtcdRegistration::~EtcdRegistration() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  // Best effort: revoking deletes the key now rather than at lease expiry.
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_);
  etcdserverpb::LeaseRevokeResponse response;
  (void)store_.client().leaseRevoke(request, &response);
}

Result<bool> EtcdRegistration::grantAndPut() {
  etcdserverpb::LeaseGrantRequest grant;
  auto ttl = std::chrono::duration_cast<std::chrono::seconds>(store_.options().instanceTtl);
  grant.set_ttl(std::max<int64_t>(ttl.count(), 2));
  etcdserverpb::LeaseGrantResponse granted;
  auto status = store_.client().leaseGrant(grant, &granted);
  if (!status.ok()) {
    return Error{store_.client().describe(status)};
  }
  if (!granted.error().empty()) {
    return Error{"lease grant: " + granted.error()};
  }
  lease_ = granted.id();
  return putStatus();
}

Result<bool> EtcdRegistration::putStatus() {
  auto json = toJson(status_);
  json["updated"] = formatTime(store_.time().systemTime());
  json["registered"] = formatTime(registeredAt_);
  etcdserverpb::PutRequest put;
  put.set_key(store_.keys().instance(status_.id));
  put.set_value(json.dump());
  put.set_lease(lease_);
  etcdserverpb::PutResponse response;
  auto status = store_.client().put(put, &response);
  if (!status.ok()) {
    return Error{store_.client().describe(status)};
  }
  return true;
}

Result<bool> EtcdRegistration::update(const InstanceStatus& status) {
  std::lock_guard lock(mutex_);
  if (status.id != status_.id) {
    return Error{"an instance's id cannot change"};
  }
  status_ = status;
  auto ok = putStatus();
  if (!ok && ok.error().message.find("lease not found") != std::string::npos) {
    return grantAndPut();
  }
  return ok;
}

bool EtcdRegistration::keepAlive() {
  size_t index = store_.client().preferred();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + store_.options().requestTimeout);
  auto connection = store_.client().connection(index);
  auto rpc = connection->lease->LeaseKeepAlive(&context);
  etcdserverpb::LeaseKeepAliveRequest request;
  {
    std::lock_guard lock(mutex_);
    request.set_id(lease_);
  }
  etcdserverpb::LeaseKeepAliveResponse response;
  bool ok = rpc->Write(request) && rpc->Read(&response);
  rpc->WritesDone();
  context.TryCancel();
  (void)rpc->Finish();
  if (!ok) {
    store_.client().failed(index);
    return true; // unknown: the lease may well be alive; retry next round
  }
  store_.client().succeeded(index);
  return response.ttl() > 0;
}

void EtcdRegistration::run() {
  auto interval = std::max<std::chrono::milliseconds>(store_.options().instanceTtl / 3, 500ms);
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    bool alive = keepAlive();
    lock.lock();
    if (stopping_) {
      break;
    }
    if (!alive) {
      // The lease expired (e.g. a long partition): re-grant and re-put, never continue silently.
      (void)grantAndPut();
    }
  }
}

} // namespace

Result<std::unique_ptr<ConfigStore>> openEtcdStore(const EtcdConfig& config,
                                                   const StoreOptions& options) {
  if (config.endpoints.empty()) {
    return Error{"etcd: no endpoints"};
  }
  return std::unique_ptr<ConfigStore>(std::make_unique<EtcdStore>(config, options));
}

} // namespace fulcrum::store
