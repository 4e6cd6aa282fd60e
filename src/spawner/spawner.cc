#include "spawner/spawner.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <linux/close_range.h>
#include <sys/mount.h>
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

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "spawner/facets.h"
#include "sandbox/mounts.h"
#include "sandbox/privileges.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sys/process.h"

namespace kindling::spawner {

namespace {

constexpr int kZygoteReplyTimeoutMs = 2000;
constexpr int kZygoteNice = 10;  // as the refiller thread's (linux_sandbox.cc)
constexpr int kZygoteStartTimeoutMs = 20000;

// The environment process, between clone and exec: the facets in order (facets.h), then exec.
// Async-signal-safe calls only.
[[noreturn]] void childMain(const ChildPlan& plan) {
  confine(plan, /*reset_signals=*/true);
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  childFail(plan.report_write, Stage::Exec, errno);
}

bool makePipe(int fds[2], bool nonblocking_read) {
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  if (nonblocking_read) ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return true;
}

// A stub: joins its cgroup ahead of time, then waits for the request that turns it into an
// environment. It is a child of the single-threaded spawner, so it may allocate.
// pid 1 of an environment's PID namespace: runs the runtime as pid 2, reaps orphans, and
// reports the runtime's wait status before exiting (which ends the namespace: the kernel kills
// whatever is left in it).
//
// The runtime is cloned with CLONE_VM | CLONE_VFORK, as posix_spawn does: it runs on the stub's
// memory (on a stack of its own) only until its execve, so nothing is copied -- a fork of the
// stub, itself a fork of the daemon, copies its page tables, ~0.3 ms of the cold start. The stub
// is suspended meanwhile. The runtime touches no shared memory but its stack: the facets make
// raw system calls and allocate nothing, and it has its own file table and working directory
// (no CLONE_FILES, no CLONE_FS). Exec'd runtimes only: a zygote's runtime goes on running the
// interpreter, so it is forked (zygote_abi.cc).
alignas(64) char g_runtime_stack[128 * 1024];

struct RuntimeStart {
  const ChildPlan* plan;
  int status_write;
};

int runtimeEntry(void* arg) {
  const auto* start = static_cast<const RuntimeStart*>(arg);
  ::close(start->status_write);
  childMain(*start->plan);
}

[[noreturn]] void initMain(const ChildPlan& plan, int status_write) {
  RuntimeStart start{&plan, status_write};
  const pid_t runtime = ::clone(runtimeEntry, g_runtime_stack + sizeof g_runtime_stack,
                                CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (runtime < 0) childFail(plan.report_write, Stage::Clone, errno);
  reapAsInit(runtime, plan, status_write);
}

[[noreturn]] void stubMain(int plan_read, int stdout_write, int stderr_write, int report_write,
                           int fdpass, int status_write, const PrepareRequest& prepare,
                           const sandbox::SeccompProgram* seccomp) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const bool bounding_dropped = readyStub(prepare, report_write);
  const std::string data = readRequestData(plan_read);
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
  plan.bounding_dropped = bounding_dropped;
  if (prepare.new_pid_namespace) initMain(plan, status_write);
  ::close(status_write);
  childMain(plan);
}

// A prepared stub's ends, as the spawner holds them until it hands them to the daemon (or keeps
// them: a stub forked from a function snapshot, launched by launchStub).
struct Stub {
  pid_t pid = -1;
  int plan_write = -1;
  int stdout_read = -1;
  int stderr_read = -1;
  int report_read = -1;
  int fdpass = -1;  // the stub sends a none-mode Runtime API listener here
  int exit_status = -1;  // the runtime's wait status (PID-namespace stubs)
  int tmp_mount = -1;  // PrepareRequest::tmp_device, mounted detached (or -1)
  std::string tmp_device;
  void close() {
    for (int* fd : {&plan_write, &stdout_read, &stderr_read, &report_read, &fdpass, &exit_status,
                    &tmp_mount}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
};

void reply(int sock, const SpawnReply& r, const std::vector<int>& fds) {
  std::string data(reinterpret_cast<const char*>(&r), sizeof r);
  (void)sendMessage(sock, data, fds);
}

// Waits until a child execs or becomes its runtime (EOF on its report pipe) or reports the step
// that failed: {Stage::None, 0} or {stage, errno}.
Report awaitReport(int report_read) {
  int32_t msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report_read, msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof msg)) return Report{static_cast<Stage>(msg[0]), msg[1]};
  return Report{};
}

// Waits for a direct spawn's exec (awaitReport), then replies with its pidfd and pipes.
void finishSpawn(int sock, pid_t pid, int stdout_read, int stderr_read, int report_read) {
  const Report report = awaitReport(report_read);
  if (report.stage != Stage::None) return reply(sock, SpawnReply{pid, report.stage, report.err}, {});
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    return reply(sock, SpawnReply{pid, Stage::Clone, e}, {});
  }
  reply(sock, SpawnReply{pid, Stage::None, 0}, {pidfd, stdout_read, stderr_read});
  ::close(pidfd);
}

// The /tmp of an environment forked from a function-level snapshot, as a detached mount the
// stub moves into its own mount namespace (it cannot mount an ext4 volume itself: it is
// unprivileged outside its user namespace): the request's ext4 volume (root made 1777, as
// isolate() does) or a clone of its directory. Returns the mount fd or -errno.
int tmpMount(const SpawnRequest& r) {
  if (!r.tmp_device.empty()) {
    sys::UniqueFd fs(::fsopen("ext4", FSOPEN_CLOEXEC));
    if (!fs) return -errno;
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", r.tmp_device.c_str(), 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_SET_FLAG, sandbox::kTmpVolumeOption, nullptr, 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
      return -errno;
    }
    sys::UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    if (!mnt) return -errno;
    sys::UniqueFd root(::openat(mnt.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root || ::fchmod(root.get(), 01777) != 0) return -errno;
    return mnt.release();
  }
  if (!r.tmp_dir.empty()) {
    const int fd = ::open_tree(AT_FDCWD, r.tmp_dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }
  return -ENOENT;
}

// The first pid listed in a cgroup.procs file, or -1.
pid_t firstPidIn(const std::string& procs) {
  sys::UniqueFd fd(::open(procs.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return -1;
  char buf[64] = {};
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return -1;
  const long pid = std::strtol(buf, nullptr, 10);
  return pid > 0 ? static_cast<pid_t>(pid) : -1;
}

class Spawner {
 public:
  Spawner(int sock, const sandbox::SeccompProgram* seccomp, int seccomp_error)
      : sock_(sock), seccomp_(seccomp), seccomp_error_(seccomp_error) {}

  void handle(Message& received) {
    const std::string& message = received.data;
    if (message.empty()) return;
    const std::string_view body = std::string_view(message).substr(1);
    if (message[0] == kPrepareMessage) return prepare(body);
    if (message[0] == kAdoptSnapshotMessage) return adoptSnapshot(std::move(received.fds));
    if (message[0] == kZygoteMessage) return startZygote(body);
    if (message[0] == kSnapshotQueryMessage) return querySnapshot(body);
    if (message[0] == kSpawnMessage) {
      auto request = decodeRequest(body);
      if (!request) return reply(sock_, SpawnReply{-1, Stage::Protocol, EINVAL}, {});
      if (request->stub != 0) return launchStub(std::move(*request));
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
    long pid = -1;
    int clone_errno = 0;
    int32_t threads = 0;
    if (request->zygote != 0) {
      // The zygote clones the stub (CLONE_PARENT: still the daemon's child) from its
      // initialised interpreter; the pipes are the same as for the spawner's own stubs.
      const ZygoteReply z = forkFromZygote(request->zygote, body, *request,
                                           {plan[0], out[1], err[1], report[1], pass[1], status[1]});
      pid = z.pid;
      clone_errno = z.err;
      threads = z.threads;
    } else {
      prepareBaseRoot(request->staging);
      const unsigned long pid_ns = request->new_pid_namespace ? CLONE_NEWPID : 0;
      pid = ::syscall(SYS_clone, CLONE_PARENT | pid_ns | SIGCHLD, nullptr, nullptr, nullptr,
                      nullptr);
      if (pid == 0) {
        ::close(pass[0]);
        ::close(status[0]);
        stubMain(plan[0], out[1], err[1], report[1], pass[1], status[1], *request, seccomp_);
      }
      clone_errno = errno;
    }
    for (int fd : {out[1], err[1], report[1], plan[0], pass[1], status[1]}) ::close(fd);
    if (pid < 0) {
      for (int fd : {out[0], err[0], report[0], plan[1], pass[0], status[0]}) ::close(fd);
      PrepareReply r{0, -1, clone_errno ? clone_errno : EIO, threads};
      (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
      return;
    }
    const uint32_t id = next_stub_++;
    auto zygote = zygotes_.find(request->zygote);
    const bool from_snapshot = zygote != zygotes_.end() && zygote->second.snapshot;
    Stub stub{static_cast<pid_t>(pid), plan[1], out[0], err[0], report[0], pass[0],
              status[0], -1, {}};
    if (!request->tmp_device.empty()) {
      SpawnRequest volume;
      volume.tmp_device = request->tmp_device;
      const int mnt = tmpMount(volume);
      if (mnt >= 0) {
        stub.tmp_mount = mnt;
        stub.tmp_device = request->tmp_device;
      }  // else the stub mounts the device itself when it gets it
    }
    PrepareReply r{id, static_cast<int32_t>(pid), 0, threads};
    if (!from_snapshot) {
      // The daemon launches the stub itself (SpawnerClient::launch): each cold start then
      // writes its request straight to the stub, without a round trip through this process.
      std::vector<int> ends = {stub.plan_write, stub.stdout_read, stub.stderr_read,
                               stub.report_read, stub.fdpass, stub.exit_status};
      if (stub.tmp_mount >= 0) ends.push_back(stub.tmp_mount);
      r.handed = 1;
      if (!sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), ends)) {
        ::kill(stub.pid, SIGKILL);  // the daemon reaps it (CLONE_PARENT)
      }
      stub.close();
      return;
    }
    stubs_[id] = std::move(stub);
    (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
  }

  // A function snapshot the daemon launched from a handed stub: its control socket is kept
  // under a new zygote id, as launchStub does for one it launched itself.
  void adoptSnapshot(std::vector<sys::UniqueFd> fds) {
    PrepareReply r{0, -1, EINVAL, 0};
    if (fds.size() == 1) {
      r.stub = next_stub_++;
      r.err = 0;
      zygotes_[r.stub] = ZygoteChannel{fds[0].release(), true, false};
    }
    (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
  }

  // Forwards a prepare message with the stub's fds to a zygote and waits for its answer.
  // A function-level snapshot answers EAGAIN until it has said it is ready ('R', sent once
  // the function's init is done), and also gets the stub's cgroup.procs files.
  ZygoteReply forkFromZygote(uint32_t id, std::string_view prepare, const PrepareRequest& request,
                             std::vector<int> fds) {
    auto it = zygotes_.find(id);
    if (it == zygotes_.end()) return ZygoteReply{-1, ENOENT, 0};
    const int zsock = it->second.sock;
    auto gone = [&](int err) {
      ::close(zsock);
      zygotes_.erase(it);
      return ZygoteReply{-1, err, 0};
    };
    std::vector<sys::UniqueFd> cgroup_fds;
    if (it->second.snapshot) {
      if (const int err = snapshotReady(id); err != 0) return ZygoteReply{-1, err, 0};
      if (request.cgroup_procs.empty()) return ZygoteReply{-1, EINVAL, 0};
      for (const auto& procs : request.cgroup_procs) {
        sys::UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) return ZygoteReply{-1, errno, 0};
        fds.push_back(fd.get());
        cgroup_fds.push_back(std::move(fd));
      }
    }
    if (!sendMessage(zsock, std::string(1, kPrepareMessage) + std::string(prepare), fds)) {
      return gone(EPIPE);
    }
    pollfd p{zsock, POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&p, 1, kZygoteReplyTimeoutMs);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) return gone(ETIMEDOUT);
    ZygoteReply reply;
    const ssize_t n = ::recv(zsock, &reply, sizeof reply, 0);
    if (n != static_cast<ssize_t>(sizeof reply)) return gone(EPIPE);
    if (reply.pid <= 0 && reply.err == 0) reply.err = EIO;
    if (reply.pid > 0 && it->second.snapshot) {
      // The snapshot's answer is its own view of the pid: the host's is the only process in
      // the stub's fresh cgroup, which the snapshot moved it into before answering. A stub
      // not found there gets EOF on its plan pipe when the caller closes it, and exits.
      reply.pid = firstPidIn(request.cgroup_procs.front());
      if (reply.pid <= 0) reply = ZygoteReply{-1, ESRCH, reply.threads};
    }
    return reply;
  }

  // 0 once the snapshot `id` has said it is ready ('R': the function's init is done), EAGAIN
  // before, another errno when it is gone (its channel is then dropped).
  int snapshotReady(uint32_t id) {
    auto it = zygotes_.find(id);
    if (it == zygotes_.end() || !it->second.snapshot) return ENOENT;
    if (it->second.ready) return 0;
    pollfd p{it->second.sock, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return EAGAIN;
    char hello[8] = {};
    if (::recv(it->second.sock, hello, sizeof hello, 0) != 1 || hello[0] != 'R') {
      ::close(it->second.sock);
      zygotes_.erase(it);
      return EPIPE;
    }
    it->second.ready = true;
    return 0;
  }

  void querySnapshot(std::string_view body) {
    uint32_t id = 0;
    if (body.size() == sizeof id) std::memcpy(&id, body.data(), sizeof id);
    const int err = snapshotReady(id);
    PrepareReply r{err == 0 ? id : 0, -1, err, 0};
    (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
  }

  // Starts a runtime zygote: a child of the daemon (CLONE_PARENT, so its stubs are too) in its
  // own process group and mount, UTS and IPC namespaces, holding one end of a SEQPACKET pair as
  // fd 3; waits (once per runtime, up to kZygoteStartTimeoutMs) for its "ready" message.
  void startZygote(std::string_view body) {
    auto fail = [&](int err, int32_t pid = -1) {
      PrepareReply r{0, pid, err, 0};
      (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
    };
    auto request = decodeRequest(body);
    if (!request) return fail(EINVAL);
    int pair[2], report[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return fail(errno);
    if (!makePipe(report, false)) {
      const int e = errno;
      ::close(pair[0]);
      ::close(pair[1]);
      return fail(e);
    }
    ChildPlan plan = planFor(*request, nullptr);
    const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) zygoteMain(plan, pair[1], report[1]);
    const int clone_errno = errno;
    ::close(pair[1]);
    ::close(report[1]);
    if (pid < 0) {
      ::close(pair[0]);
      ::close(report[0]);
      return fail(clone_errno);
    }
    int32_t msg[2] = {0, 0};
    ssize_t n;
    do {
      n = ::read(report[0], msg, sizeof msg);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof msg)) {
      ::close(pair[0]);
      return fail(msg[1] ? msg[1] : EIO, static_cast<int32_t>(pid));
    }
    pollfd p{pair[0], POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&p, 1, kZygoteStartTimeoutMs);
    } while (ready < 0 && errno == EINTR);
    char hello[8] = {};
    if (ready <= 0 || ::recv(pair[0], hello, sizeof hello, 0) != 1 || hello[0] != 'R') {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      ::close(pair[0]);
      return fail(ready <= 0 ? ETIMEDOUT : EPROTO, static_cast<int32_t>(pid));
    }
    const uint32_t id = next_stub_++;
    zygotes_[id] = ZygoteChannel{pair[0], false, true};
    PrepareReply r{id, static_cast<int32_t>(pid), 0, 0};
    (void)sendMessage(sock_, std::string_view(reinterpret_cast<const char*>(&r), sizeof r), {});
  }

  // The zygote process between clone and exec. Root with its capabilities (it clones PID
  // namespaces, mounts and joins cgroups for its stubs) but no_new_privs; it sees the host's
  // filesystem (its stubs bind every function's code from it) through a private copy of the
  // mount tree, so nothing it mounts reaches the host.
  [[noreturn]] static void zygoteMain(const ChildPlan& plan, int sock, int report_write) {
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    const int report = ::fcntl(report_write, F_DUPFD_CLOEXEC, 10);
    const int control = ::fcntl(sock, F_DUPFD_CLOEXEC, 10);
    if (report < 0 || control < 0) ::_exit(127);
    if (::setpgid(0, 0) != 0) childFail(report, Stage::Setpgid, errno);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
      childFail(report, Stage::Namespaces, errno);
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      childFail(report, Stage::Mounts, errno);
    }
    static constexpr char kHost[] = "kindling-zygote";
    if (::sethostname(kHost, sizeof kHost - 1) != 0) childFail(report, Stage::Namespaces, errno);
    // stdin /dev/null; stdout and stderr: the spawner's stderr (the daemon's log).
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(2, 1) < 0 || ::dup2(control, 3) < 0) {
      childFail(report, Stage::Stdio, errno);
    }
    ::syscall(SYS_close_range, 4u, ~0U, CLOSE_RANGE_CLOEXEC);
    if (::chdir("/") != 0) childFail(report, Stage::Chdir, errno);
    if (int err = sandbox::setNoNewPrivs(); err != 0) childFail(report, Stage::NoNewPrivs, err);
    // Everything a zygote does is ahead of time (stubs, their runtimes' copies), like the
    // refiller's work: below the cold starts it works for. Its stubs inherit this and return to
    // the default priority when their request arrives (zygote_abi.cc, runNow).
    ::setpriority(PRIO_PROCESS, 0, kZygoteNice);
    ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
    childFail(report, Stage::Exec, errno);
  }

  // Launches a stub the spawner kept: one forked from a function snapshot (it hands every other
  // to the daemon at prepare, and snapshots are taken from runtime zygotes' stubs only). Its
  // /tmp goes first, on fdpass (the stub takes it once it has read its request): the volume
  // mounted at prepare time if the request kept it, else mounted now ("-": none, a tmpfs then).
  // Then its request; the daemon waits for its report itself (SpawnReply::deferred).
  void launchStub(SpawnRequest request) {
    auto it = stubs_.find(request.stub);
    if (it == stubs_.end()) return reply(sock_, SpawnReply{-1, Stage::Protocol, ENOENT}, {});
    Stub stub = it->second;
    stubs_.erase(it);
    int mnt;
    if (stub.tmp_mount >= 0 && request.tmp_device == stub.tmp_device) {
      mnt = stub.tmp_mount;
      stub.tmp_mount = -1;
    } else {
      mnt = tmpMount(request);
    }
    Status sent = mnt >= 0 ? sendMessage(stub.fdpass, "T", {mnt}) : sendMessage(stub.fdpass, "-", {});
    if (mnt >= 0) ::close(mnt);
    if (mnt < 0 && mnt != -ENOENT) sent = tl::unexpected(Error{ErrorCode::Io, -mnt, "tmp mount"});
    if (!sent) {
      const int e = sent.error().sys_errno ? sent.error().sys_errno : EIO;
      ::kill(stub.pid, SIGKILL);
      stub.close();
      return reply(sock_, SpawnReply{stub.pid, Stage::Mounts, e}, {});
    }
    if (!writeRequestData(stub.plan_write, encodeRequest(request))) {
      const int e = errno;
      ::kill(stub.pid, SIGKILL);
      stub.close();
      return reply(sock_, SpawnReply{stub.pid, Stage::Protocol, e ? e : EPIPE}, {});
    }
    std::vector<int> fds = {stub.report_read, stub.stdout_read, stub.stderr_read,
                            stub.exit_status};
    if (request.network_none) fds.push_back(stub.fdpass);
    SpawnReply launched{stub.pid, Stage::None, 0};
    launched.deferred = 1;
    reply(sock_, launched, fds);
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
  struct ZygoteChannel {
    int sock = -1;          // control socket
    bool snapshot = false;  // a function-level snapshot (else a runtime zygote)
    bool ready = true;      // snapshots: 'R' received (the function's init is done)
  };
  std::map<uint32_t, ZygoteChannel> zygotes_;  // by id
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
  // The daemon's handlers mean nothing here; SIGPIPE stays ignored (a stub that died must not
  // kill the spawner when it writes to its pipe) and is reset in each environment.
  settleSignalDispositions();
  // Built once: installing it in each child is then one syscall with no allocation.
  auto program = sandbox::SeccompProgram::build();
  const int seccomp_error = program ? 0 : (program.error().sys_errno ? program.error().sys_errno : EINVAL);
  const sandbox::SeccompProgram* seccomp = program ? &*program : nullptr;
  Spawner spawner(sock, seccomp, seccomp_error);
  while (true) {
    auto msg = receiveMessage(sock, kMaxRequestBytes + 1);
    if (!msg || msg->data.empty()) ::_exit(0);
    spawner.handle(*msg);
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

Result<PrepareReply> SpawnerClient::exchangePrepare(const std::string& data, const char* what,
                                                    std::vector<sys::UniqueFd>* fds,
                                                    const std::vector<int>& send_fds) {
  Result<Message> answer;
  {
    std::lock_guard lock(mu_);
    if (auto st = sendMessage(sock_.get(), data, send_fds); !st) {
      return tl::unexpected(std::move(st.error()));
    }
    answer = receiveMessage(sock_.get(), 4096);
  }
  if (!answer) return tl::unexpected(std::move(answer.error()));
  PrepareReply r;
  if (answer->data.size() != sizeof r) {
    return makeError(ErrorCode::Internal, std::string("spawner: bad ") + what + " reply");
  }
  std::memcpy(&r, answer->data.data(), sizeof r);
  if (r.handed && (answer->fds_truncated || answer->fds.size() < kStubEnds)) {
    // The daemon is out of file descriptors: the stub is useless without its ends.
    if (r.pid > 0) {
      ::kill(r.pid, SIGKILL);
      ::waitpid(r.pid, nullptr, 0);
    }
    return tl::unexpected(Error{ErrorCode::Io, EMFILE,
                                std::string("recvmsg(spawner): the ") + what +
                                    " reply's fds did not all arrive (MSG_CTRUNC)"});
  }
  if (fds) *fds = std::move(answer->fds);
  return r;
}

Result<PreparedStub> SpawnerClient::prepareStub(const PrepareRequest& request) {
  std::vector<sys::UniqueFd> fds;
  auto reply = exchangePrepare(kPrepareMessage + encodePrepare(request), "prepare", &fds);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  const PrepareReply& r = *reply;
  if (r.stub == 0) {
    if (r.err == EBUSY && r.threads > 1) {
      return tl::unexpected(Error{ErrorCode::Io, r.err,
                                  "zygote refused to fork: it runs " + std::to_string(r.threads) +
                                      " threads"});
    }
    return tl::unexpected(Error{ErrorCode::Io, r.err,
                                request.zygote ? "zygote: fork stub" : "spawner: prepare stub"});
  }
  PreparedStub prepared{r, std::nullopt};
  if (r.handed) {
    StubEnds ends;
    ends.plan_write = std::move(fds[0]);
    ends.stdout_read = std::move(fds[1]);
    ends.stderr_read = std::move(fds[2]);
    ends.report_read = std::move(fds[3]);
    ends.fdpass = std::move(fds[4]);
    ends.exit_status = std::move(fds[5]);
    if (fds.size() > kStubEnds) {
      ends.tmp_mount = std::move(fds[kStubEnds]);
      ends.tmp_device = request.tmp_device;
    }
    prepared.ends = std::move(ends);
  }
  return prepared;
}

Result<bool> SpawnerClient::snapshotReady(uint32_t zygote) {
  std::string data(1, kSnapshotQueryMessage);
  data.append(reinterpret_cast<const char*>(&zygote), sizeof zygote);
  auto reply = exchangePrepare(data, "snapshot query");
  if (!reply) return tl::unexpected(std::move(reply.error()));
  if (reply->stub != 0) return true;
  if (reply->err == EAGAIN) return false;
  return tl::unexpected(Error{ErrorCode::Io, reply->err, "snapshot: gone"});
}

Result<PrepareReply> SpawnerClient::startZygote(const SpawnRequest& request) {
  auto reply = exchangePrepare(kZygoteMessage + encodeRequest(request), "zygote");
  if (!reply) return reply;
  const PrepareReply& r = *reply;
  if (r.stub == 0) {
    if (r.pid > 0) {
      int status = 0;
      ::waitpid(r.pid, &status, 0);  // the failed zygote is ours (CLONE_PARENT)
    }
    return tl::unexpected(Error{ErrorCode::Io, r.err, "spawner: start zygote " + request.argv[0]});
  }
  return r;
}

SpawnerClient::~SpawnerClient() {
  sock_.reset();
  int status = 0;
  ::waitpid(spawner_pid_, &status, 0);
}

namespace {

// A failed spawn's error, after reaping its child (ours: CLONE_PARENT).
Error spawnError(pid_t pid, Stage stage, int32_t err, const SpawnRequest& request) {
  if (pid > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  const std::string what = stage == Stage::Exec    ? request.argv[0]
                           : stage == Stage::Chdir ? request.cwd
                                                   : std::string();
  return Error{ErrorCode::Io, err, std::string(stageName(stage)) + "(" + what + ")"};
}

// The Runtime API listener a stub in network mode `none` sent on its fd-pass socket before its
// exec (already queued once awaitReport has returned); -1 when none arrived.
int receiveListener(int fdpass) {
  char buf[8];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  int listener = -1;
  if (::recvmsg(fdpass, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) > 0) {
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_type == SCM_RIGHTS) std::memcpy(&listener, CMSG_DATA(c), sizeof(int));
  }
  return listener;
}

// Waits for a launched stub's report and takes what a running environment needs from its ends:
// its pidfd and (network mode none) the Runtime API listener it sent on its fd-pass socket.
// {Stage::None} when it runs; otherwise the stage and errno (the stub killed, not yet reaped).
Report finishLaunch(pid_t pid, int report_read, int fdpass, bool network_none,
                    sys::UniqueFd* pidfd, sys::UniqueFd* listener) {
  Report report = awaitReport(report_read);
  if (report.stage != Stage::None) return report;
  pidfd->reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!*pidfd) {
    report = Report{Stage::Clone, errno};
  } else if (network_none) {
    listener->reset(receiveListener(fdpass));
    if (!*listener) report = Report{Stage::Protocol, ENOTCONN};
  }
  if (report.stage != Stage::None) ::kill(pid, SIGKILL);
  return report;
}

}  // namespace

Result<SpawnedProcess> SpawnerClient::launch(StubEnds ends, pid_t pid, SpawnRequest request) {
  // Its /tmp first, on its fd-pass socket (the stub takes it once it has read its request):
  // the volume mounted at prepare time if the request kept it; otherwise the stub mounts its
  // device itself.
  if (ends.tmp_mount && request.tmp_device == ends.tmp_device) {
    request.tmp_premounted = static_cast<bool>(sendMessage(ends.fdpass.get(), "T", {ends.tmp_mount.get()}));
  }
  ends.tmp_mount.reset();
  const std::string data = encodeRequest(request);
  if (data.size() > kMaxRequestBytes || !writeRequestData(ends.plan_write.get(), data)) {
    const int err = data.size() > kMaxRequestBytes ? E2BIG : (errno ? errno : EPIPE);
    ::kill(pid, SIGKILL);
    return tl::unexpected(spawnError(pid, Stage::Protocol, err, request));
  }
  ends.plan_write.reset();
  SpawnedProcess p;
  const Report report = finishLaunch(pid, ends.report_read.get(), ends.fdpass.get(),
                                     request.network_none, &p.pidfd, &p.runtime_api_listener);
  if (report.stage != Stage::None) {
    return tl::unexpected(spawnError(pid, report.stage, report.err, request));
  }
  if (request.snapshot) {
    // The snapshot's runtime keeps the other end of its fd-pass socket as its control socket;
    // the spawner sends it fork requests there from now on.
    auto adopted = exchangePrepare(std::string(1, kAdoptSnapshotMessage), "adopt snapshot",
                                   nullptr, {ends.fdpass.get()});
    if (!adopted || adopted->stub == 0) {
      ::kill(pid, SIGKILL);
      return tl::unexpected(
          spawnError(pid, Stage::Protocol, adopted ? adopted->err : EPIPE, request));
    }
    p.snapshot_zygote = adopted->stub;
  }
  p.pid = pid;
  p.stdout_read = std::move(ends.stdout_read);
  p.stderr_read = std::move(ends.stderr_read);
  p.exit_status = std::move(ends.exit_status);
  return p;
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
  // A stub's launch (deferred): report, stdout, stderr, exit status, [fd-pass]; a direct spawn:
  // pidfd, stdout, stderr.
  const size_t fds_expected = r.deferred ? 4 + (request.network_none ? 1 : 0) : 3;
  if (r.stage == Stage::None &&
      (answer->fds_truncated || answer->fds.size() != fds_expected)) {
    // The environment started but its fds did not all reach us (MSG_CTRUNC: the daemon is out
    // of file descriptors). Those that arrived close with `answer`; the process, our child
    // (CLONE_PARENT) and not yet reaped, is killed and reaped: the spawn fails cleanly.
    if (r.pid > 0) {
      ::kill(r.pid, SIGKILL);
      int status = 0;
      ::waitpid(r.pid, &status, 0);
    }
    if (answer->fds_truncated) {
      return tl::unexpected(Error{ErrorCode::Io, EMFILE,
                                  "recvmsg(spawner): " + std::to_string(answer->fds.size()) +
                                      " of " + std::to_string(fds_expected) +
                                      " fds received (MSG_CTRUNC)"});
    }
    return makeError(ErrorCode::Internal, "spawner: missing fds");
  }
  if (r.stage != Stage::None) return tl::unexpected(spawnError(r.pid, r.stage, r.err, request));
  SpawnedProcess p;
  p.pid = r.pid;
  p.stdout_read = std::move(answer->fds[1]);
  p.stderr_read = std::move(answer->fds[2]);
  if (!r.deferred) {
    p.pidfd = std::move(answer->fds[0]);
    return p;
  }
  // The stub isolates itself and becomes its runtime now; the spawner went on meanwhile.
  const Report report =
      finishLaunch(r.pid, answer->fds[0].get(), request.network_none ? answer->fds[4].get() : -1,
                   request.network_none, &p.pidfd, &p.runtime_api_listener);
  if (report.stage != Stage::None) {
    return tl::unexpected(spawnError(r.pid, report.stage, report.err, request));
  }
  p.exit_status = std::move(answer->fds[3]);
  return p;
}

}  // namespace kindling::spawner
