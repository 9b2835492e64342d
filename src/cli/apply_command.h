#pragma once

// `fulcrumctl apply -f FILE [-f FILE...] [--dry-run] [-m MSG] [--source SHA]`: replaces the whole
// config through PUT /api/v1/config, which validates it and writes a new revision (author from the
// token, source `cli` or `git:SHA`). Invalid: the server's located errors, printed as `validate`
// prints them, exit 1, nothing stored. --dry-run: the diff against the current revision, nothing
// stored.

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addApplyCommand(CLI::App& app);

} // namespace fulcrum::cli
