#include "spawner/facets.h"

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "sandbox/mounts.h"
#include "sandbox/privileges.h"
#include "sandbox/sandbox.h"

namespace kindling::spawner {

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

void childFail(int report_fd, Stage stage, int err) {
  int32_t msg[2] = {static_cast<int32_t>(stage), err};
  ssize_t ignored = ::write(report_fd, msg, sizeof msg);
  (void)ignored;
  ::_exit(127);
}

namespace {

// settleSignalDispositions(): the signals the process ignores (-1: not settled, reset all).
int g_ignored_signals[NSIG];
int g_ignored_count = -1;

}  // namespace

void settleSignalDispositions() {
  int count = 0;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0) continue;  // EINVAL: SIGKILL, SIGSTOP, ...
    if (current.sa_handler == SIG_IGN) {
      g_ignored_signals[count++] = sig;
    } else if (current.sa_handler != SIG_DFL) {
      ::signal(sig, SIG_DFL);
    }
  }
  g_ignored_count = count;
}

void confine(const ChildPlan& plan, bool reset_signals) {
  const int report = plan.report_write;
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (reset_signals && g_ignored_count >= 0) {
    for (int i = 0; i < g_ignored_count; ++i) ::signal(g_ignored_signals[i], SIG_DFL);
  } else if (reset_signals) {
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  }
  // 1. Own process group (the engine kills the whole group); dies with its parent.
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
  if (devnull > 2) ::close(devnull);
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
    if (int err = sandbox::dropCapabilities(plan.bounding_dropped); err != 0) {
      childFail(report, Stage::Capabilities, err);
    }
  }
  // 8. no_new_privs (also required for an unprivileged seccomp filter).
  if (int err = sandbox::setNoNewPrivs(); err != 0) childFail(report, Stage::NoNewPrivs, err);
  // 9. seccomp: the last step, so every step above may still use what it denies.
  if (plan.seccomp) {
    if (int err = plan.seccomp->install(); err != 0) childFail(report, Stage::Seccomp, err);
  }
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

bool writeRequestData(int fd, std::string_view data) {
  const uint32_t len = static_cast<uint32_t>(data.size());
  return writeFull(fd, &len, sizeof len) && writeFull(fd, data.data(), data.size());
}

std::string readRequestData(int fd) {
  uint32_t len = 0;
  if (!readFull(fd, &len, sizeof len) || len > kMaxRequestBytes) ::_exit(0);
  std::string data(len, '\0');
  if (!readFull(fd, data.data(), len)) ::_exit(0);
  return data;
}

namespace {

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

}  // namespace

namespace {

// The base plan, built once by the stubs' parent (prepareBaseRoot) and inherited by every
// stub; then prebuildRoot()'s outcome in a stub: whether it is applied, or why it failed.
std::optional<sandbox::MountPlan> g_base_plan;
std::string g_base_plan_staging;
bool g_base_applied = false;
int g_base_errno = 0;
std::string g_base_why;

// g_base_plan for `staging`, built unless the parent built it already.
Status ensureBasePlan(const std::string& staging) {
  if (g_base_plan && g_base_plan_staging == staging) return {};
  sandbox::RootfsSpec spec;
  spec.staging = staging;
  auto plan = sandbox::MountPlan::buildBase(spec);
  if (!plan) return tl::unexpected(std::move(plan.error()));
  g_base_plan.emplace(std::move(*plan));
  g_base_plan_staging = staging;
  return {};
}

}  // namespace

void prepareBaseRoot(const std::string& staging) {
  if (!staging.empty()) (void)ensureBasePlan(staging);  // a failure is the stub's to report
}

void prebuildRoot(const std::string& staging) {
  if (auto st = ensureBasePlan(staging); !st) {
    g_base_errno = st.error().sys_errno ? st.error().sys_errno : EINVAL;
    g_base_why = st.error().message();
    return;
  }
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
    g_base_errno = errno;
    g_base_why = "unshare(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC)";
    return;
  }
  int step = -1;
  if (int err = g_base_plan->apply(&step); err != 0) {
    g_base_errno = err;
    g_base_why = "sandbox mount step failed: " + g_base_plan->describe(step);
    return;
  }
  g_base_applied = true;
}

bool readyStub(const PrepareRequest& prepare, int report_write) {
  for (const auto& procs : prepare.cgroup_procs) {
    const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) childFail(report_write, Stage::Cgroup, errno);
    ::close(fd);
  }
  const bool bounding_dropped = prepare.drop_bounding_set && sandbox::dropBoundingSet() == 0;
  if (!prepare.staging.empty()) prebuildRoot(prepare.staging);
  return bounding_dropped;
}

int isolate(const SpawnRequest& r, int report_write, int stderr_write, int fdpass) {
  auto fail = [&](const std::string& why, int err) {
    // The failing step goes to the environment's log (its stderr pipe) for the operator.
    const std::string line = "kindling: " + why + "\n";
    ssize_t ignored = ::write(stderr_write, line.data(), line.size());
    (void)ignored;
    childFail(report_write, Stage::Mounts, err);
  };
  if (g_base_errno != 0) fail(g_base_why, g_base_errno);
  if (g_base_applied && r.staging != g_base_plan_staging) {
    fail("the root was prepared at " + g_base_plan_staging + ", the request names " + r.staging,
         EINVAL);
  }
  sandbox::RootfsSpec spec;
  spec.staging = r.staging;
  spec.task_root = r.task_root;
  spec.runtime_dir = r.runtime_dir;
  spec.lang_dir = r.lang_dir;
  spec.opt_dir = r.opt_dir;
  spec.tmp_dir = r.tmp_dir;
  spec.tmp_device = r.tmp_device;
  // The volume the spawner mounted when it prepared this stub (else the device is mounted
  // here, as it is when that message does not arrive).
  Message premounted;
  if (r.tmp_premounted) {
    if (auto m = receiveMessage(fdpass, 16); m && m->data == "T" && m->fds.size() == 1) {
      premounted = std::move(*m);
      spec.tmp_mount_fd = premounted.fds[0].get();
    }
  }
  for (size_t i = 0; i < r.ro_sources.size(); ++i) {
    spec.extra_read_only.emplace_back(r.ro_sources[i], r.ro_targets[i]);
  }
  if (!r.rw_source.empty()) spec.read_write = {r.rw_source, r.rw_target};
  // Built before any unshare: a whole plan records the current mount namespace and refuses to
  // run in it. With the shared part in place (prebuildRoot, in this stub's own namespaces), only
  // the function's part is left (it takes the base's check), then the pivot.
  auto plan = g_base_applied ? sandbox::MountPlan::buildFunction(spec, *g_base_plan)
                             : sandbox::MountPlan::build(spec);
  if (!plan) fail(plan.error().message(), plan.error().sys_errno ? plan.error().sys_errno : EINVAL);
  const int namespaces = (g_base_applied ? 0 : CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) |
                         (r.network_none ? CLONE_NEWNET : 0);
  if (namespaces != 0 && ::unshare(namespaces) != 0) {
    childFail(report_write, Stage::Namespaces, errno);
  }
  if (r.network_none) isolateNetwork(report_write, fdpass);
  if (!r.hostname.empty() && ::sethostname(r.hostname.data(), r.hostname.size()) != 0) {
    childFail(report_write, Stage::Namespaces, errno);
  }
  int step = -1;
  if (int err = plan->apply(&step); err != 0) {
    fail("sandbox mount step failed: " + plan->describe(step), err);
  }
  // A fresh ext4 root directory is 0755 root: make /tmp what functions expect (sticky, 1777).
  if (!r.tmp_device.empty() && ::chmod("/tmp", 01777) != 0) {
    childFail(report_write, Stage::Mounts, errno);
  }
  return namespaces;
}

void isolateRestored(const SpawnRequest& r, int report_write, int stderr_write, int fdpass) {
  auto fail = [&](const char* step, int err) {
    const std::string why = std::string("kindling: restore from snapshot: ") + step + ": " +
                            std::strerror(err) + "\n";
    ssize_t ignored = ::write(stderr_write, why.data(), why.size());
    (void)ignored;
    childFail(report_write, Stage::Mounts, err);
  };
  auto tmp = receiveMessage(fdpass, 16);
  if (!tmp || tmp->data.empty()) fail("receive /tmp", tmp ? EPIPE : tmp.error().sys_errno);
  if (tmp->data == "T" && tmp->fds.size() == 1) {
    if (::move_mount(tmp->fds[0].get(), "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      fail("move_mount /tmp", errno);
    }
  } else if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    fail("tmpfs on /tmp", errno);
  }
  if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777") != 0) {
    fail("tmpfs on /dev/shm", errno);
  }
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") !=
      0) {
    fail("proc on /proc", errno);
  }
  if (!r.hostname.empty() && ::sethostname(r.hostname.data(), r.hostname.size()) != 0) {
    fail("sethostname", errno);
  }
  if (r.network_none) {
    if (::unshare(CLONE_NEWNET) != 0) fail("network namespace", errno);
    isolateNetwork(report_write, fdpass);
  }
}

void execInit(int init_fd, pid_t runtime, const ChildPlan& plan, int status_write) {
  if (init_fd >= 0) {
    ::close(plan.report_write);
    ::close(plan.stdout_write);
    ::close(plan.stderr_write);
    const int flags = ::fcntl(status_write, F_GETFD);
    if (flags >= 0 && ::fcntl(status_write, F_SETFD, flags & ~FD_CLOEXEC) == 0) {
      char fd_text[16], pid_text[16];
      std::snprintf(fd_text, sizeof fd_text, "%d", status_write);
      std::snprintf(pid_text, sizeof pid_text, "%d", static_cast<int>(runtime));
      char name[] = "init";
      char* argv[] = {name, fd_text, pid_text, nullptr};
      char* envp[] = {nullptr};
      ::syscall(SYS_execveat, init_fd, "", argv, envp, AT_EMPTY_PATH);
    }
  }
  reapAsInit(runtime, plan, status_write);  // closing the pipes twice is harmless (EBADF)
}

void reapAsInit(pid_t runtime, const ChildPlan& plan, int status_write) {
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

}  // namespace kindling::spawner
