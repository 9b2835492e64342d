#include "cli/app.h"

#include <exception>
#include <ostream>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/apply_command.h"
#include "cli/command.h"
#include "cli/diff_command.h"
#include "cli/error.h"
#include "cli/get_command.h"
#include "cli/history_command.h"
#include "cli/rollback_command.h"
#include "cli/status_command.h"
#include "cli/validate_command.h"

#ifndef FULCRUM_VERSION
#define FULCRUM_VERSION "dev"
#endif

namespace fulcrum::cli {
namespace {

constexpr const char* kFooter = R"(
Every verb but validate talks to fulcrum-control's REST API:
  --server URL    or FULCRUM_SERVER (default http://127.0.0.1:7070)
  --token TOKEN   or FULCRUM_TOKEN (roles: viewer reads, editor applies, admin rolls back)
  -o FORMAT       table (default), json or yaml

Exit codes:
  0  success; diff: no differences
  1  the config is invalid or a file is unreadable; diff: the config differs
  2  usage error
  3  cannot reach the server (refused, unknown host, timeout, not fulcrum-control)
  4  the server refused the request (401, 403, 404, 409, 412, 5xx)
  5  diff: the file is invalid or unreadable

Docs: docs/cli.md)";

} // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    CLI::App app("fulcrumctl: validate and manage Fulcrum load balancer configs", "fulcrumctl");
    app.require_subcommand(1);
    app.footer(kFooter);
    app.set_version_flag("--version", "fulcrumctl " FULCRUM_VERSION);
    // Each verb adds its subcommand; the one the user named runs after parsing.
    std::vector<CommandPtr> verbs;
    verbs.push_back(addValidateCommand(app));
    verbs.push_back(addGetCommand(app));
    verbs.push_back(addApplyCommand(app));
    verbs.push_back(addDiffCommand(app));
    verbs.push_back(addHistoryCommand(app));
    verbs.push_back(addRollbackCommand(app));
    verbs.push_back(addStatusCommand(app));

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int code = app.exit(e, out, err);
      return code == 0 ? kExitOk : kExitUsage;
    }
    for (auto& command : verbs) {
      if (command->subcommand()->parsed()) {
        try {
          return command->run(out, err);
        } catch (const CliError& e) {
          out.flush();
          err << "fulcrumctl: " << e.what() << '\n';
          return e.exitCode();
        }
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
