#include "cli/rollback_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/remote_command.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

class RollbackCommand : public RemoteCommand {
public:
  explicit RollbackCommand(CLI::App& app) {
    auto* sub =
        addSubcommand(app, "rollback", "Make the config of revision REV current again (admin)");
    sub->add_option("revision", revision_, "The revision to restore")
        ->required()
        ->check(CLI::PositiveNumber);
    sub->add_option("-m,--message", message_,
                    "Why: the new revision's message (default: rollback to revision REV)");
    sub->add_flag("--dry-run", dryRun_, "Show the diff; store nothing");
    addSourceOption(*sub);
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer = makeOutput(out, err);
    ApiClient api(options_);
    Json body = {{"revision", revision_}};
    if (!message_.empty()) {
      body["message"] = message_;
    }
    HttpHeaders headers = writeHeaders("");
    headers.emplace_back("Content-Type", "application/json");
    ApiReply reply =
        api.call("POST", dryRun_ ? "/rollback?dryRun=true" : "/rollback", headers, body.dump());
    if (reply.status == 422) {
      if (auto errors = problemDiagnostics(reply.json); !errors.empty()) {
        printer->printDiagnostics(errors);
        return kExitFailure;
      }
    }
    if (!reply.ok()) {
      throw api.refusal(reply);
    }
    api.requireJson(reply);
    printer->print(writeView(reply.json, fmt::format("restores revision {}", revision_)));
    return kExitOk;
  }

private:
  uint64_t revision_ = 0;
  std::string message_;
  bool dryRun_ = false;
};

} // namespace

CommandPtr addRollbackCommand(CLI::App& app) {
  return std::make_unique<RollbackCommand>(app);
}

} // namespace fulcrum::cli
