#include "config/loader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include <fmt/format.h>
#include <xxhash.h>

#include "common/cooperative_yield.h"
#include "config/cross_checks.h"
#include "config/decoder.h"
#include "config/document.h"
#include "config/reporter.h"

namespace fulcrum::config {

std::string Diagnostic::format() const {
  std::string out = file;
  if (line > 0) {
    out += fmt::format(":{}:{}", line, column);
  }
  out += ": ";
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += message;
  return out;
}

namespace {

std::string hashHex(std::string_view text) {
  return fmt::format("{:016x}", XXH64(text.data(), text.size(), 0));
}

// One load: decodes any number of texts into one Config, then runs the cross-document checks.
class Session {
public:
  explicit Session(DecodeCache* cache = nullptr) : cache_(cache) {
    if (cache_ != nullptr) {
      cache_->beginLoad();
    }
  }

  // Never throws: whatever escapes the decoder (e.g. std::bad_alloc) becomes a diagnostic.
  void add(std::string_view text, const std::string& file) {
    try {
      decoder_.decodeText(text, file);
    } catch (const std::exception& e) {
      fail(file, fmt::format("cannot load: {}", e.what()));
    }
  }
  void fail(const std::string& file, std::string message) {
    reporter_.error(Location{file, 0, 0}, "", std::move(message));
  }

  LoadResult finish(std::string source) {
    checks_.finish();
    if (cache_ != nullptr) {
      cache_->endLoad();
    }
    LoadResult result;
    result.errors = reporter_.take();
    result.hash = hashHex(source);
    result.source = std::move(source);
    if (result.errors.empty()) {
      result.config = std::move(config_);
    }
    return result;
  }

private:
  DecodeCache* cache_;
  Reporter reporter_;
  Config config_;
  CrossChecks checks_{reporter_};
  Decoder decoder_{reporter_, checks_, config_, cache_};
};

// Reads a whole file, refusing more than the parser would accept.
std::optional<std::string> readText(const std::string& path, std::string& problem) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    problem = fmt::format("cannot read file: {}", std::system_category().message(errno));
    return std::nullopt;
  }
  std::string text;
  // Sized up front: a 10k-route file is read on every revision (the proxy's --config).
  struct stat info {};
  if (::fstat(::fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
    text.reserve(std::min(static_cast<size_t>(info.st_size), kMaxDocumentBytes) + 1);
  }
  char buffer[64 * 1024];
  while (true) {
    yieldPoint(CooperativeYield::kStride); // each piece may fault in 16 fresh pages
    size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (text.size() > kMaxDocumentBytes) {
      problem = fmt::format("file is larger than {} MiB", kMaxDocumentBytes >> 20);
      return std::nullopt;
    }
    if (n < sizeof buffer) {
      if (std::ferror(file.get())) {
        problem = fmt::format("cannot read file: {}", std::system_category().message(errno));
        return std::nullopt;
      }
      return text;
    }
  }
}

} // namespace

LoadResult loadString(std::string_view text, std::string_view file) {
  Session session;
  session.add(text, std::string(file));
  return session.finish(std::string(text));
}

LoadResult loadString(std::string_view text, std::string_view file, DecodeCache& cache) {
  Session session(&cache);
  session.add(text, std::string(file));
  return session.finish(std::string(text));
}

LoadResult loadFile(const std::string& path) {
  return loadFiles({path});
}

namespace {

LoadResult loadFilesWith(const std::vector<std::string>& paths, DecodeCache* cache) {
  Session session(cache);
  std::string source;
  if (paths.empty()) {
    session.fail("", "no config files given");
  }
  bool first = true;
  for (const auto& path : paths) {
    std::string problem;
    auto text = readText(path, problem);
    if (!text) {
      session.fail(path, std::move(problem));
      continue;
    }
    session.add(*text, path);
    // The merged source is itself one loadable YAML stream: the files as documents.
    if (!first) {
      if (!source.empty() && source.back() != '\n') {
        source += '\n';
      }
      source += "---\n";
    }
    if (source.empty()) {
      source = std::move(*text);
    } else {
      source += *text;
    }
    first = false;
  }
  return session.finish(std::move(source));
}

} // namespace

LoadResult loadFiles(const std::vector<std::string>& paths) {
  return loadFilesWith(paths, nullptr);
}

LoadResult loadFile(const std::string& path, DecodeCache& cache) {
  return loadFilesWith({path}, &cache);
}

} // namespace fulcrum::config
