#pragma once

// RemoteCommand: the base of every verb that talks to fulcrum-control. It owns the client options
// (--server, --token, --timeout, -o) and makes the printer and the API client from them.

#include <memory>
#include <string>

#include "cli/api_client.h"
#include "cli/client_options.h"
#include "cli/command.h"
#include "cli/printer.h"

namespace fulcrum::cli {

class RemoteCommand : public Command {
protected:
  // Adds the verb's subcommand with the client options; returns it (also in subcommand_).
  CLI::App* addSubcommand(CLI::App& app, const std::string& name, const std::string& description);

  // `--source SHA|git:SHA`: the revision's source becomes `git:SHA` instead of `cli`.
  void addSourceOption(CLI::App& sub);

  PrinterPtr makeOutput(std::ostream& out, std::ostream& err) const {
    return makePrinter(options_.format(), out, err);
  }

  // X-Fulcrum-Source, and X-Fulcrum-Message when `message` is not empty.
  HttpHeaders writeHeaders(const std::string& message) const;

  ClientOptions options_;
  std::string source_ = "cli";
};

} // namespace fulcrum::cli
