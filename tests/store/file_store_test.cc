#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "store/config_store.h"
#include "store/file_store.h"

namespace fulcrum::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A clock the test moves by hand.
class ManualTime final : public TimeSource {
public:
  MonotonicTime monotonicTime() const override { return MonotonicTime{} + offset_.load(); }
  SystemTime systemTime() const override {
    return SystemTime{} + std::chrono::seconds(1714564800) +
           std::chrono::duration_cast<SystemTime::duration>(offset_.load());
  }
  void advance(std::chrono::milliseconds d) { offset_ = offset_.load() + d; }

private:
  std::atomic<std::chrono::milliseconds> offset_{std::chrono::milliseconds(0)};
};

class FileStoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fulcrum-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ + "/store";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<ConfigStore> open(StoreOptions options = {}) {
    auto store = openStore("file://" + dir_, options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(store.value()) : nullptr;
  }

  static NewRevision change(std::string text, std::string author = "alice") {
    NewRevision r;
    r.author = std::move(author);
    r.message = "change";
    r.source = "cli";
    r.config = std::move(text);
    return r;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(FileStoreTest, EmptyStoreHasNoRevisions) {
  auto store = open();
  auto current = store->current();
  ASSERT_TRUE(current);
  EXPECT_FALSE(current.value());
  EXPECT_TRUE(store->list()->empty());
  EXPECT_FALSE(store->get(1).value());
  EXPECT_EQ(store->describe(), "file://" + dir_);
}

TEST_F(FileStoreTest, CompareAndSwapWritesImmutableRevisions) {
  ManualTime time;
  StoreOptions options;
  options.time = &time;
  auto store = open(options);
  auto first = store->compareAndSwap(0, change("a: 1\n"));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->won);
  EXPECT_EQ(first->revision.meta.number, 1u);
  EXPECT_EQ(first->revision.meta.parent, 0u);
  EXPECT_EQ(first->revision.meta.author, "alice");
  EXPECT_EQ(first->revision.meta.source, "cli");
  EXPECT_EQ(first->revision.meta.time, time.systemTime());
  EXPECT_EQ(first->revision.meta.hash.size(), 16u); // computed when not given
  time.advance(1500ms);
  auto second = store->compareAndSwap(1, change("a: 2\n", "bob"));
  ASSERT_TRUE(second && second->won);
  EXPECT_EQ(second->revision.meta.parent, 1u);

  auto current = store->current();
  ASSERT_TRUE(current && current.value());
  EXPECT_EQ(current.value()->meta.number, 2u);
  EXPECT_EQ(current.value()->config, "a: 2\n");
  EXPECT_EQ(current.value()->meta.author, "bob");
  EXPECT_EQ(current.value()->meta.time, time.systemTime());
  auto old = store->get(1);
  ASSERT_TRUE(old && old.value());
  EXPECT_EQ(old.value()->config, "a: 1\n");
  auto list = store->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list.value()[0].number, 1u);
  EXPECT_EQ(list.value()[1].number, 2u);
  EXPECT_EQ(list.value()[1].message, "change");
}

TEST_F(FileStoreTest, CompareAndSwapLosesOnStaleExpectation) {
  auto store = open();
  ASSERT_TRUE(store->compareAndSwap(0, change("x")).value().won);
  auto lost = store->compareAndSwap(0, change("y"));
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->won);
  EXPECT_EQ(lost->current, 1u);
  EXPECT_EQ(store->current().value()->config, "x");
  EXPECT_EQ(store->list()->size(), 1u);
}

TEST_F(FileStoreTest, RejectsInvalidSource) {
  auto store = open();
  auto r = change("x");
  r.source = "email";
  EXPECT_FALSE(store->compareAndSwap(0, r));
}

TEST_F(FileStoreTest, ExactlyOneOfManyConcurrentThreadsWins) {
  auto store = open();
  ASSERT_TRUE(store->compareAndSwap(0, change("base")).value().won);
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kThreads) {
        std::this_thread::yield();
      }
      auto outcome = store->compareAndSwap(1, change("writer " + std::to_string(i)));
      ASSERT_TRUE(outcome) << outcome.error().message;
      if (outcome->won) {
        ++wins;
      } else {
        EXPECT_EQ(outcome->current, 2u);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(store->list()->size(), 2u);
}

// Two processes hammer the same store: every CAS based on a fresh read either wins with the next
// number or loses to the other; no number is ever written twice and the chain of parents holds.
TEST_F(FileStoreTest, ProcessesRacingCompareAndSwapNeverBothWin) {
  ASSERT_TRUE(open()); // create the directory before forking
  constexpr int kAttempts = 20;
  int pipes[2][2];
  pid_t pids[2];
  for (int p = 0; p < 2; ++p) {
    ASSERT_EQ(::pipe(pipes[p]), 0);
    pids[p] = ::fork();
    ASSERT_GE(pids[p], 0);
    if (pids[p] == 0) {
      ::close(pipes[p][0]);
      auto store = openStore("file://" + dir_);
      int won = 0;
      for (int i = 0; store && i < kAttempts; ++i) {
        auto current = store.value()->current();
        RevisionNumber n = current && current.value() ? current.value()->meta.number : 0;
        auto outcome = store.value()->compareAndSwap(
            n, change("p" + std::to_string(p) + " i" + std::to_string(i)));
        if (!outcome) {
          ::_exit(3);
        }
        won += outcome->won ? 1 : 0;
      }
      ssize_t written = ::write(pipes[p][1], &won, sizeof won);
      ::_exit(store && written == sizeof won ? 0 : 2);
    }
    ::close(pipes[p][1]);
  }
  int total = 0;
  for (int p = 0; p < 2; ++p) {
    int status = 0;
    ASSERT_EQ(::waitpid(pids[p], &status, 0), pids[p]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    int won = 0;
    ASSERT_EQ(::read(pipes[p][0], &won, sizeof won), static_cast<ssize_t>(sizeof won));
    ::close(pipes[p][0]);
    EXPECT_GE(won, 1);
    total += won;
  }
  auto store = open();
  auto list = store->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(static_cast<int>(list->size()), total);
  for (size_t i = 0; i < list->size(); ++i) {
    EXPECT_EQ(list.value()[i].number, i + 1);
    EXPECT_EQ(list.value()[i].parent, i);
  }
}

// Collects watch events; waits on a condition variable, never by sleeping.
class Collector {
public:
  WatchCallback callback() {
    return [this](const WatchEvent& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
      changed_.notify_all();
    };
  }
  // Waits until the last delivered revision is `number`.
  bool waitFor(RevisionNumber number, std::chrono::seconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) {
        if (e.revision && e.revision->meta.number == number) {
          return true;
        }
      }
      return false;
    });
  }
  std::vector<RevisionNumber> numbers() {
    std::lock_guard lock(mutex_);
    std::vector<RevisionNumber> out;
    for (const auto& e : events_) {
      if (e.revision) {
        out.push_back(e.revision->meta.number);
      }
    }
    return out;
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WatchEvent> events_;
};

TEST_F(FileStoreTest, WatchDeliversCurrentThenEachNewRevision) {
  StoreOptions options;
  options.reconcileInterval = 60s; // inotify alone must deliver
  auto store = open(options);
  ASSERT_TRUE(store->compareAndSwap(0, change("one")).value().won);
  Collector collector;
  auto handle = store->watch(0, collector.callback());
  ASSERT_TRUE(handle);
  ASSERT_TRUE(collector.waitFor(1));
  ASSERT_TRUE(store->compareAndSwap(1, change("two")).value().won);
  ASSERT_TRUE(collector.waitFor(2));
  // A writer in another store object (another process would behave the same: inotify).
  auto other = open(options);
  ASSERT_TRUE(other->compareAndSwap(2, change("three")).value().won);
  ASSERT_TRUE(collector.waitFor(3));
  auto numbers = collector.numbers();
  EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end()));
  EXPECT_EQ(numbers.back(), 3u);
  handle.value().reset(); // cancels and joins
}

TEST_F(FileStoreTest, WatchFromARevisionSkipsOlderOnes) {
  auto store = open();
  ASSERT_TRUE(store->compareAndSwap(0, change("one")).value().won);
  ASSERT_TRUE(store->compareAndSwap(1, change("two")).value().won);
  Collector collector;
  auto handle = store->watch(2, collector.callback());
  ASSERT_TRUE(store->compareAndSwap(2, change("three")).value().won);
  ASSERT_TRUE(collector.waitFor(3));
  EXPECT_EQ(collector.numbers(), std::vector<RevisionNumber>{3});
}

TEST_F(FileStoreTest, CrashedWriterLeftoversAreInvisibleAndOverwritten) {
  auto store = open();
  ASSERT_TRUE(store->compareAndSwap(0, change("one")).value().won);
  // A writer that died after writing revision 2's files but before moving the pointer.
  std::ofstream(dir_ + "/revisions/00000000000000000002.config") << "orphan";
  std::ofstream(dir_ + "/revisions/00000000000000000002.meta.json")
      << R"({"number":2,"author":"ghost","time":"2024-01-01T00:00:00.000Z","parent":1})";
  EXPECT_FALSE(store->get(2).value());
  EXPECT_EQ(store->list()->size(), 1u);
  auto next = store->compareAndSwap(1, change("two", "bob"));
  ASSERT_TRUE(next && next->won);
  EXPECT_EQ(store->get(2).value()->config, "two");
  EXPECT_EQ(store->get(2).value()->meta.author, "bob");
}

TEST_F(FileStoreTest, RefusesADirectoryThatIsNotAStore) {
  fs::create_directories(dir_);
  std::ofstream(dir_ + "/format") << "something else\n";
  EXPECT_FALSE(openStore("file://" + dir_));
}

TEST_F(FileStoreTest, InstancesHeartbeatAndExpire) {
  ManualTime time;
  StoreOptions options;
  options.time = &time;
  options.instanceTtl = 30s; // renewals (every 10s) never race the test
  auto store = open(options);
  InstanceStatus status{"proxy-a", "127.0.0.1:9901", 0, 0, {}, "test"};
  auto registration = store->registerInstance(status);
  ASSERT_TRUE(registration) << registration.error().message;
  auto listed = store->instances();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed.value()[0].alive);
  EXPECT_EQ(listed.value()[0].status.adminAddress, "127.0.0.1:9901");

  status.appliedRevision = 4;
  status.refusedRevision = 5;
  status.errors = {"config:3:1: pools[0]: bad"};
  ASSERT_TRUE(registration.value()->update(status));
  listed = store->instances();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed.value()[0].status.appliedRevision, 4u);
  EXPECT_EQ(listed.value()[0].status.errors, status.errors);

  // The clock jumps past the TTL without a renewal in between: shown, but not alive.
  time.advance(60s);
  listed = store->instances();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_FALSE(listed.value()[0].alive);

  registration.value().reset(); // deregisters
  EXPECT_TRUE(store->instances()->empty());
  EXPECT_FALSE(store->registerInstance(InstanceStatus{"../evil", "", 0, 0, {}, ""}));
}

TEST_F(FileStoreTest, HeartbeatRenewsLiveness) {
  StoreOptions options;
  options.instanceTtl = 300ms; // renewed every 100ms on the real clock
  auto store = open(options);
  auto registration = store->registerInstance(InstanceStatus{"p", "127.0.0.1:1", 0, 0, {}, ""});
  ASSERT_TRUE(registration);
  auto first = store->instances().value().at(0).lastSeen;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (store->instances().value().at(0).lastSeen == first) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "heartbeat never renewed";
    std::this_thread::sleep_for(10ms); // polling a condition
  }
  // Removed behind its back: the heartbeat registers it again.
  fs::remove(dir_ + "/instances/p.json");
  while (store->instances().value().empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never re-registered";
    std::this_thread::sleep_for(10ms);
  }
}

TEST_F(FileStoreTest, AuditIsAppendOnlyAndTailed) {
  auto store = open();
  EXPECT_TRUE(store->audit(10)->empty());
  for (int i = 0; i < 25; ++i) {
    AuditEntry entry;
    entry.time = SystemTime{} + std::chrono::seconds(i);
    entry.actor = "alice";
    entry.action = "config.put";
    entry.outcome = i % 2 == 0 ? "accepted" : "refused";
    entry.revision = static_cast<RevisionNumber>(i);
    entry.detail = std::string(5000, 'x'); // lines longer than nothing, shorter than a block
    ASSERT_TRUE(store->appendAudit(entry));
  }
  auto tail = store->audit(3);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ(tail.value()[0].revision, 22u);
  EXPECT_EQ(tail.value()[2].revision, 24u);
  EXPECT_EQ(tail.value()[2].outcome, "accepted");
  EXPECT_EQ(store->audit(100)->size(), 25u);
}

TEST_F(FileStoreTest, RelativeUrlsResolveAgainstTheWorkingDirectory) {
  auto cwd = fs::current_path();
  fs::current_path(root_);
  auto store = openStore("file://./run/store");
  fs::current_path(cwd);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_TRUE(fs::exists(root_ + "/run/store/format"));
}

} // namespace
} // namespace fulcrum::store
