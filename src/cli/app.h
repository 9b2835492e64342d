#pragma once

// fulcrumctl: the command line for people and CI. One verb per file (`<verb>_command.{h,cc}`),
// each registering a CLI11 subcommand; output goes through a Printer chosen with -o.
//
// Exit codes, shared by every verb: 0 success, 1 the operation failed (e.g. the config is
// invalid), 2 usage error (unknown verb or option, missing argument).

#include <iosfwd>

namespace fulcrum::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Parses argv, runs the chosen verb and returns the process exit code. Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

} // namespace fulcrum::cli
