#pragma once

// The config files given to `apply` and `diff` (-f FILE, repeatable; `-` is stdin), as the one
// document the REST API takes. One file is sent as is; several are sent as one YAML stream (each
// file a document, which the loader merges exactly as `validate -f a -f b` does). The server's
// diagnostics are located in what was sent; locate() maps them back to the user's files and lines,
// so they print exactly as `validate` prints them.

#include <string>
#include <vector>

#include "config/loader.h"

namespace fulcrum::cli {

class Submission {
public:
  // Reads every file. Unreadable ones are reported in unreadable() (`FILE: cannot read file:
  // REASON`, line 0, as `validate` reports them), the others still read.
  static Submission read(const std::vector<std::string>& paths);

  const std::string& text() const { return text_; }

  // The name to send as X-Fulcrum-Filename.
  const std::string& filename() const { return filename_; }

  const std::vector<config::Diagnostic>& unreadable() const { return unreadable_; }

  // The files' names, for messages: `a.yaml, b.yaml`.
  std::string describe() const;

  // Diagnostics located in text() (as the server reports them), located in the user's files.
  std::vector<config::Diagnostic> locate(std::vector<config::Diagnostic> errors) const;

private:
  struct Part {
    std::string path; // as the user gave it; "stdin" for `-`
    int firstLine;    // 1-based line of the part's first line in text_
  };

  // `file:line:col` of a position in text_, mapped back.
  std::string locateText(int line, int column) const;
  const Part& partOf(int line) const;

  std::string text_;
  std::string filename_;
  std::vector<Part> parts_;
  std::vector<config::Diagnostic> unreadable_;
};

} // namespace fulcrum::cli
