#pragma once

// fulcrumctl: the command line for people and CI. One verb per file (`<verb>_command.{h,cc}`),
// each registering a CLI11 subcommand; output goes through a Printer chosen with -o (one printer
// per format: table_printer.cc, json_printer.cc, yaml_printer.cc). Every verb but `validate`
// talks to fulcrum-control's REST API (api_client.h), never to the config store.
//
// Exit codes, shared by every verb (docs/cli.md, `fulcrumctl --help`):
//   0  success; `diff`: no differences
//   1  the config is invalid (validate, apply, rollback) or a file is unreadable;
//      `diff`: the config differs from the current revision
//   2  usage error (unknown verb or option, missing or malformed argument)
//   3  cannot reach the server (refused, unresolvable, timed out, not an HTTP/JSON answer)
//   4  the server refused the request (401, 403, 404, 409, 412, other 4xx, 5xx)
//   5  `diff` only: the file is invalid or unreadable (1 already means "differs")

#include <iosfwd>

namespace fulcrum::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitDifferent = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitRefused = 4;
inline constexpr int kExitDiffInvalid = 5;

// Parses argv, runs the chosen verb and returns the process exit code. Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

} // namespace fulcrum::cli
