#pragma once

// fulcrum-control's entry point: flags, wiring, serving until SIGINT/SIGTERM. main.cc calls only
// this.

namespace fulcrum::control {

int runControl(int argc, char** argv);

} // namespace fulcrum::control
