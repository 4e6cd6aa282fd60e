// The owner uid of a local TCP peer, from the kernel's socket diagnostics (NETLINK_SOCK_DIAG,
// inet_diag): how the daemon tells which sandbox uid is on the other end of a loopback
// connection (SO_PEERCRED exists only for Unix sockets).
#pragma once

#include <sys/types.h>

#include <boost/asio/ip/tcp.hpp>

#include "common/result.h"

namespace kindling::sys {

// The uid owning the socket at `peer` that is connected to `local` (both as seen by the
// accepting side). NotFound if the kernel knows no such socket. Thread-safe.
Result<uid_t> tcpPeerUid(const boost::asio::ip::tcp::endpoint& peer,
                         const boost::asio::ip::tcp::endpoint& local);

}  // namespace kindling::sys
