// Fuzzes tracing::parseTraceparent over arbitrary bytes, asserting the spec's invariants rather
// than just "no crash":
//  - an accepted value (after trimming spaces/tabs) is at least 55 bytes, exactly 55 for version
//    00, never version ff, has '-' at 2, 35 and 52, lowercase hex fields and non-zero ids;
//  - writing the parsed ids back (version 00) gives the value's fields byte for byte, and that
//    text parses again to the same ids and flags.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/tracing/trace_context.h"

namespace fulcrum::tracing {
namespace {

#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void check(std::string_view input) {
  const auto parsed = parseTraceparent(input);
  if (!parsed) {
    return;
  }
  std::string_view v = input;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  FUZZ_CHECK(v.size() >= kTraceparentSize);
  FUZZ_CHECK(parsed->version != 0xff);
  if (parsed->version == 0) {
    FUZZ_CHECK(v.size() == kTraceparentSize);
  } else if (v.size() > kTraceparentSize) {
    FUZZ_CHECK(v[kTraceparentSize] == '-');
  }
  FUZZ_CHECK(v[2] == '-' && v[35] == '-' && v[52] == '-');
  for (size_t i = 0; i < kTraceparentSize; ++i) {
    if (i != 2 && i != 35 && i != 52) {
      FUZZ_CHECK(isLowerHex(v[i]));
    }
  }
  FUZZ_CHECK(!isZero(parsed->traceId));
  FUZZ_CHECK(!isZero(parsed->parentId));

  char out[kTraceparentSize];
  writeTraceparent(parsed->traceId, parsed->parentId, parsed->flags, out);
  const std::string_view written(out, sizeof(out));
  FUZZ_CHECK(written.substr(2) == v.substr(2, kTraceparentSize - 2));
  const auto again = parseTraceparent(written);
  FUZZ_CHECK(again);
  FUZZ_CHECK(again->version == 0);
  FUZZ_CHECK(again->traceId == parsed->traceId);
  FUZZ_CHECK(again->parentId == parsed->parentId);
  FUZZ_CHECK(again->flags == parsed->flags);
}

} // namespace
} // namespace fulcrum::tracing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fulcrum::tracing::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
