// CPU per config revision, the way fulcrum-proxy's main thread spends it (Server::apply):
// config::loadFile, snapshot::compileSnapshot with stable stats slots, then the previous snapshot
// is released. Cycles through the files given, `--rounds` times; each is first copied to one
// path (bench_revision.json in the first file's directory), as a config file rewritten in place
// by its owner is seen by the proxy, and loaded from there. Prints the process CPU
// (utime + stime) per revision. For a load-independent count, run it under callgrind collecting
// only the measured revisions, and divide the instructions (Ir) by the revisions printed:
//
//   build/release/bench/bench_revision --rounds 5 a.json b.json
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measuredRevision*'
//       build/release/bench/bench_revision --rounds 1 a.json b.json       (one command line)
//
// `--no-cache` loads every revision from scratch (no config::DecodeCache).
// `--warm` revisions are applied first, outside the measurement (the first revision of a run
// assigns every stats slot and has no previous revision).

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "config/decode_cache.h"
#include "config/loader.h"
#include "proxy/snapshot/snapshot.h"

namespace fulcrum {
namespace {

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct State {
  stats::StatsSlots slots;
  snapshot::SnapshotConstSharedPtr current;
  uint64_t generation = 0;
  config::DecodeCache cache; // as FileConfigSource: unchanged routes are reused
  bool useCache = true;
};

// One revision: load, compile, publish (replace `current`, freeing the previous snapshot).
[[gnu::noinline]] void applyRevision(const std::string& file, State& state) {
  config::LoadResult loaded =
      state.useCache ? config::loadFile(file, state.cache) : config::loadFile(file);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.errors.front().format().c_str());
    std::exit(1);
  }
  snapshot::CompileInput input;
  input.config = std::move(*loaded.config);
  input.file = file;
  input.hash = loaded.hash;
  input.source = std::move(loaded.source);
  input.generation = ++state.generation;
  input.previous = state.current; // as Server::apply
  auto compiled = snapshot::compileSnapshot(std::move(input), state.slots);
  if (!compiled) {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), compiled.error().message.c_str());
    std::exit(1);
  }
  state.current = std::move(compiled.value());
}

// The measured revisions (callgrind: --toggle-collect='*measuredRevision*'); warm-up ones call
// applyRevision directly.
[[gnu::noinline]] void measuredRevision(const std::string& file, State& state) {
  applyRevision(file, state);
}

} // namespace
} // namespace fulcrum

int main(int argc, char** argv) {
  int rounds = 3;
  int warm = 1;
  bool useCache = true;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (arg == "--no-cache") {
      useCache = false;
    } else if (arg == "--warm" && i + 1 < argc) {
      warm = std::atoi(argv[++i]);
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_revision [--rounds N] [--warm N] [--no-cache] FILE...\n");
    return 2;
  }
  fulcrum::State state;
  state.useCache = useCache;
  const std::string target =
      (std::filesystem::path(files.front()).parent_path() / "bench_revision.json").string();
  auto next = [&](const std::string& file, bool measured) {
    std::filesystem::copy_file(file, target, std::filesystem::copy_options::overwrite_existing);
    if (measured) {
      fulcrum::measuredRevision(target, state);
    } else {
      fulcrum::applyRevision(target, state);
    }
  };
  for (int i = 0; i < warm; ++i) {
    next(files[static_cast<size_t>(i) % files.size()], false);
  }
  const double start = fulcrum::cpuSeconds();
  int revisions = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& file : files) {
      next(file, true);
      ++revisions;
    }
  }
  const double spent = fulcrum::cpuSeconds() - start;
  std::printf("revisions %d cpu_ms_per_revision %.1f (last load: %zu routes reused, %zu decoded)\n",
              revisions, spent * 1e3 / revisions, state.cache.reused(), state.cache.decoded());
  return 0;
}
