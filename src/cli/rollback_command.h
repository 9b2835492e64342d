#pragma once

// `fulcrumctl rollback REV [-m MSG] [--dry-run]`: a new revision with the text of revision REV
// (POST /api/v1/rollback; the admin role). Prints the new revision; a config that no longer
// validates is refused with located errors (exit 1).

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addRollbackCommand(CLI::App& app);

} // namespace fulcrum::cli
