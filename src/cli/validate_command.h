#pragma once

// `fulcrumctl validate -f FILE [-f FILE...] [-o text|json]`: loads the files as one config with
// the same validator the proxy and the control plane use. Exit 0 when valid, 1 when not.

#include "cli/command.h"

namespace fulcrum::cli {

CommandPtr addValidateCommand(CLI::App& app);

} // namespace fulcrum::cli
