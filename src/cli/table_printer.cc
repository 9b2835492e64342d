#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "cli/printer.h"

namespace fulcrum::cli {
namespace {

// Cells are one line: control characters (newlines, tabs, escapes) become spaces, so a message
// from the server can neither break the table nor drive the terminal.
std::string cell(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = ' ';
    }
  }
  return out;
}

// Display width in code points (UTF-8 continuation bytes do not count).
size_t width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void printTable(std::ostream& out, const Table& table) {
  if (table.rows.empty() && !table.empty.empty()) {
    out << table.empty << '\n';
    return;
  }
  std::vector<std::vector<std::string>> lines;
  lines.push_back(table.columns);
  for (const auto& row : table.rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < table.columns.size(); ++i) {
      line.push_back(i < row.size() ? cell(row[i]) : "");
    }
    lines.push_back(std::move(line));
  }
  std::vector<size_t> widths(table.columns.size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) {
      widths[i] = std::max(widths[i], width(line[i]));
    }
  }
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) {
        text.append(widths[i] - width(line[i]) + 2, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out << text << '\n';
  }
}

class TablePrinter : public Printer {
public:
  TablePrinter(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  void printDiagnostics(const std::vector<config::Diagnostic>& errors) override {
    for (const auto& e : errors) {
      err_ << e.format() << '\n';
    }
    err_ << fmt::format("{} error{}\n", errors.size(), errors.size() == 1 ? "" : "s");
  }

  void printValid(const config::Config& config, const std::string&) override {
    out_ << fmt::format("valid: {} listeners, {} routes, {} pools\n", config.listeners.size(),
                        config.routes.size(), config.pools.size());
  }

  void print(const View& view) override {
    for (const auto& section : view.sections) {
      if (section.table) {
        printTable(out_, *section.table);
        continue;
      }
      out_ << section.text;
      if (section.text.empty() || section.text.back() != '\n') {
        out_ << '\n';
      }
    }
  }

private:
  std::ostream& out_;
  std::ostream& err_;
};

} // namespace

PrinterPtr makeTablePrinter(std::ostream& out, std::ostream& err) {
  return std::make_unique<TablePrinter>(out, err);
}

PrinterPtr makePrinter(OutputFormat format, std::ostream& out, std::ostream& err) {
  switch (format) {
  case OutputFormat::Json:
    return makeJsonPrinter(out);
  case OutputFormat::Yaml:
    return makeYamlPrinter(out);
  case OutputFormat::Table:
    break;
  }
  return makeTablePrinter(out, err);
}

} // namespace fulcrum::cli
