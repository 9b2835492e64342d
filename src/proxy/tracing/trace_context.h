#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing and writing `traceparent`.
//
//   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
//   version 2 lowercase hex (ff is invalid), trace-id 32, parent-id 16, trace-flags 2; ids are
//   lowercase hex and not all zero. Version 00 is exactly 55 characters; a higher version may
//   carry more after a '-' at offset 55 (ignored, the first four fields are read as for 00).
//
// The proxy's hop (docs/observability.md): a valid incoming traceparent keeps its trace id and
// sampled flag and gets a new span id for the proxy's server span, which goes upstream as the
// parent-id; tracestate is passed on unchanged. An absent, repeated or invalid traceparent starts
// a new trace (and any tracestate is dropped).
//
// Thread-safety: pure functions.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fulcrum::tracing {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

inline constexpr uint8_t kFlagSampled = 0x01;

struct TraceParent {
  uint8_t version = 0;
  TraceId traceId{};
  SpanId parentId{};
  uint8_t flags = 0;
  bool sampled() const { return (flags & kFlagSampled) != 0; }
};

// The parsed value, or nullopt when it is invalid. Leading and trailing spaces/tabs are ignored.
std::optional<TraceParent> parseTraceparent(std::string_view value);

inline constexpr size_t kTraceparentSize = 55;

// Writes "00-<trace-id>-<span-id>-<flags>" (exactly kTraceparentSize characters) to `out`.
void writeTraceparent(const TraceId& traceId, const SpanId& spanId, uint8_t flags, char* out);

// Lowercase hex of `size` bytes (2 * size characters, high nibble first) into `out`.
void writeHex(const uint8_t* bytes, size_t size, char* out);

// 32 lowercase hex characters of two words' bytes as they lie in memory (little-endian), into
// `out`: a random request ID from two random words, without a digit loop.
void writeHexWords(uint64_t first, uint64_t second, char* out);

bool isZero(const TraceId& id);
bool isZero(const SpanId& id);

// Ids from 64-bit random words (never all zero).
TraceId traceIdFrom(uint64_t high, uint64_t low);
SpanId spanIdFrom(uint64_t word);

} // namespace fulcrum::tracing
