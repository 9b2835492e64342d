#pragma once

// `fulcrumctl get KIND [NAME]`, KIND one of config, listeners, routes, pools, revisions,
// instances, audit: reads from the REST API and prints a table, or the API's JSON answer as json
// or yaml. NAME picks one listener, route or pool by name, one revision by number (with its
// config text), one instance by id. --limit caps revisions and audit entries (newest first).

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addGetCommand(CLI::App& app);

} // namespace fulcrum::cli
