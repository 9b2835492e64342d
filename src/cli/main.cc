#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) {
  return fulcrum::cli::run(argc, argv, std::cout, std::cerr);
}
