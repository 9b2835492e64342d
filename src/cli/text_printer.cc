#include <ostream>

#include <fmt/format.h>

#include "cli/printer.h"

namespace fulcrum::cli {
namespace {

class TextPrinter : public Printer {
public:
  TextPrinter(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

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

private:
  std::ostream& out_;
  std::ostream& err_;
};

} // namespace

PrinterPtr makeTextPrinter(std::ostream& out, std::ostream& err) {
  return std::make_unique<TextPrinter>(out, err);
}

PrinterPtr makePrinter(OutputFormat format, std::ostream& out, std::ostream& err) {
  switch (format) {
  case OutputFormat::Json:
    return makeJsonPrinter(out);
  case OutputFormat::Text:
    break;
  }
  return makeTextPrinter(out, err);
}

} // namespace fulcrum::cli
