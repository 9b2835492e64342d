#pragma once

// `fulcrumctl status`: the current revision and every registered proxy instance: the revision it
// serves, the one it refused (with the errors), its state (current, behind, refused, down), its
// admin address and last heartbeat (GET /api/v1/instances). Exit 0 whatever their state.

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addStatusCommand(CLI::App& app);

} // namespace fulcrum::cli
