#include "cli/app.h"

#include <exception>
#include <ostream>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "cli/validate_command.h"

namespace fulcrum::cli {

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    CLI::App app("fulcrumctl: validate and manage Fulcrum load balancer configs", "fulcrumctl");
    app.require_subcommand(1);
    // Each verb adds its subcommand; the one the user named runs after parsing. Later verbs (get,
    // apply, diff, history, rollback, status) are added here the same way.
    std::vector<CommandPtr> verbs;
    verbs.push_back(addValidateCommand(app));

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int code = app.exit(e, out, err);
      return code == 0 ? kExitOk : kExitUsage;
    }
    for (auto& command : verbs) {
      if (command->subcommand()->parsed()) {
        return command->run(out, err);
      }
    }
    err << app.help();
    return kExitUsage;
  } catch (const std::exception& e) {
    err << "fulcrumctl: " << e.what() << '\n';
    return kExitFailure;
  }
}

} // namespace fulcrum::cli
