#include "cli/validate_command.h"

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/printer.h"
#include "config/loader.h"

namespace fulcrum::cli {
namespace {

class ValidateCommand : public Command {
public:
  explicit ValidateCommand(CLI::App& app) {
    auto* sub = app.add_subcommand("validate", "Check config files without applying them");
    subcommand_ = sub;
    sub->add_option("-f,--file", files_, "Config file (YAML or JSON); repeat to merge several")
        ->required()
        ->take_all();
    sub->add_option("-o,--output", format_, "Output format: text (errors on stderr) or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer =
        makePrinter(format_ == "json" ? OutputFormat::Json : OutputFormat::Table, out, err);
    config::LoadResult result = config::loadFiles(files_);
    if (!result.ok()) {
      printer->printDiagnostics(result.errors);
      return kExitFailure;
    }
    printer->printValid(*result.config, result.hash);
    return kExitOk;
  }

private:
  std::vector<std::string> files_;
  std::string format_ = "text";
};

} // namespace

CommandPtr addValidateCommand(CLI::App& app) {
  return std::make_unique<ValidateCommand>(app);
}

} // namespace fulcrum::cli
