#pragma once

// CliError: how a verb gives up. Thrown anywhere below a verb's run(), caught once in run()
// (app.cc), which prints `fulcrumctl: MESSAGE` on stderr and exits with the error's code.
// Exceptions are fine here: fulcrumctl is a one-shot command-line tool, not the data plane.

#include <stdexcept>
#include <string>

namespace fulcrum::cli {

class CliError : public std::runtime_error {
public:
  CliError(int exitCode, const std::string& message)
      : std::runtime_error(message), exitCode_(exitCode) {}

  // One of the kExit* codes of app.h.
  int exitCode() const { return exitCode_; }

private:
  int exitCode_;
};

} // namespace fulcrum::cli
