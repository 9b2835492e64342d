#include "proxy/tracing/trace_context.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fulcrum::tracing {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// 0..15 for a lowercase hex digit, -1 otherwise (uppercase is invalid in traceparent).
int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

bool parseHex(std::string_view text, uint8_t* out) {
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = hexValue(text[i]);
    const int lo = hexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

void putWord(uint64_t word, uint8_t* out) {
  const uint64_t big = __builtin_bswap64(word); // ids are big-endian byte strings
  std::memcpy(out, &big, 8);
}

// The two hex digits of every byte value, as they lie in memory.
struct HexPairs {
  uint16_t digits[256];
  constexpr HexPairs() : digits() {
    for (int i = 0; i < 256; ++i) {
      // Little-endian: the first digit is the low byte.
      digits[i] = static_cast<uint16_t>(static_cast<uint8_t>(kHex[i >> 4]) |
                                        static_cast<uint8_t>(kHex[i & 0xf]) << 8);
    }
  }
};
constexpr HexPairs kHexPairs;
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);

} // namespace

std::optional<TraceParent> parseTraceparent(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.size() < kTraceparentSize) {
    return std::nullopt;
  }
  TraceParent tp;
  if (!parseHex(value.substr(0, 2), &tp.version) || tp.version == 0xff) {
    return std::nullopt;
  }
  if (tp.version == 0 ? value.size() != kTraceparentSize
                      : value.size() > kTraceparentSize && value[kTraceparentSize] != '-') {
    return std::nullopt;
  }
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') {
    return std::nullopt;
  }
  if (!parseHex(value.substr(3, 32), tp.traceId.data()) ||
      !parseHex(value.substr(36, 16), tp.parentId.data()) ||
      !parseHex(value.substr(53, 2), &tp.flags)) {
    return std::nullopt;
  }
  if (isZero(tp.traceId) || isZero(tp.parentId)) {
    return std::nullopt;
  }
  return tp;
}

void writeHex(const uint8_t* bytes, size_t size, char* out) {
  size_t i = 0;
#if defined(__SSE2__)
  // 8 bytes -> 16 digits at a time: the high and low nibbles interleaved, each mapped to '0'..'9'
  // or 'a'..'f' with a compare instead of a table lookup per byte.
  const __m128i kNibble = _mm_set1_epi8(0x0f);
  const __m128i kNine = _mm_set1_epi8(9);
  const __m128i kZero = _mm_set1_epi8('0');
  const __m128i kLetterGap = _mm_set1_epi8('a' - '0' - 10);
  for (; size - i >= 8; i += 8) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + i));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(v, 4), kNibble);
    const __m128i low = _mm_and_si128(v, kNibble);
    const __m128i nibbles = _mm_unpacklo_epi8(high, low);
    const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, kNine), kLetterGap);
    const __m128i digits = _mm_add_epi8(_mm_add_epi8(nibbles, kZero), letters);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), digits);
  }
#endif
  for (; i < size; ++i) {
    std::memcpy(out + 2 * i, &kHexPairs.digits[bytes[i]], 2);
  }
}

void writeHexWords(uint64_t first, uint64_t second, char* out) {
  uint8_t bytes[16];
  std::memcpy(bytes, &first, 8);
  std::memcpy(bytes + 8, &second, 8);
  writeHex(bytes, sizeof(bytes), out);
}

void writeTraceparent(const TraceId& traceId, const SpanId& spanId, uint8_t flags, char* out) {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  writeHex(traceId.data(), traceId.size(), out + 3);
  out[35] = '-';
  writeHex(spanId.data(), spanId.size(), out + 36);
  out[52] = '-';
  out[53] = kHex[flags >> 4];
  out[54] = kHex[flags & 0xf];
}

bool isZero(const TraceId& id) {
  for (uint8_t b : id) {
    if (b != 0) {
      return false;
    }
  }
  return true;
}

bool isZero(const SpanId& id) {
  for (uint8_t b : id) {
    if (b != 0) {
      return false;
    }
  }
  return true;
}

TraceId traceIdFrom(uint64_t high, uint64_t low) {
  TraceId id{};
  putWord(high, id.data());
  putWord(low == 0 && high == 0 ? 1 : low, id.data() + 8);
  return id;
}

SpanId spanIdFrom(uint64_t word) {
  SpanId id{};
  putWord(word == 0 ? 1 : word, id.data());
  return id;
}

} // namespace fulcrum::tracing
