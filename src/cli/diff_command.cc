#include "cli/diff_command.h"

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/remote_command.h"
#include "cli/submission.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

// The server names the submitted side `request`; name it after the files.
void nameNewSide(Json& answer, const std::string& name) {
  auto it = answer.find("diff");
  if (it == answer.end() || !it->is_string()) {
    return;
  }
  std::string diff = it->get<std::string>();
  size_t at = diff.rfind("\n+++ request\n", 0) == 0 ? 0 : diff.find("\n+++ request\n");
  if (at == std::string::npos) {
    return;
  }
  diff.replace(at + 1, std::string("+++ request").size(), "+++ " + name);
  *it = diff;
}

class DiffCommand : public RemoteCommand {
public:
  explicit DiffCommand(CLI::App& app) {
    auto* sub =
        addSubcommand(app, "diff", "Show what applying FILE(s) would change (exit 1 if anything)");
    sub->add_option("-f,--file", files_,
                    "Config file (YAML or JSON; - for stdin); repeat to merge several")
        ->required()
        ->take_all();
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer = makeOutput(out, err);
    auto submission = Submission::read(files_);
    if (!submission.unreadable().empty()) {
      printer->printDiagnostics(submission.unreadable());
      return kExitDiffInvalid;
    }
    ApiClient api(options_);
    HttpHeaders headers = {{"Content-Type", "application/yaml"},
                           {"X-Fulcrum-Filename", submission.filename()}};
    ApiReply reply = api.call("POST", "/validate", headers, submission.text());
    if (reply.status == 422) {
      if (auto errors = problemDiagnostics(reply.json); !errors.empty()) {
        printer->printDiagnostics(submission.locate(std::move(errors)));
        return kExitDiffInvalid;
      }
    }
    if (!reply.ok()) {
      throw api.refusal(reply);
    }
    api.requireJson(reply);
    nameNewSide(reply.json, submission.describe());
    View view = diffView(reply.json);
    printer->print(view);
    auto diff = reply.json.find("diff");
    bool same = diff == reply.json.end() || !diff->is_string() || diff->get<std::string>().empty();
    return same ? kExitOk : kExitDifferent;
  }

private:
  std::vector<std::string> files_;
};

} // namespace

CommandPtr addDiffCommand(CLI::App& app) {
  return std::make_unique<DiffCommand>(app);
}

} // namespace fulcrum::cli
