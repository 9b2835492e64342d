# Every dependency is a Debian 12 package installed by scripts/bootstrap.
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# io_uring: the workers' batched sends (src/proxy/net/io_batch.h) and bench/net.
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
if(FULCRUM_TESTS)
  find_package(GTest REQUIRED)
endif()
if(FULCRUM_BENCH)
  find_package(benchmark REQUIRED)
endif()

# llhttp ships as C sources in Debian's node-llhttp; we build it as our own static library and
# use it as the reference parser for differential fuzzing of our HTTP/1 parser.
set(LLHTTP_SRC_DIR /usr/share/llhttp CACHE PATH "llhttp C sources from node-llhttp")
set(LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH "llhttp header from node-llhttp")
add_library(llhttp STATIC ${LLHTTP_SRC_DIR}/api.c ${LLHTTP_SRC_DIR}/http.c ${LLHTTP_SRC_DIR}/llhttp.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
set_target_properties(llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)

# gRPC 1.51 + protobuf 3.21: the etcd v3 client (src/store) and the control API (api/, served by
# src/control). Stubs are generated at build time; nothing generated is checked in.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
