#include "cli/client_options.h"

#include <CLI/CLI.hpp>

namespace fulcrum::cli {

OutputFormat ClientOptions::format() const {
  if (output == "json") {
    return OutputFormat::Json;
  }
  if (output == "yaml") {
    return OutputFormat::Yaml;
  }
  return OutputFormat::Table;
}

void addClientOptions(CLI::App& sub, ClientOptions& options) {
  sub.add_option("-o,--output", options.output, "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
  sub.add_option("--server", options.server, "fulcrum-control URL, http://HOST:PORT")
      ->envname("FULCRUM_SERVER")
      ->capture_default_str();
  sub.add_option("--token", options.token, "Bearer token (viewer, editor or admin)")
      ->envname("FULCRUM_TOKEN");
  sub.add_option("--timeout", options.timeoutSeconds, "Seconds to wait for the server")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
}

} // namespace fulcrum::cli
