// fulcrum-echo: a small, fast HTTP/1.1 backend for demos, tests and benchmarks. See
// echo/echo_server.h for what it answers.

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/address.h"
#include "echo/echo_server.h"

int main(int argc, char** argv) {
  CLI::App app{"fulcrum-echo: a small, fast HTTP/1.1 backend for demos, tests and benchmarks"};
  fulcrum::echo::EchoOptions options;
  std::string listen = "127.0.0.1:0";
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: the OS picks one)")
      ->capture_default_str();
  app.add_option("--name", options.name, "backend name, sent in X-Backend and in bodies")
      ->capture_default_str()
      ->check([](const std::string& name) -> std::string {
        for (char c : name) {
          auto u = static_cast<unsigned char>(c);
          if (u < 0x20 || u == 0x7f) {
            return "the name must not contain control characters";
          }
        }
        return name.empty() ? "the name must not be empty" : "";
      });
  app.add_option("--threads", options.threads, "worker threads (event loops)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  auto address = fulcrum::parseSocketAddress(listen, /*allowZeroPort=*/true);
  if (!address) {
    std::cerr << "fulcrum-echo: " << address.error().message << std::endl;
    return 2;
  }
  options.listen = address.value();
  fulcrum::echo::EchoServer server(std::move(options));
  auto bound = server.listen();
  if (!bound) {
    std::cerr << "fulcrum-echo: " << bound.error().message << std::endl;
    return 1;
  }
  // Tests and scripts wait for exactly this line to learn the port.
  std::cout << "listening on " << bound.value() << std::endl;
  server.run();
  return 0;
}
