#include "cli/apply_command.h"

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/remote_command.h"
#include "cli/submission.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

class ApplyCommand : public RemoteCommand {
public:
  explicit ApplyCommand(CLI::App& app) {
    auto* sub = addSubcommand(app, "apply", "Replace the config with FILE(s): a new revision");
    sub->add_option("-f,--file", files_,
                    "Config file (YAML or JSON; - for stdin); repeat to merge several")
        ->required()
        ->take_all();
    sub->add_flag("--dry-run", dryRun_, "Validate and show the diff; store nothing");
    sub->add_option("-m,--message", message_,
                    "Why: the revision's message (default: apply FILE...)");
    addSourceOption(*sub);
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer = makeOutput(out, err);
    auto submission = Submission::read(files_);
    if (!submission.unreadable().empty()) {
      printer->printDiagnostics(submission.unreadable());
      return kExitFailure;
    }
    ApiClient api(options_);
    HttpHeaders headers =
        writeHeaders(message_.empty() ? "apply " + submission.describe() : message_);
    headers.emplace_back("Content-Type", "application/yaml");
    headers.emplace_back("X-Fulcrum-Filename", submission.filename());
    ApiReply reply =
        api.call("PUT", dryRun_ ? "/config?dryRun=true" : "/config", headers, submission.text());
    if (reply.status == 422) {
      if (auto errors = problemDiagnostics(reply.json); !errors.empty()) {
        printer->printDiagnostics(submission.locate(std::move(errors)));
        return kExitFailure;
      }
    }
    if (!reply.ok()) {
      throw api.refusal(reply);
    }
    api.requireJson(reply);
    printer->print(writeView(reply.json, "applied"));
    return kExitOk;
  }

private:
  std::vector<std::string> files_;
  bool dryRun_ = false;
  std::string message_;
};

} // namespace

CommandPtr addApplyCommand(CLI::App& app) {
  return std::make_unique<ApplyCommand>(app);
}

} // namespace fulcrum::cli
