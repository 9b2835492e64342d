#include "cli/get_command.h"

#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/error.h"
#include "cli/remote_command.h"
#include "cli/views.h"

namespace fulcrum::cli {
namespace {

class GetCommand : public RemoteCommand {
public:
  explicit GetCommand(CLI::App& app) {
    auto* sub = addSubcommand(app, "get",
                              "Show the config, a kind of resource, revisions, "
                              "proxy instances or the audit log");
    sub->add_option("kind", kind_,
                    "config, listeners, routes, pools, revisions, instances or audit")
        ->required()
        ->check(CLI::IsMember(
            {"config", "listeners", "routes", "pools", "revisions", "instances", "audit"}));
    sub->add_option("name", name_,
                    "One item: a listener, route or pool name, a revision number, an instance id");
    sub->add_option("--limit", limit_, "At most N revisions or audit entries, newest first")
        ->check(CLI::PositiveNumber);
  }

  int run(std::ostream& out, std::ostream& err) override {
    auto printer = makeOutput(out, err);
    ApiClient api(options_);
    if ((kind_ == "config" || kind_ == "audit") && !name_.empty()) {
      throw CliError(kExitUsage, fmt::format("get {} takes no NAME", kind_));
    }
    if (kind_ == "config") {
      ApiReply reply = api.get("/config");
      printer->print(configView(reply.json, reply.etag));
    } else if (kind_ == "listeners" || kind_ == "routes" || kind_ == "pools") {
      std::string path = "/" + kind_;
      if (!name_.empty()) {
        path += "/" + encodePathSegment(name_);
      }
      printer->print(resourcesView(kind_, api.get(path).json));
    } else if (kind_ == "revisions") {
      if (!name_.empty()) {
        if (name_.find_first_not_of("0123456789") != std::string::npos) {
          throw CliError(kExitUsage, fmt::format("a revision is a number, not \"{}\"", name_));
        }
        printer->print(revisionView(api.get("/revisions/" + name_).json));
      } else {
        printer->print(revisionsView(api.get("/revisions" + limitQuery()).json));
      }
    } else if (kind_ == "instances") {
      Json answer = api.get("/instances").json;
      if (!name_.empty()) {
        Json kept = Json::array();
        for (const auto& item : answer.value("items", Json::array())) {
          if (item.is_object() && item.value("id", "") == name_) {
            kept.push_back(item);
          }
        }
        if (kept.empty()) {
          throw CliError(kExitRefused, fmt::format("no instance \"{}\" is registered", name_));
        }
        answer["items"] = std::move(kept);
      }
      printer->print(instancesView(answer));
    } else {
      printer->print(auditView(api.get("/audit" + limitQuery()).json));
    }
    return kExitOk;
  }

private:
  std::string limitQuery() const { return limit_ == 0 ? "" : fmt::format("?limit={}", limit_); }

  std::string kind_;
  std::string name_;
  unsigned limit_ = 0;
};

} // namespace

CommandPtr addGetCommand(CLI::App& app) {
  return std::make_unique<GetCommand>(app);
}

} // namespace fulcrum::cli
