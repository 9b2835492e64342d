// The etcd store against a real etcd-server started by the test: its own data dir in a temp dir,
// loopback only, ports from the OS (bound to port 0, released and handed to etcd, retried on a
// collision since etcd cannot be told to bind port 0 for its peer URL).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "store/config_store.h"

namespace fulcrum::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One etcd member on loopback, stopped (SIGKILL) by the destructor.
class Etcd {
public:
  explicit Etcd(std::string dir) : dir_(std::move(dir)) {}
  ~Etcd() { kill(); }

  // Starts etcd on fresh ports (or the previous ones, for a restart) and waits until it answers.
  bool start(bool samePorts = false) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (!samePorts || clientPort_ == 0) {
        clientPort_ = freePort();
        peerPort_ = freePort();
      }
      std::string client = "http://127.0.0.1:" + std::to_string(clientPort_);
      std::string peer = "http://127.0.0.1:" + std::to_string(peerPort_);
      std::string log = dir_ + "/etcd.log";
      // Everything the child needs is prepared before fork(): after it, in a process with
      // threads (gRPC's), only async-signal-safe calls are allowed.
      std::vector<std::string> args = {"etcd",         "--name",
                                       "test",         "--data-dir",
                                       dir_ + "/data", "--listen-client-urls",
                                       client,         "--advertise-client-urls",
                                       client,         "--listen-peer-urls",
                                       peer,           "--initial-advertise-peer-urls",
                                       peer,           "--initial-cluster",
                                       "test=" + peer, "--log-level",
                                       "warn"};
      std::vector<char*> argv;
      for (auto& arg : args) {
        argv.push_back(arg.data());
      }
      argv.push_back(nullptr);
      pid_ = ::fork();
      if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a crashed test
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          ::dup2(fd, 1);
          ::dup2(fd, 2);
        }
        ::execvp("etcd", argv.data());
        ::_exit(127);
      }
      auto store = openStore(endpoint());
      auto deadline = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1; // exited: most likely a port collision; try other ports
          break;
        }
        if (store) {
          auto current = store.value()->current();
          if (current) {
            return true;
          }
          lastError_ = current.error().message;
        }
        std::this_thread::sleep_for(50ms); // polling readiness
      }
      kill();
      if (samePorts) {
        samePorts = false;
      }
    }
    return false;
  }

  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  std::string endpoint() const { return "etcd://127.0.0.1:" + std::to_string(clientPort_); }
  const std::string& lastError() const { return lastError_; }

private:
  std::string dir_;
  pid_t pid_ = -1;
  int clientPort_ = 0;
  int peerPort_ = 0;
  std::string lastError_;
};

class EtcdStoreTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    std::string pattern = (fs::temp_directory_path() / "fulcrum-etcd-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    etcd_ = new Etcd(root_);
    ASSERT_TRUE(etcd_->start()) << "etcd did not start (" << etcd_->lastError() << "); see "
                                << root_ << "/etcd.log";
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
    fs::remove_all(root_);
  }

  // Each test gets its own key prefix in the shared etcd.
  std::unique_ptr<ConfigStore> open(StoreOptions options = {}) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto store = openStore(etcd_->endpoint() + "/?prefix=/t/" + name, options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(store.value()) : nullptr;
  }

  static NewRevision change(std::string text, std::string author = "alice") {
    NewRevision r;
    r.author = std::move(author);
    r.message = "m";
    r.source = "api";
    r.config = std::move(text);
    return r;
  }

  static inline std::string root_;
  static inline Etcd* etcd_ = nullptr;
};

class Collector {
public:
  WatchCallback callback() {
    return [this](const WatchEvent& event) {
      std::lock_guard lock(mutex_);
      if (event.revision) {
        numbers_.push_back(event.revision->meta.number);
      }
      changed_.notify_all();
    };
  }
  bool waitFor(RevisionNumber number, std::chrono::seconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return std::find(numbers_.begin(), numbers_.end(), number) != numbers_.end();
    });
  }
  std::vector<RevisionNumber> numbers() {
    std::lock_guard lock(mutex_);
    return numbers_;
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<RevisionNumber> numbers_;
};

TEST_F(EtcdStoreTest, CompareAndSwapAndHistory) {
  auto store = open();
  EXPECT_FALSE(store->current().value());
  auto first = store->compareAndSwap(0, change("one"));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->won);
  EXPECT_EQ(first->revision.meta.number, 1u);
  auto lost = store->compareAndSwap(0, change("again"));
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->won);
  EXPECT_EQ(lost->current, 1u);
  ASSERT_TRUE(store->compareAndSwap(1, change("two", "bob")).value().won);
  auto current = store->current().value();
  ASSERT_TRUE(current);
  EXPECT_EQ(current->meta.number, 2u);
  EXPECT_EQ(current->meta.parent, 1u);
  EXPECT_EQ(current->meta.author, "bob");
  EXPECT_EQ(current->config, "two");
  EXPECT_EQ(store->get(1).value()->config, "one");
  EXPECT_FALSE(store->get(3).value());
  auto list = store->list().value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].number, 2u);
}

TEST_F(EtcdStoreTest, ExactlyOneOfManyConcurrentWritersWins) {
  auto store = open();
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // Each writer has its own client, as separate control-plane replicas would.
      auto own = open();
      auto outcome = own->compareAndSwap(0, change("w" + std::to_string(i)));
      ASSERT_TRUE(outcome) << outcome.error().message;
      wins += outcome->won ? 1 : 0;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(store->list().value().size(), 1u);
}

TEST_F(EtcdStoreTest, WatchDeliversNewRevisions) {
  auto store = open();
  ASSERT_TRUE(store->compareAndSwap(0, change("one")).value().won);
  Collector collector;
  auto handle = store->watch(0, collector.callback());
  ASSERT_TRUE(handle);
  ASSERT_TRUE(collector.waitFor(1));
  ASSERT_TRUE(store->compareAndSwap(1, change("two")).value().won);
  ASSERT_TRUE(collector.waitFor(2));
  auto other = open();
  ASSERT_TRUE(other->compareAndSwap(2, change("three")).value().won);
  ASSERT_TRUE(collector.waitFor(3));
  auto numbers = collector.numbers();
  EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end()));
}

TEST_F(EtcdStoreTest, InstancesLiveWhileRegistered) {
  StoreOptions options;
  options.instanceTtl = 3s;
  auto store = open(options);
  InstanceStatus status{"proxy-1", "127.0.0.1:9901", 1, 0, {}, "test"};
  auto registration = store->registerInstance(status);
  ASSERT_TRUE(registration) << registration.error().message;
  auto listed = store->instances().value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].alive);
  EXPECT_EQ(listed[0].status.appliedRevision, 1u);
  status.refusedRevision = 2;
  status.errors = {"bad"};
  ASSERT_TRUE(registration.value()->update(status));
  EXPECT_EQ(store->instances().value()[0].status.refusedRevision, 2u);
  registration.value().reset();
  EXPECT_TRUE(store->instances().value().empty());
}

TEST_F(EtcdStoreTest, AuditTail) {
  auto store = open();
  for (int i = 0; i < 5; ++i) {
    AuditEntry entry;
    entry.time = SystemTime{} + std::chrono::seconds(100 + i);
    entry.action = "config.put";
    entry.revision = static_cast<RevisionNumber>(i);
    ASSERT_TRUE(store->appendAudit(entry));
  }
  auto tail = store->audit(2).value();
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].revision, 3u);
  EXPECT_EQ(tail[1].revision, 4u);
}

// The first endpoint is dead (nothing listens there): every operation fails over to the next.
TEST_F(EtcdStoreTest, FailsOverToTheNextEndpoint) {
  std::string live = etcd_->endpoint().substr(std::string("etcd://").size());
  auto store = openStore("etcd://127.0.0.1:" + std::to_string(freePort()) + "," + live +
                         "/?prefix=/t/FailsOver");
  ASSERT_TRUE(store) << store.error().message;
  auto written = store.value()->compareAndSwap(0, change("one"));
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_TRUE(written->won);
  Collector collector;
  auto handle = store.value()->watch(0, collector.callback());
  ASSERT_TRUE(collector.waitFor(1));
  ASSERT_TRUE(store.value()->compareAndSwap(1, change("two")).value().won);
  ASSERT_TRUE(collector.waitFor(2));
}

// Last: restarts the shared etcd. The watch reports the outage, reconnects, and catches up.
TEST_F(EtcdStoreTest, ZWatchSurvivesAnEtcdRestart) {
  StoreOptions options;
  options.reconcileInterval = 500ms;
  options.requestTimeout = 2s;
  auto store = open(options);
  ASSERT_TRUE(store->compareAndSwap(0, change("one")).value().won);
  std::mutex mutex;
  std::condition_variable changed;
  bool sawUnhealthy = false;
  RevisionNumber last = 0;
  auto handle = store->watch(0, [&](const WatchEvent& e) {
    std::lock_guard lock(mutex);
    sawUnhealthy = sawUnhealthy || !e.healthy;
    if (e.revision) {
      last = e.revision->meta.number;
    }
    changed.notify_all();
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 30s, [&] { return last == 1; }));
  }
  etcd_->kill();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 30s, [&] { return sawUnhealthy; }));
  }
  ASSERT_TRUE(etcd_->start(/*samePorts=*/true));
  auto writer = openStore(etcd_->endpoint() + "/?prefix=/t/ZWatchSurvivesAnEtcdRestart");
  ASSERT_TRUE(writer);
  // If etcd had to move ports the old watch cannot follow; then this only checks the restart.
  if (writer.value()->describe() == store->describe()) {
    ASSERT_TRUE(writer.value()->compareAndSwap(1, change("two")).value().won);
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 30s, [&] { return last == 2; }));
  }
}

} // namespace
} // namespace fulcrum::store
