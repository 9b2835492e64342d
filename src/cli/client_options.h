#pragma once

// The options every verb that talks to fulcrum-control takes: where the server is, the token,
// the timeout and the output format. Each such verb adds them to its own subcommand, so they may
// follow the verb (`fulcrumctl get routes -o json --server http://h:7070`).

#include <string>

#include "cli/printer.h"

namespace CLI {
class App;
} // namespace CLI

namespace fulcrum::cli {

inline constexpr const char* kDefaultServer = "http://127.0.0.1:7070";

struct ClientOptions {
  std::string server = kDefaultServer; // --server, else $FULCRUM_SERVER
  std::string token;                   // --token, else $FULCRUM_TOKEN; empty: none sent
  std::string output = "table";        // -o table|json|yaml
  double timeoutSeconds = 30;          // --timeout: one whole HTTP exchange

  OutputFormat format() const;
};

void addClientOptions(CLI::App& subcommand, ClientOptions& options);

} // namespace fulcrum::cli
