#include <ostream>

#include "cli/printer.h"

namespace fulcrum::cli {
namespace {

class JsonPrinter : public Printer {
public:
  explicit JsonPrinter(std::ostream& out) : out_(out) {}

  void printDiagnostics(const std::vector<config::Diagnostic>& errors) override {
    write(diagnosticsJson(errors));
  }

  void printValid(const config::Config&, const std::string&) override { out_ << "[]\n"; }

  void print(const View& view) override { write(view.data); }

private:
  void write(const Json& value) {
    // Invalid UTF-8 from the user's file is replaced rather than aborting the output.
    out_ << value.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
  }

  std::ostream& out_;
};

} // namespace

Json diagnosticsJson(const std::vector<config::Diagnostic>& errors) {
  auto list = Json::array();
  for (const auto& e : errors) {
    list.push_back({{"file", e.file},
                    {"line", e.line},
                    {"column", e.column},
                    {"path", e.path},
                    {"message", e.message}});
  }
  return list;
}

PrinterPtr makeJsonPrinter(std::ostream& out) {
  return std::make_unique<JsonPrinter>(out);
}

} // namespace fulcrum::cli
