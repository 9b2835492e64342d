#include "store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <xxhash.h>

#include "store/codec.h"

namespace fulcrum::store {
namespace {

constexpr std::string_view kFormat = "fulcrum-file-store 1\n";

std::string errnoText(int error) {
  return std::strerror(error);
}

// A file descriptor closed on destruction.
class Fd {
public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

private:
  int fd_;
};

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The whole file, nullopt if it does not exist.
Result<std::optional<std::string>> readFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return Error{fmt::format("cannot read {}: {}", path, errnoText(errno))};
  }
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error{fmt::format("cannot read {}: {}", path, errnoText(errno))};
    }
    if (n == 0) {
      return std::optional<std::string>(std::move(text));
    }
    text.append(buffer, static_cast<size_t>(n));
  }
}

Result<bool> fsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) {
    return Error{fmt::format("cannot fsync {}: {}", dir, errnoText(errno))};
  }
  return true;
}

std::atomic<uint64_t> tempCounter{0};

// Writes `content` to dir/name atomically: temp file in the same directory, fsync, rename.
// The caller fsyncs `dir` when the rename itself must be durable.
Result<bool> writeFileAtomic(const std::string& dir, const std::string& name,
                             std::string_view content) {
  std::string temp = fmt::format("{}/.{}.tmp.{}.{}", dir, name, ::getpid(), ++tempCounter);
  std::string target = dir + "/" + name;
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) {
    return Error{fmt::format("cannot create {}: {}", temp, errnoText(errno))};
  }
  if (!writeAll(fd.get(), content) || ::fsync(fd.get()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return Error{fmt::format("cannot write {}: {}", temp, errnoText(error))};
  }
  fd.reset();
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return Error{fmt::format("cannot rename {} to {}: {}", temp, target, errnoText(error))};
  }
  return true;
}

Result<bool> makeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error{fmt::format("cannot create directory {}: {}", path, errnoText(errno))};
  }
  return true;
}

// An exclusive flock on a lock file, held until destruction.
class FileLock {
public:
  static Result<FileLock> acquire(const std::string& path, std::chrono::milliseconds timeout) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) {
      return Error{fmt::format("cannot open {}: {}", path, errnoText(errno))};
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::microseconds(100);
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        return Error{fmt::format("cannot lock {}: {}", path, errnoText(errno))};
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Error{fmt::format("timed out waiting for the lock {}", path)};
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(5));
    }
    return FileLock(std::move(fd));
  }

private:
  explicit FileLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_; // closing the descriptor releases the lock
};

std::string hashOf(std::string_view text) {
  return fmt::format("{:016x}", XXH64(text.data(), text.size(), 0));
}

SystemTime mtimeOf(const struct stat& st) {
  return SystemTime{} + std::chrono::seconds(st.st_mtim.tv_sec) +
         std::chrono::duration_cast<SystemTime::duration>(
             std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

struct timespec toTimespec(SystemTime time) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

class FileStore;

// One watch: a thread blocked in poll() on an inotify descriptor for DIR and an eventfd that
// cancels it.
class FileWatch final : public WatchHandle {
public:
  FileWatch(FileStore& store, RevisionNumber from, WatchCallback callback);
  ~FileWatch() override;

private:
  void run();
  void check();

  FileStore& store_;
  RevisionNumber last_;
  WatchCallback callback_;
  bool healthy_ = true;
  Fd inotify_;
  Fd stop_;
  std::thread thread_;
};

class FileRegistration final : public InstanceRegistration {
public:
  FileRegistration(FileStore& store, InstanceStatus status);
  ~FileRegistration() override;
  Result<bool> update(const InstanceStatus& status) override;
  Result<bool> write(); // the status file, atomically; mutex_ held by the caller

private:
  void run();

  FileStore& store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  InstanceStatus status_;
  std::thread thread_;
};

class FileStore final : public ConfigStore {
public:
  FileStore(std::string dir, const StoreOptions& options)
      : dir_(std::move(dir)), options_(options),
        time_(options.time != nullptr ? options.time : &realTime_) {}

  Result<bool> init() {
    for (const auto& path : {dir_, revisionsDir(), instancesDir()}) {
      if (auto made = makeDir(path); !made) {
        return made;
      }
    }
    auto format = readFile(dir_ + "/format");
    if (!format) {
      return Error{format.error().message};
    }
    if (!format.value()) {
      auto written = writeFileAtomic(dir_, "format", kFormat);
      if (!written) {
        return written;
      }
    } else if (*format.value() != kFormat) {
      return Error{fmt::format("{}: not a fulcrum file store (format file says {:?})", dir_,
                               *format.value())};
    }
    return true;
  }

  std::string describe() const override { return "file://" + dir_; }

  Result<std::optional<Revision>> current() override {
    auto number = currentNumber();
    if (!number) {
      return Error{number.error().message};
    }
    if (number.value() == 0) {
      return std::optional<Revision>();
    }
    return readRevision(number.value());
  }

  Result<std::optional<Revision>> get(RevisionNumber number) override {
    auto current = currentNumber();
    if (!current) {
      return Error{current.error().message};
    }
    if (number == 0 || number > current.value()) {
      return std::optional<Revision>(); // a number beyond current may be a crashed writer's
    }
    return readRevision(number);
  }

  Result<std::vector<RevisionMeta>> list() override {
    auto current = currentNumber();
    if (!current) {
      return Error{current.error().message};
    }
    std::vector<RevisionMeta> metas;
    metas.reserve(current.value());
    for (RevisionNumber n = 1; n <= current.value(); ++n) {
      auto meta = readMeta(n);
      if (!meta) {
        return Error{meta.error().message};
      }
      if (meta.value()) {
        metas.push_back(std::move(*meta.value()));
      }
    }
    return metas;
  }

  Result<CasOutcome> compareAndSwap(RevisionNumber expectedCurrent,
                                    const NewRevision& revision) override {
    if (!isValidSource(revision.source)) {
      return Error{fmt::format("invalid revision source {:?}", revision.source)};
    }
    auto lock = FileLock::acquire(dir_ + "/lock", options_.requestTimeout);
    if (!lock) {
      return Error{lock.error().message};
    }
    auto current = currentNumber();
    if (!current) {
      return Error{current.error().message};
    }
    CasOutcome outcome;
    outcome.current = current.value();
    if (current.value() != expectedCurrent) {
      return outcome;
    }
    Revision written;
    written.meta.number = current.value() + 1;
    written.meta.author = revision.author;
    written.meta.time = time_->systemTime();
    written.meta.message = revision.message;
    written.meta.source = revision.source;
    written.meta.hash = revision.hash.empty() ? hashOf(revision.config) : revision.hash;
    written.meta.parent = current.value();
    written.config = revision.config;
    std::string base = paddedNumber(written.meta.number);
    // Config first, metadata second, pointer last: a crash leaves at most an unreferenced
    // revision beyond current, which the next writer overwrites.
    std::string metaText = toJson(written.meta).dump() + "\n";
    std::string pointer = fmt::format("{}\n", written.meta.number);
    const std::function<Result<bool>()> steps[] = {
        [&] { return writeFileAtomic(revisionsDir(), base + ".config", written.config); },
        [&] { return writeFileAtomic(revisionsDir(), base + ".meta.json", metaText); },
        [&] { return fsyncDir(revisionsDir()); },
        [&] { return writeFileAtomic(dir_, "current", pointer); },
        [&] { return fsyncDir(dir_); },
    };
    for (const auto& step : steps) {
      if (auto result = step(); !result) {
        return Error{result.error().message};
      }
    }
    outcome.won = true;
    outcome.current = written.meta.number;
    outcome.revision = std::move(written);
    return outcome;
  }

  Result<std::unique_ptr<WatchHandle>> watch(RevisionNumber fromRevision,
                                             WatchCallback callback) override {
    return std::unique_ptr<WatchHandle>(
        std::make_unique<FileWatch>(*this, fromRevision, std::move(callback)));
  }

  Result<std::unique_ptr<InstanceRegistration>>
  registerInstance(const InstanceStatus& status) override {
    if (!isValidInstanceId(status.id)) {
      return Error{fmt::format("invalid instance id {:?}", status.id)};
    }
    auto registration = std::make_unique<FileRegistration>(*this, status);
    // The first write is synchronous so that the caller learns about an unwritable store.
    if (auto written = registration->update(status); !written) {
      return Error{written.error().message};
    }
    return std::unique_ptr<InstanceRegistration>(std::move(registration));
  }

  Result<std::vector<InstanceInfo>> instances() override {
    std::vector<InstanceInfo> result;
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(instancesDir().c_str()), &::closedir);
    if (!dir) {
      return Error{fmt::format("cannot list {}: {}", instancesDir(), errnoText(errno))};
    }
    auto now = time_->systemTime();
    auto pruneAfter =
        std::max<std::chrono::milliseconds>(options_.instanceTtl * 10, std::chrono::hours(1));
    while (struct dirent* entry = ::readdir(dir.get())) {
      std::string name = entry->d_name;
      constexpr std::string_view kSuffix = ".json";
      if (name.empty() || name[0] == '.' || name.size() <= kSuffix.size() ||
          name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
        continue;
      }
      std::string path = instancesDir() + "/" + name;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        continue; // deregistered meanwhile
      }
      auto text = readFile(path);
      if (!text || !text.value()) {
        continue;
      }
      auto status = decodeInstanceStatus(*text.value());
      if (!status) {
        continue;
      }
      InstanceInfo info;
      info.status = std::move(status.value());
      info.lastSeen = mtimeOf(st);
      info.alive = now - info.lastSeen < options_.instanceTtl;
      if (now - info.lastSeen > pruneAfter) {
        ::unlink(path.c_str());
        continue;
      }
      result.push_back(std::move(info));
    }
    std::sort(result.begin(), result.end(),
              [](const auto& a, const auto& b) { return a.status.id < b.status.id; });
    return result;
  }

  Result<bool> appendAudit(const AuditEntry& entry) override {
    std::string line = toJson(entry).dump() + "\n";
    std::string path = auditPath();
    Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    // One write(2) per entry: appends from several processes never interleave within a line.
    if (!fd || !writeAll(fd.get(), line) || ::fdatasync(fd.get()) != 0) {
      return Error{fmt::format("cannot append to {}: {}", path, errnoText(errno))};
    }
    return true;
  }

  Result<std::vector<AuditEntry>> audit(size_t limit) override {
    std::vector<AuditEntry> entries;
    if (limit == 0) {
      return entries;
    }
    Fd fd(::open(auditPath().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) {
        return entries;
      }
      return Error{fmt::format("cannot read {}: {}", auditPath(), errnoText(errno))};
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return Error{fmt::format("cannot stat {}: {}", auditPath(), errnoText(errno))};
    }
    // Read backwards from the end until the tail holds more than `limit` lines.
    std::string tail;
    off_t end = st.st_size;
    constexpr off_t kBlock = 64 * 1024;
    while (end > 0 && static_cast<size_t>(std::count(tail.begin(), tail.end(), '\n')) <= limit) {
      off_t start = std::max<off_t>(0, end - kBlock);
      std::string block(static_cast<size_t>(end - start), '\0');
      ssize_t n = ::pread(fd.get(), block.data(), block.size(), start);
      if (n != static_cast<ssize_t>(block.size())) {
        return Error{fmt::format("cannot read {}: {}", auditPath(), errnoText(errno))};
      }
      tail.insert(0, block);
      end = start;
    }
    std::vector<std::string_view> lines;
    std::string_view rest = tail;
    while (!rest.empty()) {
      size_t newline = rest.find('\n');
      if (newline == std::string_view::npos) {
        break; // a line still being written
      }
      lines.push_back(rest.substr(0, newline));
      rest.remove_prefix(newline + 1);
    }
    // The first line may be a partial one when reading stopped mid-file.
    size_t first = lines.size() > limit ? lines.size() - limit : 0;
    for (size_t i = first; i < lines.size(); ++i) {
      if (auto entry = decodeAuditEntry(lines[i])) {
        entries.push_back(std::move(entry.value()));
      }
    }
    return entries;
  }

  // Internals shared with the watch and registration objects.
  Result<RevisionNumber> currentNumber() {
    auto text = readFile(dir_ + "/current");
    if (!text) {
      return Error{text.error().message};
    }
    if (!text.value()) {
      return RevisionNumber{0};
    }
    const std::string& s = *text.value();
    RevisionNumber number = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
    if (ec != std::errc() || (ptr != s.data() + s.size() && *ptr != '\n')) {
      return Error{fmt::format("{}/current: not a revision number", dir_)};
    }
    return number;
  }

  const std::string& dir() const { return dir_; }
  std::string instancesDir() const { return dir_ + "/instances"; }
  const StoreOptions& options() const { return options_; }
  const TimeSource& time() const { return *time_; }

private:
  std::string revisionsDir() const { return dir_ + "/revisions"; }
  std::string auditPath() const { return dir_ + "/audit.jsonl"; }

  Result<std::optional<RevisionMeta>> readMeta(RevisionNumber number) {
    auto text = readFile(revisionsDir() + "/" + paddedNumber(number) + ".meta.json");
    if (!text) {
      return Error{text.error().message};
    }
    if (!text.value()) {
      return std::optional<RevisionMeta>();
    }
    auto meta = decodeRevisionMeta(*text.value());
    if (!meta) {
      return Error{fmt::format("revision {}: {}", number, meta.error().message)};
    }
    return std::optional<RevisionMeta>(std::move(meta.value()));
  }

  Result<std::optional<Revision>> readRevision(RevisionNumber number) {
    auto meta = readMeta(number);
    if (!meta) {
      return Error{meta.error().message};
    }
    if (!meta.value()) {
      return std::optional<Revision>();
    }
    auto config = readFile(revisionsDir() + "/" + paddedNumber(number) + ".config");
    if (!config) {
      return Error{config.error().message};
    }
    if (!config.value()) {
      return Error{fmt::format("revision {}: config file missing", number)};
    }
    Revision revision{std::move(*meta.value()), std::move(*config.value())};
    return std::optional<Revision>(std::move(revision));
  }

  std::string dir_;
  StoreOptions options_;
  RealTimeSource realTime_;
  const TimeSource* time_;
};

FileWatch::FileWatch(FileStore& store, RevisionNumber from, WatchCallback callback)
    : store_(store), last_(from), callback_(std::move(callback)),
      inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)), stop_(::eventfd(0, EFD_CLOEXEC)) {
  thread_ = std::thread([this] { run(); });
}

FileWatch::~FileWatch() {
  uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof one) < 0) {
    // Unreachable for an eventfd; the join below would then hang, so fail loudly instead.
    std::terminate();
  }
  thread_.join();
}

void FileWatch::check() {
  auto number = store_.currentNumber();
  if (!number) {
    if (healthy_) {
      healthy_ = false;
      callback_(WatchEvent{std::nullopt, false, number.error().message});
    }
    return;
  }
  if (number.value() <= last_) {
    if (!healthy_) {
      healthy_ = true;
      callback_(WatchEvent{std::nullopt, true, ""});
    }
    return;
  }
  auto revision = store_.get(number.value());
  if (!revision || !revision.value()) {
    if (healthy_) {
      healthy_ = false;
      callback_(WatchEvent{std::nullopt, false,
                           revision ? fmt::format("revision {} is missing", number.value())
                                    : revision.error().message});
    }
    return;
  }
  healthy_ = true;
  last_ = number.value();
  callback_(WatchEvent{std::move(*revision.value()), true, ""});
}

void FileWatch::run() {
  int wd = -1;
  while (true) {
    if (wd < 0 && inotify_) {
      // Re-armed after the directory was removed or replaced (IN_IGNORED).
      wd = ::inotify_add_watch(inotify_.get(), store_.dir().c_str(),
                               IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE_SELF |
                                   IN_MOVE_SELF);
    }
    check();
    struct pollfd fds[2] = {{stop_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
    // Without inotify (fd limit), the periodic re-read alone keeps the watch working.
    int timeout = static_cast<int>(
        wd >= 0 ? store_.options().reconcileInterval.count()
                : std::min<int64_t>(store_.options().reconcileInterval.count(), 200));
    int ready = ::poll(fds, inotify_ ? 2 : 1, timeout);
    if (ready < 0 && errno != EINTR) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fds[0].revents != 0) {
      return;
    }
    if (inotify_ && (fds[1].revents & POLLIN) != 0) {
      alignas(struct inotify_event) char buffer[8192];
      while (true) {
        ssize_t n = ::read(inotify_.get(), buffer, sizeof buffer);
        if (n <= 0) {
          break;
        }
        for (char* p = buffer; p < buffer + n;) {
          auto* event = reinterpret_cast<struct inotify_event*>(p);
          if ((event->mask & IN_IGNORED) != 0 && event->wd == wd) {
            wd = -1;
          }
          p += sizeof(struct inotify_event) + event->len;
        }
      }
    }
  }
}

FileRegistration::FileRegistration(FileStore& store, InstanceStatus status)
    : store_(store), status_(std::move(status)) {
  thread_ = std::thread([this] { run(); });
}

FileRegistration::~FileRegistration() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  ::unlink((store_.instancesDir() + "/" + status_.id + ".json").c_str());
}

Result<bool> FileRegistration::update(const InstanceStatus& status) {
  std::lock_guard lock(mutex_);
  if (status.id != status_.id) {
    return Error{"an instance's id cannot change"};
  }
  status_ = status;
  return write();
}

Result<bool> FileRegistration::write() {
  std::string name = status_.id + ".json";
  auto written = writeFileAtomic(store_.instancesDir(), name, toJson(status_).dump() + "\n");
  if (!written) {
    return written;
  }
  // The heartbeat is the mtime, set from the store's clock so that liveness and the clock agree.
  struct timespec times[2] = {toTimespec(store_.time().systemTime()),
                              toTimespec(store_.time().systemTime())};
  std::string path = store_.instancesDir() + "/" + name;
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    return Error{fmt::format("cannot touch {}: {}", path, errnoText(errno))};
  }
  return true;
}

void FileRegistration::run() {
  auto interval = std::max<std::chrono::milliseconds>(store_.options().instanceTtl / 3,
                                                      std::chrono::milliseconds(10));
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
    std::string path = store_.instancesDir() + "/" + status_.id + ".json";
    struct timespec times[2] = {toTimespec(store_.time().systemTime()),
                                toTimespec(store_.time().systemTime())};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
      // Pruned or removed by hand: register again rather than silently vanish.
      (void)write();
    }
  }
}

} // namespace

Result<std::unique_ptr<ConfigStore>> openFileStore(const std::string& dir,
                                                   const StoreOptions& options) {
  if (dir.empty()) {
    return Error{"file store: empty directory"};
  }
  // Create missing parents (like mkdir -p) so that `--store file://./run/store` just works.
  for (size_t slash = dir.find('/', 1); slash != std::string::npos;
       slash = dir.find('/', slash + 1)) {
    if (auto made = makeDir(dir.substr(0, slash)); !made) {
      return Error{made.error().message};
    }
  }
  auto store = std::make_unique<FileStore>(dir, options);
  if (auto ready = store->init(); !ready) {
    return Error{ready.error().message};
  }
  return std::unique_ptr<ConfigStore>(std::move(store));
}

} // namespace fulcrum::store
