#include <ostream>

#include <nlohmann/json.hpp>

#include "cli/printer.h"

namespace fulcrum::cli {
namespace {

class JsonPrinter : public Printer {
public:
  explicit JsonPrinter(std::ostream& out) : out_(out) {}

  void printDiagnostics(const std::vector<config::Diagnostic>& errors) override {
    auto list = nlohmann::ordered_json::array();
    for (const auto& e : errors) {
      list.push_back({{"file", e.file},
                      {"line", e.line},
                      {"column", e.column},
                      {"path", e.path},
                      {"message", e.message}});
    }
    // Invalid UTF-8 from the user's file is replaced rather than aborting the output.
    out_ << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }

  void printValid(const config::Config&, const std::string&) override { out_ << "[]\n"; }

private:
  std::ostream& out_;
};

} // namespace

PrinterPtr makeJsonPrinter(std::ostream& out) {
  return std::make_unique<JsonPrinter>(out);
}

} // namespace fulcrum::cli
