#include "cli/remote_command.h"

#include <algorithm>
#include <cctype>

#include <CLI/CLI.hpp>

namespace fulcrum::cli {

CLI::App* RemoteCommand::addSubcommand(CLI::App& app, const std::string& name,
                                       const std::string& description) {
  subcommand_ = app.add_subcommand(name, description);
  addClientOptions(*subcommand_, options_);
  return subcommand_;
}

void RemoteCommand::addSourceOption(CLI::App& sub) {
  sub.add_option("--source", source_,
                 "The git commit the config comes from (SHA or git:SHA); default: cli")
      ->transform([](const std::string& value) -> std::string {
        std::string sha = value.rfind("git:", 0) == 0 ? value.substr(4) : value;
        bool hex = std::all_of(sha.begin(), sha.end(),
                               [](unsigned char c) { return std::isxdigit(c) != 0; });
        if (!hex || sha.size() < 7 || sha.size() > 40) {
          throw CLI::ValidationError("--source", "expected a git commit: 7 to 40 hex digits, "
                                                 "optionally prefixed with git:");
        }
        return "git:" + sha;
      });
}

HttpHeaders RemoteCommand::writeHeaders(const std::string& message) const {
  HttpHeaders headers;
  headers.emplace_back("X-Fulcrum-Source", source_);
  if (!message.empty()) {
    headers.emplace_back("X-Fulcrum-Message", encodeHeaderText(message));
  }
  return headers;
}

} // namespace fulcrum::cli
