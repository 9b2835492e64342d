#include "cli/status_command.h"

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/remote_command.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

class StatusCommand : public RemoteCommand {
public:
  explicit StatusCommand(CLI::App& app) {
    addSubcommand(app, "status", "Show each proxy instance and the revision it runs");
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer = makeOutput(out, err);
    ApiClient api(options_);
    printer->print(instancesView(api.get("/instances").json));
    return kExitOk;
  }
};

} // namespace

CommandPtr addStatusCommand(CLI::App& app) {
  return std::make_unique<StatusCommand>(app);
}

} // namespace fulcrum::cli
