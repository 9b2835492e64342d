#pragma once

// Response flags: why the proxy answered a request itself (or cut it short). One per request,
// kept on the request for the access log and counted per worker
// (fulcrum_proxy_responses_flagged_total{flag}). Names follow Envoy's short codes where they exist.

#include <cstdint>
#include <string_view>

namespace fulcrum::stats {

#define FULCRUM_RESPONSE_FLAGS(X)                                                                  \
  X(NoRoute, "NR", "no route matched (404)")                                                       \
  X(NoHealthyUpstream, "UH", "no eligible endpoint in the pool (503)")                             \
  X(UpstreamConnectFailure, "UF", "upstream connect failed or timed out (502)")                    \
  X(UpstreamTimeout, "UT", "upstream did not answer within the route timeout (504)")               \
  X(UpstreamReset, "UR", "upstream closed or reset the connection mid-exchange (502/truncated)")   \
  X(UpstreamProtocolError, "UPE", "upstream sent a malformed response (502)")                      \
  X(DownstreamProtocolError, "DPE", "client sent a malformed request (400/414/431/501/505)")       \
  X(DownstreamHeadTimeout, "DT", "client too slow sending the request head (408)")                 \
  X(RequestBodyTooLarge, "BTL", "request body over limits.maxRequestBodyBytes (413)")              \
  X(DownstreamReset, "DR", "client closed the connection mid-request")                             \
  X(InvalidPath, "IP", "request path cannot be normalized safely (400)")                           \
  X(UpstreamOverflow, "UO", "a pool's circuit breaker is open (503)")

enum class ResponseFlag : uint8_t {
  None,
#define FULCRUM_FLAG_ENUM(name, code, help) name,
  FULCRUM_RESPONSE_FLAGS(FULCRUM_FLAG_ENUM)
#undef FULCRUM_FLAG_ENUM
      Count,
};

inline constexpr size_t kResponseFlagCount = static_cast<size_t>(ResponseFlag::Count);

// "UF", "NR", ...; "-" for None.
std::string_view shortName(ResponseFlag flag);
// One line of help text.
std::string_view describe(ResponseFlag flag);

} // namespace fulcrum::stats
