#pragma once

// Parsing of `host:port` socket addresses as they appear in config and on command lines.
// IPv4 literals, bracketed IPv6 literals (`[::1]:80`) and `localhost`; no DNS (never on the
// data plane).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fulcrum {

struct SocketAddress {
  std::string host; // numeric IP literal, without brackets
  uint16_t port = 0;
  bool ipv6 = false;

  // `1.2.3.4:80` or `[::1]:80`.
  std::string toString() const;
};

// Parses `host:port`. `localhost` maps to 127.0.0.1. Port 0 is accepted only if allowZeroPort.
Result<SocketAddress> parseSocketAddress(std::string_view text, bool allowZeroPort = false);

} // namespace fulcrum
