#include "sys/sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "sys/unique_fd.h"

namespace kindling::sys {

Result<uid_t> tcpPeerUid(const boost::asio::ip::tcp::endpoint& peer,
                         const boost::asio::ip::tcp::endpoint& local) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return errnoError("socket(NETLINK_SOCK_DIAG)");
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  const bool v6 = peer.address().is_v6();
  msg.req.sdiag_family = v6 ? AF_INET6 : AF_INET;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  // The peer's socket: its source is the peer endpoint, its destination our local endpoint.
  msg.req.id.idiag_sport = htons(peer.port());
  msg.req.id.idiag_dport = htons(local.port());
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (v6) {
    auto src = peer.address().to_v6().to_bytes();
    auto dst = local.address().to_v6().to_bytes();
    std::memcpy(msg.req.id.idiag_src, src.data(), 16);
    std::memcpy(msg.req.id.idiag_dst, dst.data(), 16);
  } else {
    auto src = peer.address().to_v4().to_bytes();
    auto dst = local.address().to_v4().to_bytes();
    std::memcpy(msg.req.id.idiag_src, src.data(), 4);
    std::memcpy(msg.req.id.idiag_dst, dst.data(), 4);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    return errnoError("sendto(NETLINK_SOCK_DIAG)");
  }
  alignas(nlmsghdr) char buf[8192];
  const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  if (n < 0) return errnoError("recv(NETLINK_SOCK_DIAG)");
  int remaining = static_cast<int>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, remaining);
       h = NLMSG_NEXT(h, remaining)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(h));
      if (err->error == -ENOENT) break;
      return tl::unexpected(Error{ErrorCode::Io, -err->error, "inet_diag(peer socket)"});
    }
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      return static_cast<uid_t>(static_cast<inet_diag_msg*>(NLMSG_DATA(h))->idiag_uid);
    }
    if (h->nlmsg_type == NLMSG_DONE) break;
  }
  return makeError(ErrorCode::NotFound, "inet_diag: no socket for the peer");
}

}  // namespace kindling::sys
