#pragma once

// `fulcrumctl diff -f FILE [-f FILE...]`: what applying FILE would change, as a unified diff of
// the normalized documents (the current revision -> FILE), computed by the server (POST
// /api/v1/validate, which writes nothing and needs only the viewer role). Exit 0 when they are
// the same (comments and spelling aside), 1 when they differ, 5 when FILE is invalid or
// unreadable (located errors as `validate` prints them), 3/4 as every verb.

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addDiffCommand(CLI::App& app);

} // namespace fulcrum::cli
