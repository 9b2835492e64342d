#include "common/address.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace fulcrum {

std::string SocketAddress::toString() const {
  return ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Result<SocketAddress> parseSocketAddress(std::string_view text, bool allowZeroPort) {
  SocketAddress out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error{fmt::format("invalid address \"{}\": expected [IPv6]:PORT", text)};
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    out.ipv6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error{fmt::format("invalid address \"{}\": expected HOST:PORT", text)};
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error{fmt::format("invalid address \"{}\": IPv6 addresses need brackets", text)};
    }
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535 ||
      (value == 0 && !allowZeroPort)) {
    return Error{fmt::format("invalid address \"{}\": port must be 1-65535", text)};
  }
  out.port = static_cast<uint16_t>(value);
  if (host == "localhost") {
    out.host = "127.0.0.1";
    return out;
  }
  std::string h(host);
  unsigned char buf[16];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, h.c_str(), buf) != 1) {
    return Error{fmt::format("invalid address \"{}\": \"{}\" is not an IP{} literal", text, h,
                             out.ipv6 ? "v6" : "v4")};
  }
  out.host = std::move(h);
  return out;
}

} // namespace fulcrum
