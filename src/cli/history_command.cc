#include "cli/history_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/remote_command.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

class HistoryCommand : public RemoteCommand {
public:
  explicit HistoryCommand(CLI::App& app) {
    auto* sub = addSubcommand(app, "history", "List the config revisions, newest first");
    sub->add_option("--limit", limit_, "At most N revisions")->check(CLI::PositiveNumber);
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer = makeOutput(out, err);
    ApiClient api(options_);
    std::string query = limit_ == 0 ? "" : fmt::format("?limit={}", limit_);
    printer->print(revisionsView(api.get("/revisions" + query).json));
    return kExitOk;
  }

private:
  unsigned limit_ = 0;
};

} // namespace

CommandPtr addHistoryCommand(CLI::App& app) {
  return std::make_unique<HistoryCommand>(app);
}

} // namespace fulcrum::cli
