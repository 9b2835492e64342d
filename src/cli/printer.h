#pragma once

// Printers turn a verb's results into output for people (table) or programs (json, yaml). Verbs
// never format output themselves: they hand a printer located errors, a validation summary, or a
// View (views.h builds them from the API's answers). One printer per format, one file each:
// table_printer.cc, json_printer.cc, yaml_printer.cc.
//
// Printers write to the streams they were made with; they are used by one thread.

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "config/schema.h"

namespace fulcrum::cli {

using Json = nlohmann::ordered_json;

// Table is the format for people (`validate` calls it `text`).
enum class OutputFormat { Table, Json, Yaml };

struct Table {
  std::vector<std::string> columns;           // headers, upper case by convention
  std::vector<std::vector<std::string>> rows; // one cell per column
  std::string empty;                          // printed instead when there are no rows
};

// One piece of human output: a table, or text printed as is (a final newline is added when
// missing, so an empty text is a blank line).
struct Section {
  std::optional<Table> table;
  std::string text;
};

// A verb's result in every format: `data` is what json and yaml print (the API's answer, as a
// rule), `sections` what the table format prints, in order.
struct View {
  Json data;
  std::vector<Section> sections;

  void addText(std::string text) { sections.push_back(Section{std::nullopt, std::move(text)}); }
  void addTable(Table table) { sections.push_back(Section{std::move(table), {}}); }
};

class Printer {
public:
  virtual ~Printer() = default;

  // A config that failed validation: every located error. The table format writes them to the
  // error stream as `file:line:col: path: message` lines and a count; json and yaml write a list
  // of {file, line, column, path, message} to the output stream.
  virtual void printDiagnostics(const std::vector<config::Diagnostic>& errors) = 0;

  // A config that passed local validation (`validate`).
  virtual void printValid(const config::Config& config, const std::string& hash) = 0;

  // Any other result.
  virtual void print(const View& view) = 0;
};

using PrinterPtr = std::unique_ptr<Printer>;

// Table: aligned columns and text on `out`; located errors on `err`.
PrinterPtr makeTablePrinter(std::ostream& out, std::ostream& err);

// JSON: View::data, indented by 2; errors as an array (empty when valid).
PrinterPtr makeJsonPrinter(std::ostream& out);

// YAML: View::data as block-style YAML; errors as a list (`[]` when valid).
PrinterPtr makeYamlPrinter(std::ostream& out);

PrinterPtr makePrinter(OutputFormat format, std::ostream& out, std::ostream& err);

// Block-style YAML for a JSON value, ending in a newline. Strings that would read back as another
// type (true, 12, null, ...) or that need escaping are double-quoted; multi-line strings are
// literal blocks. Every output reads back (YAML 1.2 and 1.1 readers) as the same JSON value.
std::string formatYaml(const Json& value);

// The diagnostics as {file, line, column, path, message} objects, the shape `validate -o json`
// has always printed.
Json diagnosticsJson(const std::vector<config::Diagnostic>& errors);

} // namespace fulcrum::cli
