// fulcrum-control: the control plane. See control/app.h and docs/control-api.md.

#include "control/app.h"

int main(int argc, char** argv) {
  return fulcrum::control::runControl(argc, argv);
}
