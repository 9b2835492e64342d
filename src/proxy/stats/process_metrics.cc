#include "proxy/stats/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fulcrum::stats {

namespace {

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void addGauge(std::vector<Family>& out, const char* name, MetricType type, const char* help,
              const char* unit, double value) {
  Family f;
  f.name = name;
  f.type = type;
  f.help = help;
  f.unit = unit;
  Series s;
  s.value = value;
  f.series.push_back(std::move(s));
  out.push_back(std::move(f));
}

} // namespace

std::optional<ProcessStats> readProcessStats(const std::string& procDir,
                                             const std::string& statFile, long clockTicks,
                                             long pageSize) {
  if (clockTicks <= 0) {
    clockTicks = ::sysconf(_SC_CLK_TCK);
  }
  if (pageSize <= 0) {
    pageSize = ::sysconf(_SC_PAGESIZE);
  }
  const auto stat = readFile(procDir + "/stat");
  if (!stat) {
    return std::nullopt;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is the first after it.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(stat->substr(close + 1));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) {
    f.push_back(field);
  }
  // f[0] is field 3; field N is f[N - 3].
  if (f.size() < 22) {
    return std::nullopt;
  }
  auto field = [&f](size_t n) { return std::strtod(f[n - 3].c_str(), nullptr); };
  ProcessStats s;
  s.cpuSeconds = (field(14) + field(15)) / static_cast<double>(clockTicks);
  s.virtualBytes = field(23);
  s.residentBytes = field(24) * static_cast<double>(pageSize);
  double bootTime = 0;
  if (const auto procStat = readFile(statFile)) {
    std::istringstream lines(*procStat);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("btime ", 0) == 0) {
        bootTime = std::strtod(line.c_str() + 6, nullptr);
      }
    }
  }
  s.startTimeSeconds = bootTime + field(22) / static_cast<double>(clockTicks);
  if (DIR* dir = ::opendir((procDir + "/fd").c_str())) {
    size_t n = 0;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') {
        ++n;
      }
    }
    ::closedir(dir);
    if (procDir == "/proc/self" && n > 0) {
      --n; // the descriptor opendir itself holds
    }
    s.openFds = static_cast<double>(n);
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    s.maxFds = limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur);
  }
  return s;
}

void appendProcessFamilies(const ProcessStats& s, std::vector<Family>& out) {
  addGauge(out, "process_cpu_seconds_total", MetricType::Counter,
           "Total user and system CPU time spent in seconds", "seconds", s.cpuSeconds);
  addGauge(out, "process_resident_memory_bytes", MetricType::Gauge, "Resident memory size in bytes",
           "bytes", s.residentBytes);
  addGauge(out, "process_virtual_memory_bytes", MetricType::Gauge, "Virtual memory size in bytes",
           "bytes", s.virtualBytes);
  addGauge(out, "process_start_time_seconds", MetricType::Gauge,
           "Start time of the process since the Unix epoch in seconds", "seconds",
           s.startTimeSeconds);
  addGauge(out, "process_open_fds", MetricType::Gauge, "Number of open file descriptors", "",
           s.openFds);
  addGauge(out, "process_max_fds", MetricType::Gauge, "Maximum number of open file descriptors", "",
           s.maxFds);
}

} // namespace fulcrum::stats
