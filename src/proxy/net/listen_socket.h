#pragma once

// Listening sockets for the workers' SO_REUSEPORT groups.
//
// The main thread opens one socket per worker and listener (so that a port 0 in the config is
// resolved once, by the first bind, and every worker joins the same port) and hands each file
// descriptor to its worker, which wraps it in an acceptor on its own io_context. The kernel then
// spreads new connections over the workers' sockets.

#include <cstdint>

#include "common/address.h"
#include "common/result.h"

namespace fulcrum::net {

// A non-blocking TCP socket with SO_REUSEADDR and SO_REUSEPORT, bound to `address` and listening.
// Returns the file descriptor; the caller owns it.
Result<int> openListenSocket(const SocketAddress& address, int backlog);

// The port a bound socket got (for port 0).
Result<uint16_t> boundPort(int fd);

} // namespace fulcrum::net
