#pragma once

// Internal to fulcrum_http: byte classes (256-entry tables), the scanners the head parser runs
// over every byte, and the classification of the field names the codec treats specially.
// Everything here is constexpr data or pure functions; safe from any thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fulcrum::http::detail {

enum CharClass : uint8_t {
  kToken = 1 << 0,      // tchar (RFC 9110 §5.6.2)
  kTarget = 1 << 1,     // bytes allowed in a request-target: visible ASCII 0x21..0x7E
  kFieldValue = 1 << 2, // field-vchar / SP / HTAB: 0x09, 0x20..0x7E, 0x80..0xFF
  kHost = 1 << 3,       // uri-host [":" port]: unreserved, pct-encoded, sub-delims, ":[]"
  kHex = 1 << 4,
  kDigit = 1 << 5,
  kQdText = 1 << 6, // qdtext (RFC 9110 §5.6.4): HTAB, SP, 0x21, 0x23..0x5B, 0x5D..0x7E, obs-text
};

constexpr bool isAlpha(unsigned c) {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
constexpr bool isDigitChar(unsigned c) {
  return c >= '0' && c <= '9';
}

constexpr std::array<uint8_t, 256> makeCharTable() {
  std::array<uint8_t, 256> t{};
  constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
  constexpr std::string_view kHostPunct = "-._~%!$&'()*+,;=:[]";
  for (unsigned c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alnum = isAlpha(c) || isDigitChar(c);
    if (alnum ||
        (c != 0 && c < 0x80 && kTokenPunct.find(static_cast<char>(c)) != kTokenPunct.npos)) {
      v |= kToken;
    }
    if (c >= 0x21 && c <= 0x7E) {
      v |= kTarget;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7F)) {
      v |= kFieldValue;
    }
    if (alnum || (c != 0 && c < 0x80 && kHostPunct.find(static_cast<char>(c)) != kHostPunct.npos)) {
      v |= kHost;
    }
    if (isDigitChar(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')) {
      v |= kHex;
    }
    if (isDigitChar(c)) {
      v |= kDigit;
    }
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
        (c >= 0x5D && c <= 0x7E) || c >= 0x80) {
      v |= kQdText;
    }
    t[c] = v;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kChars = makeCharTable();

constexpr std::array<uint8_t, 256> makeLowerTable() {
  std::array<uint8_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kLower = makeLowerTable();

inline bool is(char c, CharClass cls) {
  return (kChars[static_cast<uint8_t>(c)] & cls) != 0;
}

// First byte in [p, end) that is not a tchar.
inline const char* skipToken(const char* p, const char* end) {
#if defined(__SSE2__)
  // Fast path for the usual name bytes (letters, digits, '-'), 16 at a time; the table decides
  // from the first other byte on (rare tchars like '_', or the end of the token).
  const __m128i kCase = _mm_set1_epi8(0x20);
  const __m128i kBeforeA = _mm_set1_epi8('a' - 1);
  const __m128i kAfterZ = _mm_set1_epi8('z' + 1);
  const __m128i kBefore0 = _mm_set1_epi8('0' - 1);
  const __m128i kAfter9 = _mm_set1_epi8('9' + 1);
  const __m128i kDash = _mm_set1_epi8('-');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i folded = _mm_or_si128(v, kCase);
    // Signed compares: bytes >= 0x80 are negative and fall outside every range.
    const __m128i letter =
        _mm_and_si128(_mm_cmpgt_epi8(folded, kBeforeA), _mm_cmplt_epi8(folded, kAfterZ));
    const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, kBefore0), _mm_cmplt_epi8(v, kAfter9));
    const __m128i good = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, kDash));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(good)) ^ 0xFFFFu;
    if (mask != 0) {
      p += __builtin_ctz(mask);
      if (!is(*p, kToken)) {
        return p;
      }
      ++p; // a rarer tchar: continue
      continue;
    }
    p += 16;
  }
#endif
  while (end - p >= 4) {
    if (!is(p[0], kToken)) {
      return p;
    }
    if (!is(p[1], kToken)) {
      return p + 1;
    }
    if (!is(p[2], kToken)) {
      return p + 2;
    }
    if (!is(p[3], kToken)) {
      return p + 3;
    }
    p += 4;
  }
  while (p < end && is(*p, kToken)) {
    ++p;
  }
  return p;
}

// First byte in [p, end) outside 0x21..0x7E (end if none): where a request-target stops.
inline const char* scanTarget(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i k7f = _mm_set1_epi8(0x7F);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_cmpeq_epi8(_mm_max_epu8(v, k20), k20);  // v <= 0x20
    const __m128i high = _mm_cmpeq_epi8(_mm_min_epu8(v, k7f), k7f); // v >= 0x7F
    const int mask = _mm_movemask_epi8(_mm_or_si128(low, high));
    if (mask != 0) {
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    }
    p += 16;
  }
#endif
  while (p < end && is(*p, kTarget)) {
    ++p;
  }
  return p;
}

// First byte in [p, end) that is a CTL (0x00..0x1F, HTAB included) or DEL (end if none): where a
// field value, a reason phrase or a line stops or needs a closer look.
inline const char* scanFieldContent(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k1f = _mm_set1_epi8(0x1F);
  const __m128i k7f = _mm_set1_epi8(0x7F);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, k1f), k1f); // v <= 0x1F
    const __m128i del = _mm_cmpeq_epi8(v, k7f);
    const int mask = _mm_movemask_epi8(_mm_or_si128(ctl, del));
    if (mask != 0) {
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    }
    p += 16;
  }
#endif
  while (p < end) {
    const auto c = static_cast<uint8_t>(*p);
    if (c < 0x20 || c == 0x7F) {
      return p;
    }
    ++p;
  }
  return p;
}

// ASCII case-insensitive equality of `s` with `lower`, a literal in lower case.
inline bool equalsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (kLower[static_cast<uint8_t>(s[i])] != static_cast<uint8_t>(lower[i])) {
      return false;
    }
  }
  return true;
}

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Case-insensitive equality of a field name with `lower`, a literal of lower-case letters and
// '-', word by word: OR-ing 0x20 maps exactly the two cases of a letter onto the lower one, and
// only '-' and CR onto '-', so `name` must not hold a CR (field names are tokens).
template <size_t N> inline bool nameIs(std::string_view name, const char (&lower)[N]) {
  constexpr size_t n = N - 1;
  if (name.size() != n) {
    return false;
  }
  const char* p = name.data();
  if constexpr (n >= 8) {
    constexpr uint64_t kCase = 0x2020202020202020ull;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      if ((load64(p + i) | kCase) != load64(lower + i)) {
        return false;
      }
    }
    if constexpr (n % 8 != 0) {
      return (load64(p + n - 8) | kCase) == load64(lower + n - 8);
    }
    return true;
  } else if constexpr (n >= 4) {
    constexpr uint32_t kCase = 0x20202020u;
    return (load32(p) | kCase) == load32(lower) &&
           (load32(p + n - 4) | kCase) == load32(lower + n - 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      if ((static_cast<uint8_t>(p[i]) | 0x20) != static_cast<uint8_t>(lower[i])) {
        return false;
      }
    }
    return true;
  }
}

// The field names the codec handles itself.
enum class FieldKind : uint8_t {
  Other,
  Host,
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
  Te,
  Trailer,
  Upgrade,
  ProxyConnection,
  Expect,
  XForwardedFor,
  XForwardedProto,
  XRequestId,
};

// `name` must not hold a CR (see nameIs): parsed names are tokens, configured ones validated.
[[gnu::always_inline]] inline FieldKind classifyField(std::string_view name) {
  switch (name.size()) {
  case 2:
    return nameIs(name, "te") ? FieldKind::Te : FieldKind::Other;
  case 4:
    return nameIs(name, "host") ? FieldKind::Host : FieldKind::Other;
  case 6:
    return nameIs(name, "expect") ? FieldKind::Expect : FieldKind::Other;
  case 7:
    if (nameIs(name, "upgrade")) {
      return FieldKind::Upgrade;
    }
    return nameIs(name, "trailer") ? FieldKind::Trailer : FieldKind::Other;
  case 10:
    if (nameIs(name, "connection")) {
      return FieldKind::Connection;
    }
    return nameIs(name, "keep-alive") ? FieldKind::KeepAlive : FieldKind::Other;
  case 12:
    return nameIs(name, "x-request-id") ? FieldKind::XRequestId : FieldKind::Other;
  case 14:
    return nameIs(name, "content-length") ? FieldKind::ContentLength : FieldKind::Other;
  case 15:
    return nameIs(name, "x-forwarded-for") ? FieldKind::XForwardedFor : FieldKind::Other;
  case 16:
    return nameIs(name, "proxy-connection") ? FieldKind::ProxyConnection : FieldKind::Other;
  case 17:
    if (nameIs(name, "transfer-encoding")) {
      return FieldKind::TransferEncoding;
    }
    return nameIs(name, "x-forwarded-proto") ? FieldKind::XForwardedProto : FieldKind::Other;
  default:
    return FieldKind::Other;
  }
}

// Hop-by-hop by name alone (RFC 9110 §7.6.1), not counting fields listed in Connection.
constexpr bool isStaticHopByHop(FieldKind kind) {
  switch (kind) {
  case FieldKind::Connection:
  case FieldKind::KeepAlive:
  case FieldKind::Te:
  case FieldKind::Trailer:
  case FieldKind::TransferEncoding:
  case FieldKind::Upgrade:
  case FieldKind::ProxyConnection:
    return true;
  default:
    return false;
  }
}

inline bool isOws(char c) {
  return c == ' ' || c == '\t';
}

// Calls fn(element) for each non-empty element of a comma-separated list with OWS around the
// elements trimmed; returns false as soon as fn does. Reports empty elements as empty views
// when kWithEmpty is set (callers that reject them).
template <bool kWithEmpty = false, class Fn>
bool forEachListElement(std::string_view list, Fn&& fn) {
  size_t i = 0;
  const size_t n = list.size();
  while (i <= n) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) {
      j = n;
    }
    size_t a = i;
    size_t b = j;
    while (a < b && isOws(list[a])) {
      ++a;
    }
    while (b > a && isOws(list[b - 1])) {
      --b;
    }
    if (b > a || kWithEmpty) {
      if (!fn(list.substr(a, b - a))) {
        return false;
      }
    }
    i = j + 1;
  }
  return true;
}

} // namespace fulcrum::http::detail
