#include "control/app.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <grpcpp/grpcpp.h>

#include "common/address.h"
#include "config/document.h"
#include "control/grpc_service.h"
#include "control/http_server.h"
#include "control/rest_api.h"
#include "control/service.h"
#include "control/tokens.h"
#include "store/config_store.h"

namespace fulcrum::control {
namespace {

bool isLoopback(const SocketAddress& address) {
  return address.ipv6 ? address.host == "::1" : address.host.rfind("127.", 0) == 0;
}

} // namespace

int runControl(int argc, char** argv) {
  CLI::App app{"fulcrum-control: the Fulcrum control plane (REST API, revisions, audit)"};
  std::string storeUrl = "file://./run/store";
  std::string listen = "127.0.0.1:7070";
  std::string tokensPath;
  std::string grpcListen;
  unsigned threads = 4;
  app.add_option("--store", storeUrl,
                 "config store: file:///DIR (one machine) or etcd://HOST:PORT[,HOST:PORT...]")
      ->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT for the REST API (port 0: the OS picks one)")
      ->capture_default_str();
  app.add_option("--grpc", grpcListen,
                 "HOST:PORT for the gRPC API (fulcrum.control.v1.ControlService); off unless "
                 "given; port 0: the OS picks one");
  app.add_option("--tokens", tokensPath,
                 "file of `TOKEN ROLE [NAME]` lines (roles viewer|editor|admin), reloaded on "
                 "change; without it, reads are anonymous and writes are refused");
  app.add_option("--threads", threads, "threads serving requests")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  auto address = parseSocketAddress(listen, /*allowZeroPort=*/true);
  if (!address) {
    std::cerr << "fulcrum-control: --listen: " << address.error().message << std::endl;
    return 2;
  }
  std::optional<SocketAddress> grpcAddress;
  if (!grpcListen.empty()) {
    auto parsed = parseSocketAddress(grpcListen, /*allowZeroPort=*/true);
    if (!parsed) {
      std::cerr << "fulcrum-control: --grpc: " << parsed.error().message << std::endl;
      return 2;
    }
    grpcAddress = parsed.value();
  }
  for (const auto* a : {&address.value(), grpcAddress ? &*grpcAddress : nullptr}) {
    if (a != nullptr && tokensPath.empty() && !isLoopback(*a)) {
      std::cerr << "fulcrum-control: refusing to serve " << a->toString()
                << " without --tokens (only loopback addresses may go without tokens)" << std::endl;
      return 2;
    }
  }
  std::unique_ptr<TokenFile> tokens;
  if (!tokensPath.empty()) {
    auto opened = TokenFile::open(tokensPath);
    if (!opened) {
      std::cerr << "fulcrum-control: --tokens: " << opened.error().message << std::endl;
      return 2;
    }
    tokens = std::move(opened.value());
  }
  auto store = store::openStore(storeUrl);
  if (!store) {
    std::cerr << "fulcrum-control: " << store.error().message << std::endl;
    return 1;
  }

  RealTimeSource time;
  ControlService service(*store.value(), time);
  RestApi api(service, tokens.get());
  boost::asio::io_context io;
  HttpServer server(
      io, [&api](const HttpRequest& request) { return api.handle(request); },
      config::kMaxDocumentBytes);
  auto bound = server.listen(address.value());
  if (!bound) {
    std::cerr << "fulcrum-control: " << bound.error().message << std::endl;
    return 1;
  }
  GrpcApi grpcApi(service, tokens.get());
  std::unique_ptr<grpc::Server> grpcServer;
  if (grpcAddress) {
    grpc::ServerBuilder builder;
    int port = 0;
    std::string host = grpcAddress->ipv6 ? "[" + grpcAddress->host + "]" : grpcAddress->host;
    builder.AddListeningPort(host + ":" + std::to_string(grpcAddress->port),
                             grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&grpcApi);
    builder.SetMaxReceiveMessageSize(static_cast<int>(config::kMaxDocumentBytes));
    grpcServer = builder.BuildAndStart();
    if (!grpcServer || port == 0) {
      std::cerr << "fulcrum-control: cannot listen on " << grpcAddress->toString() << " for gRPC"
                << std::endl;
      return 1;
    }
    grpcAddress->port = static_cast<uint16_t>(port);
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });

  // Tests and scripts wait for exactly this line to learn the port.
  std::cout << "listening on " << bound.value().toString() << std::endl;
  if (grpcAddress) {
    std::cout << "grpc listening on " << grpcAddress->toString() << std::endl;
  }
  std::cerr << "fulcrum-control: store " << store.value()->describe()
            << (tokens ? "" : "; no --tokens: anonymous reads, writes refused") << std::endl;

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) {
    pool.emplace_back([&io] { io.run(); });
  }
  io.run();
  for (auto& thread : pool) {
    thread.join();
  }
  if (grpcServer) {
    grpcServer->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  return 0;
}

} // namespace fulcrum::control
