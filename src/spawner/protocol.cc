#include "spawner/protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace kindling::spawner {

const char* stageName(Stage stage) {
  switch (stage) {
    case Stage::None: return "none";
    case Stage::Clone: return "clone";
    case Stage::Setpgid: return "setpgid";
    case Stage::Cgroup: return "cgroup join";
    case Stage::Stdio: return "stdio";
    case Stage::Chdir: return "chdir";
    case Stage::Rlimits: return "setrlimit";
    case Stage::Capabilities: return "drop capabilities";
    case Stage::NoNewPrivs: return "no_new_privs";
    case Stage::Seccomp: return "seccomp";
    case Stage::Exec: return "execve";
    case Stage::Protocol: return "protocol";
    case Stage::Namespaces: return "unshare";
    case Stage::Mounts: return "mount";
    case Stage::User: return "setresuid";
  }
  return "?";
}

namespace {

void putU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void putString(std::string& out, std::string_view s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
void putList(std::string& out, const std::vector<std::string>& list) {
  putU32(out, static_cast<uint32_t>(list.size()));
  for (const auto& s : list) putString(out, s);
}

struct Reader {
  std::string_view data;
  bool ok = true;
  uint32_t u32() {
    if (data.size() < 4) {
      ok = false;
      return 0;
    }
    uint32_t v;
    std::memcpy(&v, data.data(), 4);
    data.remove_prefix(4);
    return v;
  }
  std::string str() {
    const uint32_t n = u32();
    if (!ok || data.size() < n) {
      ok = false;
      return {};
    }
    std::string s(data.substr(0, n));
    data.remove_prefix(n);
    return s;
  }
  std::vector<std::string> list() {
    const uint32_t n = u32();
    std::vector<std::string> out;
    if (n > 65536) ok = false;
    for (uint32_t i = 0; ok && i < n; ++i) out.push_back(str());
    return out;
  }
};

}  // namespace

std::string encodeRequest(const SpawnRequest& r) {
  std::string out;
  putU32(out, r.stub);
  putList(out, r.argv);
  putList(out, r.env);
  putString(out, r.cwd);
  putList(out, r.cgroup_procs);
  putU32(out, r.nofile);
  putU32(out, (r.seccomp ? 1u : 0u) | (r.drop_capabilities ? 2u : 0u) | (r.isolate ? 4u : 0u) |
                 (r.network_none ? 8u : 0u) | (r.snapshot ? 16u : 0u) |
                 (r.tmp_premounted ? 32u : 0u));
  putU32(out, r.uid);
  putU32(out, r.gid);
  for (const std::string* s : {&r.hostname, &r.staging, &r.task_root, &r.runtime_dir,
                               &r.lang_dir, &r.tmp_dir, &r.tmp_device, &r.opt_dir}) {
    putString(out, *s);
  }
  putList(out, r.ro_sources);
  putList(out, r.ro_targets);
  putString(out, r.rw_source);
  putString(out, r.rw_target);
  return out;
}

Result<SpawnRequest> decodeRequest(std::string_view data) {
  Reader in{data};
  SpawnRequest r;
  r.stub = in.u32();
  r.argv = in.list();
  r.env = in.list();
  r.cwd = in.str();
  r.cgroup_procs = in.list();
  r.nofile = in.u32();
  const uint32_t flags = in.u32();
  r.seccomp = flags & 1u;
  r.drop_capabilities = flags & 2u;
  r.isolate = flags & 4u;
  r.network_none = flags & 8u;
  r.snapshot = flags & 16u;
  r.tmp_premounted = flags & 32u;
  r.uid = in.u32();
  r.gid = in.u32();
  for (std::string* s : {&r.hostname, &r.staging, &r.task_root, &r.runtime_dir, &r.lang_dir,
                         &r.tmp_dir, &r.tmp_device, &r.opt_dir}) {
    *s = in.str();
  }
  r.ro_sources = in.list();
  r.ro_targets = in.list();
  if (r.ro_sources.size() != r.ro_targets.size()) in.ok = false;
  r.rw_source = in.str();
  r.rw_target = in.str();
  if (!in.ok || !in.data.empty() || r.argv.empty()) {
    return makeError(ErrorCode::Internal, "spawner: malformed request");
  }
  return r;
}

std::string encodePrepare(const PrepareRequest& r) {
  std::string out;
  putList(out, r.cgroup_procs);
  putU32(out, (r.new_pid_namespace ? 1u : 0u) | (r.drop_bounding_set ? 2u : 0u));
  putU32(out, r.zygote);
  putString(out, r.tmp_device);
  putString(out, r.staging);
  return out;
}

Result<PrepareRequest> decodePrepare(std::string_view data) {
  Reader in{data};
  PrepareRequest r;
  r.cgroup_procs = in.list();
  const uint32_t flags = in.u32();
  r.new_pid_namespace = flags & 1u;
  r.drop_bounding_set = flags & 2u;
  r.zygote = in.u32();
  r.tmp_device = in.str();
  r.staging = in.str();
  if (!in.ok || !in.data.empty()) return makeError(ErrorCode::Internal, "spawner: malformed prepare");
  return r;
}

Status sendMessage(int sock, std::string_view data, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMessageFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  if (fds.size() > kMaxMessageFds) {
    return makeError(ErrorCode::Internal, "sendmsg(spawner): too many fds");
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("sendmsg(spawner)");
  return {};
}

Result<Message> receiveMessage(int sock, size_t max_bytes) {
  // Received into a buffer kept per thread, grown once: the spawner's loop takes messages of up
  // to 1 MiB, and a fresh zero-filled buffer for each (256 pages faulted in and freed again)
  // cost it 0.6 ms per message here, every cold start's launch among them.
  thread_local std::vector<char> buffer;
  if (buffer.size() < max_bytes) buffer.resize(max_bytes);
  Message out;
  iovec iov{buffer.data(), max_bytes};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMessageFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("recvmsg(spawner)");
  out.data.assign(buffer.data(), static_cast<size_t>(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    }
  }
  if (msg.msg_flags & MSG_TRUNC) {
    return makeError(ErrorCode::Internal, "recvmsg(spawner): message truncated");
  }
  out.fds_truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return out;
}

}  // namespace kindling::spawner
