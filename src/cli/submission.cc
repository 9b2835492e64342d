#include "cli/submission.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

#include <fmt/format.h>

#include "config/document.h"

namespace fulcrum::cli {
namespace {

// X-Fulcrum-Filename when the real name cannot be sent (several files, or a name the header does
// not take); locate() maps it back.
constexpr std::string_view kMergedName = "<fulcrumctl>";

std::optional<std::string> readStream(std::FILE* file, std::string& problem) {
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    size_t n = std::fread(buffer, 1, sizeof buffer, file);
    text.append(buffer, n);
    if (text.size() > config::kMaxDocumentBytes) {
      problem = fmt::format("file is larger than {} MiB", config::kMaxDocumentBytes >> 20);
      return std::nullopt;
    }
    if (n < sizeof buffer) {
      if (std::ferror(file)) {
        problem = fmt::format("cannot read file: {}", std::generic_category().message(errno));
        return std::nullopt;
      }
      return text;
    }
  }
}

std::optional<std::string> readFile(const std::string& path, std::string& problem) {
  if (path == "-") {
    return readStream(stdin, problem);
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    problem = fmt::format("cannot read file: {}", std::generic_category().message(errno));
    return std::nullopt;
  }
  return readStream(file.get(), problem);
}

bool headerSafe(const std::string& name) {
  return !name.empty() && name.size() <= 256 && std::none_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

enum class Start { Content, DocumentMarker, Directive };

// How a file begins, after blank and comment lines: what must separate it from the file before.
Start startOf(std::string_view text) {
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') {
      if (line.starts_with("%")) {
        return Start::Directive;
      }
      if (line.starts_with("---") &&
          (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r')) {
        return Start::DocumentMarker;
      }
      return Start::Content;
    }
    if (newline == std::string_view::npos) {
      break;
    }
    text.remove_prefix(newline + 1);
  }
  return Start::Content;
}

} // namespace

Submission Submission::read(const std::vector<std::string>& paths) {
  Submission s;
  for (const auto& path : paths) {
    std::string display = path == "-" ? "stdin" : path;
    std::string problem;
    auto text = readFile(path, problem);
    if (!text) {
      s.unreadable_.push_back(config::Diagnostic{display, 0, 0, "", problem});
      continue;
    }
    if (!s.parts_.empty()) {
      if (!s.text_.empty() && s.text_.back() != '\n') {
        s.text_ += '\n';
      }
      switch (startOf(*text)) {
      case Start::Content:
        s.text_ += "---\n";
        break;
      case Start::Directive:
        s.text_ += "...\n"; // ends the previous document so that directives may follow
        break;
      case Start::DocumentMarker:
        break;
      }
    }
    int firstLine = static_cast<int>(std::count(s.text_.begin(), s.text_.end(), '\n')) + 1;
    s.parts_.push_back(Part{display, firstLine});
    s.text_ += *text;
  }
  s.filename_ = s.parts_.size() == 1 && headerSafe(s.parts_[0].path) ? s.parts_[0].path
                                                                     : std::string(kMergedName);
  return s;
}

std::string Submission::describe() const {
  std::string out;
  for (const auto& part : parts_) {
    out += (out.empty() ? "" : ", ") + part.path;
  }
  return out;
}

const Submission::Part& Submission::partOf(int line) const {
  auto it = std::upper_bound(parts_.begin(), parts_.end(), line,
                             [](int l, const Part& part) { return l < part.firstLine; });
  return it == parts_.begin() ? parts_.front() : *(it - 1);
}

std::string Submission::locateText(int line, int column) const {
  const Part& part = partOf(line);
  return fmt::format("{}:{}:{}", part.path, line - part.firstLine + 1, column);
}

std::vector<config::Diagnostic> Submission::locate(std::vector<config::Diagnostic> errors) const {
  if (parts_.empty()) {
    return errors;
  }
  for (auto& d : errors) {
    if (d.file == filename_) {
      if (d.line > 0) {
        const Part& part = partOf(d.line);
        d.file = part.path;
        d.line = d.line - part.firstLine + 1;
      } else {
        d.file = parts_.front().path;
      }
    }
    // Messages may cite other positions, e.g. `first defined at pools[0].name (NAME:16:11)`.
    std::string message;
    std::string_view rest = d.message;
    const std::string prefix = filename_ + ":";
    while (true) {
      size_t at = rest.find(prefix);
      if (at == std::string_view::npos) {
        message += rest;
        break;
      }
      message += rest.substr(0, at);
      std::string_view tail = rest.substr(at + prefix.size());
      int line = 0;
      int column = 0;
      int consumed = 0;
      std::string tailText(tail.substr(0, 32));
      if (std::sscanf(tailText.c_str(), "%d:%d%n", &line, &column, &consumed) == 2 && line > 0) {
        message += locateText(line, column);
        rest = tail.substr(static_cast<size_t>(consumed));
      } else {
        message += prefix;
        rest = tail;
      }
    }
    d.message = std::move(message);
  }
  return errors;
}

} // namespace fulcrum::cli
