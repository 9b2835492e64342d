#pragma once

// Helpers shared by the config tests: reading test data and joining diagnostics.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "config/loader.h"

namespace fulcrum::config::testing {

inline std::filesystem::path testData() {
  return std::filesystem::path(FULCRUM_TEST_DATA) / "testdata";
}

inline std::filesystem::path examples() {
  return std::filesystem::path(FULCRUM_TEST_DATA) / ".." / ".." / "examples";
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// One formatted diagnostic per line.
inline std::string formatErrors(const std::vector<Diagnostic>& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += e.format();
    out += '\n';
  }
  return out;
}

// Config files (.yaml, .yml, .json) directly in `dir`, sorted by name.
inline std::vector<std::string> configFiles(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace fulcrum::config::testing
