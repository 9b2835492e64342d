#pragma once

// The standard process_* metrics (the names every Prometheus client library exports), read from
// /proc at scrape time on the main thread.

#include <optional>
#include <string>
#include <vector>

#include "proxy/stats/exposition.h"

namespace fulcrum::stats {

struct ProcessStats {
  double cpuSeconds = 0;       // utime + stime
  double residentBytes = 0;    // RSS
  double virtualBytes = 0;     // VSZ
  double startTimeSeconds = 0; // since the Unix epoch
  double openFds = 0;
  double maxFds = 0; // RLIMIT_NOFILE soft limit
};

// Reads `procDir` (normally "/proc/self") and `statFile` ("/proc/stat", for the boot time);
// nullopt when the stat file is missing or malformed. The clock tick and page size are
// parameters so that tests can feed fixed files.
std::optional<ProcessStats> readProcessStats(const std::string& procDir = "/proc/self",
                                             const std::string& statFile = "/proc/stat",
                                             long clockTicks = 0, long pageSize = 0);

void appendProcessFamilies(const ProcessStats& stats, std::vector<Family>& out);

} // namespace fulcrum::stats
