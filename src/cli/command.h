#pragma once

// The interface every fulcrumctl verb implements. A verb's factory adds its subcommand (with its
// options bound to the command's fields) to the app; after parsing, the selected verb runs.

#include <iosfwd>
#include <memory>

namespace CLI {
class App;
} // namespace CLI

namespace fulcrum::cli {

class Command {
public:
  virtual ~Command() = default;

  // Runs the verb with its parsed options; returns the exit code (see app.h).
  virtual int run(std::ostream& out, std::ostream& err) = 0;

  // The verb's subcommand in the app (owned by the app).
  CLI::App* subcommand() const { return subcommand_; }

protected:
  CLI::App* subcommand_ = nullptr;
};

using CommandPtr = std::unique_ptr<Command>;

} // namespace fulcrum::cli
