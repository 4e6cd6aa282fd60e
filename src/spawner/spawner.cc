#include "spawner/spawner.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>

#include "sandbox/mounts.h"
#include "sandbox/privileges.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sys/process.h"

namespace kindling::spawner {

namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;

// Everything the child needs, prepared before clone: the child allocates nothing.
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* cwd;
  std::vector<const char*> cgroup_procs;
  rlim_t nofile;
  uid_t uid;  // 0: keep uid 0
  gid_t gid;
  bool drop_capabilities;
  const sandbox::SeccompProgram* seccomp;  // null: no filter
  int stdout_write;
  int stderr_write;
  int report_write;
};

// The child's plan from a request: pointers into `request`, which must outlive the child's exec.
ChildPlan planFor(SpawnRequest& request, const sandbox::SeccompProgram* seccomp) {
  ChildPlan plan{};
  for (auto& a : request.argv) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : request.env) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.cwd = request.cwd.c_str();
  plan.nofile = request.nofile;
  plan.uid = request.uid;
  plan.gid = request.gid;
  plan.drop_capabilities = request.drop_capabilities;
  plan.seccomp = request.seccomp ? seccomp : nullptr;
  return plan;
}

[[noreturn]] void childFail(int report_fd, Stage stage, int err) {
  int32_t msg[2] = {static_cast<int32_t>(stage), err};
  ssize_t ignored = ::write(report_fd, msg, sizeof msg);
  (void)ignored;
  ::_exit(127);
}

// The environment process, between clone and exec: one facet after another, in this order.
// Async-signal-safe calls only.
[[noreturn]] void childMain(const ChildPlan& plan) {
  const int report = plan.report_write;
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  // 1. Own process group (the engine kills the whole group); dies with the daemon.
  if (::setpgid(0, 0) != 0) childFail(report, Stage::Setpgid, errno);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // 2. cgroups: join the environment's group in every controller.
  for (const char* procs : plan.cgroup_procs) {
    const int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) childFail(report, Stage::Cgroup, errno);
    if (::write(fd, "0", 1) != 1) childFail(report, Stage::Cgroup, errno);
    ::close(fd);
  }
  // 3. stdio: stdin from /dev/null, stdout/stderr to the engine's pipes.
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(plan.stdout_write, 1) < 0 ||
      ::dup2(plan.stderr_write, 2) < 0) {
    childFail(report, Stage::Stdio, errno);
  }
  // 4. Working directory: the task root.
  if (::chdir(plan.cwd) != 0) childFail(report, Stage::Chdir, errno);
  // 5. Resource limits: Lambda's 1,024 open files; no core dumps.
  const rlimit nofile{plan.nofile, plan.nofile};
  const rlimit core{0, 0};
  if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0 || ::setrlimit(RLIMIT_CORE, &core) != 0) {
    childFail(report, Stage::Rlimits, errno);
  }
  // 6. The environment's own uid (keeps the permitted capabilities for step 7).
  if (plan.uid != 0) {
    if (int err = sandbox::dropToUser(plan.uid, plan.gid); err != 0) {
      childFail(report, Stage::User, err);
    }
  }
  // 7. No capabilities (bounding, ambient, effective/permitted/inheritable).
  if (plan.drop_capabilities) {
    if (int err = sandbox::dropCapabilities(); err != 0) {
      childFail(report, Stage::Capabilities, err);
    }
  }
  // 8. no_new_privs (also required for an unprivileged seccomp filter).
  if (int err = sandbox::setNoNewPrivs(); err != 0) childFail(report, Stage::NoNewPrivs, err);
  // 9. seccomp: the last step, so every step above may still use what it denies.
  if (plan.seccomp) {
    if (int err = plan.seccomp->install(); err != 0) childFail(report, Stage::Seccomp, err);
  }
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  childFail(report, Stage::Exec, errno);
}

bool makePipe(int fds[2], bool nonblocking_read) {
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  if (nonblocking_read) ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return true;
}

bool readFull(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool writeFull(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Namespaces and the root filesystem, in the stub (it may allocate: its parent, the spawner,
// is single-threaded). Mount, UTS and IPC namespaces; the minimal root of sandbox/mounts.h.
// Network mode `none`: brings loopback up in the new network namespace and hands a listening
// socket on 127.0.0.1:9001 to the spawner (then the daemon), which serves the Runtime API on it.
void isolateNetwork(int report_write, int fdpass) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) childFail(report_write, Stage::Namespaces, errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) childFail(report_write, Stage::Namespaces, errno);
  ::close(s);
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(sandbox::kNoneModeRuntimeApiPort);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int one = 1;
  if (listener < 0 || ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 128) != 0) {
    childFail(report_write, Stage::Namespaces, errno);
  }
  if (!sendMessage(fdpass, "L", {listener})) childFail(report_write, Stage::Protocol, EPIPE);
  ::close(listener);
}

void isolate(const SpawnRequest& r, int report_write, int stderr_write, int fdpass) {
  sandbox::RootfsSpec spec;
  spec.staging = r.staging;
  spec.task_root = r.task_root;
  spec.runtime_dir = r.runtime_dir;
  spec.lang_dir = r.lang_dir;
  spec.opt_dir = r.opt_dir;
  spec.tmp_dir = r.tmp_dir;
  spec.tmp_device = r.tmp_device;
  for (size_t i = 0; i < r.ro_sources.size(); ++i) {
    spec.extra_read_only.emplace_back(r.ro_sources[i], r.ro_targets[i]);
  }
  // Built before unshare: the plan records the host's mount namespace and refuses to run in it.
  auto plan = sandbox::MountPlan::build(spec);
  if (!plan) {
    const std::string why = "kindling: " + plan.error().message() + "\n";
    ssize_t ignored = ::write(stderr_write, why.data(), why.size());
    (void)ignored;
    childFail(report_write, Stage::Mounts, plan.error().sys_errno ? plan.error().sys_errno : EINVAL);
  }
  const int network = r.network_none ? CLONE_NEWNET : 0;
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | network) != 0) {
    childFail(report_write, Stage::Namespaces, errno);
  }
  if (r.network_none) isolateNetwork(report_write, fdpass);
  if (!r.hostname.empty() && ::sethostname(r.hostname.data(), r.hostname.size()) != 0) {
    childFail(report_write, Stage::Namespaces, errno);
  }
  int step = -1;
  if (int err = plan->apply(&step); err != 0) {
    // The failing step goes to the environment's log (its stderr pipe) for the operator.
    const std::string why = "kindling: sandbox mount step failed: " + plan->describe(step) + "\n";
    ssize_t ignored = ::write(stderr_write, why.data(), why.size());
    (void)ignored;
    childFail(report_write, Stage::Mounts, err);
  }
  // A fresh ext4 root directory is 0755 root: make /tmp what functions expect (sticky, 1777).
  if (!r.tmp_device.empty() && ::chmod("/tmp", 01777) != 0) {
    childFail(report_write, Stage::Mounts, errno);
  }
}

// A stub: joins its cgroup ahead of time, then waits for the request that turns it into an
// environment. It is a child of the single-threaded spawner, so it may allocate.
// pid 1 of an environment's PID namespace: runs the runtime as pid 2, reaps orphans, and
// reports the runtime's wait status before exiting (which ends the namespace: the kernel kills
// whatever is left in it).
[[noreturn]] void initMain(const ChildPlan& plan, int status_write) {
  const pid_t runtime = ::fork();
  if (runtime < 0) childFail(plan.report_write, Stage::Clone, errno);
  if (runtime == 0) {
    ::close(status_write);
    childMain(plan);
  }
  // Only the runtime keeps these: EOF on stdout/stderr and on the report pipe follow it.
  ::close(plan.report_write);
  ::close(plan.stdout_write);
  ::close(plan.stderr_write);
  ::prctl(PR_SET_NAME, "init");
  while (true) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) ::_exit(0);
    if (pid == runtime) {
      (void)writeFull(status_write, &status, sizeof status);
      ::_exit(0);
    }
  }
}

[[noreturn]] void stubMain(int plan_read, int stdout_write, int stderr_write, int report_write,
                           int fdpass, int status_write, bool pid_namespace,
                           const std::vector<std::string>& cgroup_procs,
                           const sandbox::SeccompProgram* seccomp) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (const auto& procs : cgroup_procs) {
    const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) childFail(report_write, Stage::Cgroup, errno);
    ::close(fd);
  }
  uint32_t len = 0;
  if (!readFull(plan_read, &len, sizeof len) || len > kMaxRequestBytes) ::_exit(0);
  std::string data(len, '\0');
  if (!readFull(plan_read, data.data(), len)) ::_exit(0);
  ::close(plan_read);
  auto request = decodeRequest(data);
  if (!request) childFail(report_write, Stage::Protocol, EINVAL);
  if (request->seccomp && !seccomp) childFail(report_write, Stage::Seccomp, EINVAL);
  if (request->isolate) isolate(*request, report_write, stderr_write, fdpass);
  ::close(fdpass);
  ChildPlan plan = planFor(*request, seccomp);
  plan.stdout_write = stdout_write;
  plan.stderr_write = stderr_write;
  plan.report_write = report_write;
  if (pid_namespace) initMain(plan, status_write);
  ::close(status_write);
  childMain(plan);
}

struct Stub {
  pid_t pid = -1;
  int plan_write = -1;
  int stdout_read = -1;
  int stderr_read = -1;
  int report_read = -1;
  int fdpass = -1;  // the stub sends a none-mode Runtime API listener here
  int exit_status = -1;  // the runtime's wait status (PID-namespace stubs)
  void close() {
    for (int* fd :
         {&plan_write, &stdout_read, &stderr_read, &report_read, &fdpass, &exit_status}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
};

void reply(int sock, const SpawnReply& r, const std::vector<int>& fds) {
  std::string data(reinterpret_cast<const char*>(&r), sizeof r);
  (void)sendMessage(sock, data, fds);
}

// Waits for the child's exec (EOF on the report pipe) or its {stage, errno}, then replies.
void finishSpawn(int sock, pid_t pid, int stdout_read, int stderr_read, int report_read,
                 int fdpass = -1, int exit_status = -1) {
  int32_t msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report_read, msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof msg)) {
    return reply(sock, SpawnReply{pid, static_cast<Stage>(msg[0]), msg[1]}, {});
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    return reply(sock, SpawnReply{pid, Stage::Clone, e}, {});
  }
  std::vector<int> fds = {pidfd, stdout_read, stderr_read};
  if (exit_status >= 0) fds.push_back(exit_status);
  int listener = -1;
  if (fdpass >= 0) {
    // Sent by the stub before its exec; the exec (EOF above) means it is already queued.
    char buf[8];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(fdpass, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) > 0) {
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      if (c && c->cmsg_type == SCM_RIGHTS) std::memcpy(&listener, CMSG_DATA(c), sizeof(int));
    }
    if (listener < 0) {
      ::kill(pid, SIGKILL);
      ::close(pidfd);
      return reply(sock, SpawnReply{pid, Stage::Protocol, ENOTCONN}, {});
    }
    fds.push_back(listener);
  }
  reply(sock, SpawnReply{pid, Stage::None, 0}, fds);
  ::close(pidfd);
  if (listener >= 0) ::close(listener);
}

class Spawner {
 public:
  Spawner(int sock, const sandbox::SeccompProgram* seccomp, int seccomp_error)
      : sock_(sock), seccomp_(seccomp), seccomp_error_(seccomp_error) {}

  void handle(const std::string& message) {
    if (message.empty()) return;
    const std::string_view body = std::string_view(message).substr(1);
    if (message[0] == kPrepareMessage) return prepare(body);
    if (message[0] == kSpawnMessage) {
      auto request = decodeRequest(body);
      if (!request) return reply(sock_, SpawnReply{-1, Stage::Protocol, EINVAL}, {});
      if (request->stub != 0) return launchStub(*request);
      return spawnDirect(std::string(body));
    }
    reply(sock_, SpawnReply{-1, Stage::Protocol, EINVAL}, {});
  }

 private:
  void prepare(std::string_view body) {
    auto request = decodePrepare(body);
    auto fail = [&](int err) {
      PrepareReply r{0, -1, err};
      (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
    };
    if (!request) return fail(EINVAL);
    int out[2], err[2], report[2], plan[2];
    if (!makePipe(out, true)) return fail(errno);
    if (!makePipe(err, true)) {
      ::close(out[0]);
      ::close(out[1]);
      return fail(errno);
    }
    int pass[2], status[2];
    if (!makePipe(report, false) || !makePipe(plan, false) || !makePipe(status, false) ||
        ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pass) != 0) {
      for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
      return fail(errno);
    }
    const unsigned long pid_ns = request->new_pid_namespace ? CLONE_NEWPID : 0;
    const long pid = ::syscall(SYS_clone, CLONE_PARENT | pid_ns | SIGCHLD, nullptr, nullptr,
                               nullptr, nullptr);
    if (pid == 0) {
      ::close(pass[0]);
      ::close(status[0]);
      stubMain(plan[0], out[1], err[1], report[1], pass[1], status[1],
               request->new_pid_namespace, request->cgroup_procs, seccomp_);
    }
    const int clone_errno = errno;
    for (int fd : {out[1], err[1], report[1], plan[0], pass[1], status[1]}) ::close(fd);
    if (pid < 0) {
      for (int fd : {out[0], err[0], report[0], plan[1], pass[0], status[0]}) ::close(fd);
      return fail(clone_errno);
    }
    const uint32_t id = next_stub_++;
    stubs_[id] = Stub{static_cast<pid_t>(pid), plan[1], out[0], err[0], report[0], pass[0],
                      status[0]};
    PrepareReply r{id, static_cast<int32_t>(pid), 0};
    (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
  }

  void launchStub(const SpawnRequest& request) {
    auto it = stubs_.find(request.stub);
    if (it == stubs_.end()) return reply(sock_, SpawnReply{-1, Stage::Protocol, ENOENT}, {});
    Stub stub = it->second;
    stubs_.erase(it);
    const std::string data = encodeRequest(request);
    const uint32_t len = static_cast<uint32_t>(data.size());
    if (!writeFull(stub.plan_write, &len, sizeof len) ||
        !writeFull(stub.plan_write, data.data(), data.size())) {
      const int e = errno;
      ::kill(stub.pid, SIGKILL);
      stub.close();
      return reply(sock_, SpawnReply{stub.pid, Stage::Protocol, e ? e : EPIPE}, {});
    }
    ::close(stub.plan_write);
    stub.plan_write = -1;
    finishSpawn(sock_, stub.pid, stub.stdout_read, stub.stderr_read, stub.report_read,
                request.network_none ? stub.fdpass : -1, stub.exit_status);
    stub.close();
  }

  void spawnDirect(const std::string& body) { handleDirect(sock_, body, seccomp_, seccomp_error_); }

  static void handleDirect(int sock, const std::string& data,
                           const sandbox::SeccompProgram* seccomp, int seccomp_error);

  const int sock_;
  const sandbox::SeccompProgram* seccomp_;
  const int seccomp_error_;
  uint32_t next_stub_ = 1;
  std::map<uint32_t, Stub> stubs_;
};

// Handles one direct (stub-less) spawn request in the spawner process.
void Spawner::handleDirect(int sock, const std::string& data,
                           const sandbox::SeccompProgram* seccomp, int seccomp_error) {
  auto request = decodeRequest(data);
  if (!request) return reply(sock, SpawnReply{-1, Stage::Protocol, EINVAL}, {});
  if (request->seccomp && !seccomp) {
    return reply(sock, SpawnReply{-1, Stage::Seccomp, seccomp_error}, {});
  }
  if (request->isolate) return reply(sock, SpawnReply{-1, Stage::Namespaces, ENOTSUP}, {});
  ChildPlan plan = planFor(*request, seccomp);
  for (auto& p : request->cgroup_procs) plan.cgroup_procs.push_back(p.c_str());

  int out[2], err[2], report[2];
  if (!makePipe(out, true)) return reply(sock, SpawnReply{-1, Stage::Stdio, errno}, {});
  if (!makePipe(err, true)) {
    ::close(out[0]);
    ::close(out[1]);
    return reply(sock, SpawnReply{-1, Stage::Stdio, errno}, {});
  }
  if (!makePipe(report, false)) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    return reply(sock, SpawnReply{-1, Stage::Stdio, errno}, {});
  }
  plan.stdout_write = out[1];
  plan.stderr_write = err[1];
  plan.report_write = report[1];

  // CLONE_PARENT: the environment becomes the daemon's child, so the daemon reaps it and reads
  // its exit status directly.
  const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) childMain(plan);
  const int clone_errno = errno;
  ::close(out[1]);
  ::close(err[1]);
  ::close(report[1]);
  auto cleanup = [&] {
    for (int fd : {out[0], err[0], report[0]}) ::close(fd);
  };
  if (pid < 0) {
    cleanup();
    return reply(sock, SpawnReply{-1, Stage::Clone, clone_errno}, {});
  }
  finishSpawn(sock, static_cast<pid_t>(pid), out[0], err[0], report[0]);
  cleanup();
}

[[noreturn]] void spawnerMain(int sock, pid_t daemon) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != daemon) ::_exit(0);
  ::prctl(PR_SET_NAME, "kindling-spawn");
  // Built once: installing it in each child is then one syscall with no allocation.
  auto program = sandbox::SeccompProgram::build();
  const int seccomp_error = program ? 0 : (program.error().sys_errno ? program.error().sys_errno : EINVAL);
  const sandbox::SeccompProgram* seccomp = program ? &*program : nullptr;
  Spawner spawner(sock, seccomp, seccomp_error);
  while (true) {
    auto msg = receiveMessage(sock, kMaxRequestBytes + 1);
    if (!msg || msg->data.empty()) ::_exit(0);
    spawner.handle(msg->data);
  }
}

}  // namespace

Result<std::unique_ptr<SpawnerClient>> SpawnerClient::launch() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return errnoError("socketpair(AF_UNIX, SOCK_SEQPACKET)");
  }
  const pid_t daemon = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pair[0]);
    ::close(pair[1]);
    return errnoError("fork(spawner)");
  }
  if (pid == 0) {
    ::close(pair[0]);
    spawnerMain(pair[1], daemon);
  }
  ::close(pair[1]);
  return std::unique_ptr<SpawnerClient>(new SpawnerClient(pid, sys::UniqueFd(pair[0])));
}

Result<PrepareReply> SpawnerClient::prepareStub(const PrepareRequest& request) {
  const std::string data = kPrepareMessage + encodePrepare(request);
  Result<Message> answer;
  {
    std::lock_guard lock(mu_);
    if (auto st = sendMessage(sock_.get(), data, {}); !st) return tl::unexpected(std::move(st.error()));
    answer = receiveMessage(sock_.get(), 4096);
  }
  if (!answer) return tl::unexpected(std::move(answer.error()));
  PrepareReply r;
  if (answer->data.size() != sizeof r) return makeError(ErrorCode::Internal, "spawner: bad prepare reply");
  std::memcpy(&r, answer->data.data(), sizeof r);
  if (r.stub == 0) return tl::unexpected(Error{ErrorCode::Io, r.err, "spawner: prepare stub"});
  return r;
}

SpawnerClient::~SpawnerClient() {
  sock_.reset();
  int status = 0;
  ::waitpid(spawner_pid_, &status, 0);
}

Result<SpawnedProcess> SpawnerClient::spawn(const SpawnRequest& request) {
  const std::string data = kSpawnMessage + encodeRequest(request);
  if (data.size() > kMaxRequestBytes) {
    return makeError(ErrorCode::InvalidArgument, "spawn request too large");
  }
  Result<Message> answer;
  {
    std::lock_guard lock(mu_);
    if (auto st = sendMessage(sock_.get(), data, {}); !st) return tl::unexpected(std::move(st.error()));
    answer = receiveMessage(sock_.get(), 4096);
  }
  if (!answer) return tl::unexpected(std::move(answer.error()));
  if (answer->data.size() != sizeof(SpawnReply)) {
    return makeError(ErrorCode::Internal, "spawner: no reply (spawner process gone?)");
  }
  SpawnReply r;
  std::memcpy(&r, answer->data.data(), sizeof r);
  if (r.stage != Stage::None) {
    if (r.pid > 0) {
      int status = 0;
      ::waitpid(r.pid, &status, 0);  // the failed child is ours (CLONE_PARENT)
    }
    const std::string what = r.stage == Stage::Exec ? request.argv[0]
                             : r.stage == Stage::Chdir ? request.cwd
                                                       : std::string();
    return tl::unexpected(Error{ErrorCode::Io, r.err,
                                std::string(stageName(r.stage)) + "(" + what + ")"});
  }
  const size_t with_status = request.stub != 0 ? 1 : 0;
  if (answer->fds.size() != 3 + with_status + (request.network_none ? 1 : 0)) {
    return makeError(ErrorCode::Internal, "spawner: missing fds");
  }
  SpawnedProcess p;
  p.pid = r.pid;
  p.pidfd = std::move(answer->fds[0]);
  p.stdout_read = std::move(answer->fds[1]);
  p.stderr_read = std::move(answer->fds[2]);
  if (with_status) p.exit_status = std::move(answer->fds[3]);
  if (request.network_none) p.runtime_api_listener = std::move(answer->fds[3 + with_status]);
  return p;
}

}  // namespace kindling::spawner
