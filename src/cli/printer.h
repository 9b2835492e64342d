#pragma once

// Printers turn a verb's results into output for people (text) or programs (json). Verbs never
// format output themselves, so adding a format (table, yaml) touches printers only.

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/schema.h"

namespace fulcrum::cli {

enum class OutputFormat { Text, Json };

class Printer {
public:
  virtual ~Printer() = default;

  // A config that failed validation: every located error.
  virtual void printDiagnostics(const std::vector<config::Diagnostic>& errors) = 0;

  // A config that passed validation.
  virtual void printValid(const config::Config& config, const std::string& hash) = 0;
};

using PrinterPtr = std::unique_ptr<Printer>;

// Text: errors as `file:line:col: path: message` lines on `err`, the summary on `out`.
PrinterPtr makeTextPrinter(std::ostream& out, std::ostream& err);

// JSON: on `out`, an array of {"file","line","column","path","message"} (empty when valid).
PrinterPtr makeJsonPrinter(std::ostream& out);

PrinterPtr makePrinter(OutputFormat format, std::ostream& out, std::ostream& err);

} // namespace fulcrum::cli
