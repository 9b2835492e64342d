#include "config/reporter.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

namespace fulcrum::config {

std::string Place::describe() const {
  if (location.line == 0) {
    return fmt::format("{} ({})", path, location.file);
  }
  return fmt::format("{} ({}:{}:{})", path, location.file, location.line, location.column);
}

void Reporter::beginFile(const std::string& file) {
  fileOrder(file);
}

size_t Reporter::fileOrder(const std::string& file) {
  auto [it, inserted] = files_.try_emplace(file, files_.size());
  return it->second;
}

void Reporter::error(const Location& at, std::string path, std::string message) {
  Entry entry{fileOrder(at.file), entries_.size(),
              Diagnostic{at.file, at.line, at.column, std::move(path), std::move(message)}};
  entries_.push_back(std::move(entry));
}

std::vector<Diagnostic> Reporter::take() {
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.fileOrder, a.diagnostic.line, a.diagnostic.column, a.sequence) <
           std::tie(b.fileOrder, b.diagnostic.line, b.diagnostic.column, b.sequence);
  });
  std::vector<Diagnostic> out;
  out.reserve(entries_.size());
  for (auto& e : entries_) {
    out.push_back(std::move(e.diagnostic));
  }
  entries_.clear();
  return out;
}

} // namespace fulcrum::config
