#pragma once

// `fulcrumctl history [--limit N]`: the revisions, newest first: number, time, author, source,
// message (GET /api/v1/revisions).

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addHistoryCommand(CLI::App& app);

} // namespace fulcrum::cli
