// libkindling_zygote.so: the C ABI through which a runtime zygote (an initialised interpreter
// that runs no user code, runtimes/python/zygote.py) turns a fork of itself into an environment
// with kindling's own facet code (facets.h), so a forked environment is isolated exactly like an
// exec'd one. Loaded with ctypes (Python), usable from any FFI with a C ABI (Ruby's Fiddle).
//
// Process tree (all CLONE_PARENT: every stub is a child of the daemon, which reaps it, watches
// its pidfd and kills its process group and cgroup, as for the spawner's own stubs):
//   daemon ── zygote (interpreter, own mount/UTS/IPC namespaces, host filesystem view)
//         └── stub = pid 1 of a new PID namespace, cloned from the zygote ahead of time: joins
//             its cgroup (the RCU grace period is paid here, off the cold path), then waits for
//             its SpawnRequest; on it: namespaces + minimal root, then fork:
//               pid 1 stays in C as init/reaper (reapAsInit), pid 2 applies facets 1-9 and
//               returns into the interpreter, which serves the function.
// The zygote must be single-threaded when it forks (kd_zygote_fork refuses otherwise).
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/privileges.h"
#include "spawner/facets.h"

#define KD_EXPORT extern "C" __attribute__((visibility("default")))

namespace kindling::spawner {
namespace {

// Built once in the zygote (kd_zygote_init); every stub inherits them.
std::optional<sandbox::SeccompProgram> g_seccomp;
std::optional<sandbox::SeccompProgram> g_snapshot_seccomp;  // SeccompProfile::SnapshotHost
// In a function-level snapshot's runtime: its control socket to the spawner (else -1).
int g_control_fd = -1;
// The runtime's request and plan (in the forked runtime only; they live as long as it does).
SpawnRequest* g_request = nullptr;

// fds a stub receives from the spawner, in this order.
enum StubFd { kPlanRead, kStdoutWrite, kStderrWrite, kReportWrite, kFdpass, kStatusWrite, kStubFds };

// Closes every fd >= 3 except `keep` (which may be in any order).
void closeAllBut(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned int next = 3;
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned int>(fd) < next) continue;
    if (static_cast<unsigned int>(fd) > next) {
      ::syscall(SYS_close_range, next, static_cast<unsigned int>(fd) - 1, 0);
    }
    next = static_cast<unsigned int>(fd) + 1;
  }
  ::syscall(SYS_close_range, next, ~0U, 0);
}

// A stub's first steps (both kinds): dies with its parent, leaves the zygote's process group,
// keeps only its six fds, and takes the name "kindling-stub" (the interpreter's is kept in
// `comm` for the runtime).
void enterStub(const int* fds, char (&comm)[16]) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::setpgid(0, 0);  // out of the zygote's process group
  closeAllBut({fds[kPlanRead], fds[kStdoutWrite], fds[kStderrWrite], fds[kReportWrite],
               fds[kFdpass], fds[kStatusWrite]});
  ::prctl(PR_GET_NAME, comm);
  ::prctl(PR_SET_NAME, "kindling-stub");
}

// Decodes a SpawnRequest and keeps it in g_request (it lives as long as the runtime).
SpawnRequest& keepRequest(std::string_view data, int report_write) {
  auto request = decodeRequest(data);
  if (!request) childFail(report_write, Stage::Protocol, EINVAL);
  g_request = new SpawnRequest(std::move(*request));
  return *g_request;
}

// A request arrived: the stub (and its runtime) leave the zygote's lower priority for the
// default one, as an environment started by exec has (root still: the capability is there).
void runNow() { ::setpriority(PRIO_PROCESS, 0, 0); }

// The stub's request's bytes, from its plan pipe (closed then); the stub runs at the default
// priority from here.
std::string takeRequest(const int* fds) {
  std::string data = readRequestData(fds[kPlanRead]);
  runNow();
  ::close(fds[kPlanRead]);
  return data;
}

SpawnRequest& readRequest(const int* fds) {
  return keepRequest(takeRequest(fds), fds[kReportWrite]);
}

// The seccomp program a request's runtime installs (a snapshot's own, or the environments'),
// built by kd_zygote_init; nullptr when it was not built.
const sandbox::SeccompProgram* seccompFor(const SpawnRequest& request) {
  const auto& program = request.snapshot ? g_snapshot_seccomp : g_seccomp;
  return program ? &*program : nullptr;
}

// In a stub: seccompFor(request), failing the environment when the request wants a filter and
// none was built.
const sandbox::SeccompProgram* requestSeccomp(const SpawnRequest& request, int report_write) {
  const sandbox::SeccompProgram* seccomp = seccompFor(request);
  if (request.seccomp && !seccomp) childFail(report_write, Stage::Seccomp, EINVAL);
  return seccomp;
}

// kindling-init, opened by a stub while the host is visible, to be exec'd by fd once pivot_root
// has hidden it (KINDLING_INIT: set by the daemon in the zygote's environment); -1 without.
int openInit() {
  const char* init = ::getenv("KINDLING_INIT");
  return init != nullptr && *init != '\0' ? ::open(init, O_PATH | O_CLOEXEC) : -1;
}

// The runtime's plan: the request's facets with the stub's pipes (lives as long as the runtime).
ChildPlan* planWithPipes(SpawnRequest& request, const sandbox::SeccompProgram* seccomp,
                         const int* fds) {
  auto* plan = new ChildPlan(planFor(request, seccomp));
  plan->stdout_write = fds[kStdoutWrite];
  plan->stderr_write = fds[kStderrWrite];
  plan->report_write = fds[kReportWrite];
  return plan;
}

// In the forked runtime, last: facets 1-9, then nothing of the stub's plumbing stays but fds
// 0-2; EOF on the report pipe tells the spawner the environment is ready (an exec'd runtime's
// CLOEXEC does the same).
void becomeRuntime(const ChildPlan& plan, const int* fds, const char* comm) {
  ::close(fds[kStatusWrite]);
  ::prctl(PR_SET_NAME, comm);
  confine(plan, /*reset_signals=*/false);
  if (plan.stdout_write > 2) ::close(plan.stdout_write);
  if (plan.stderr_write > 2) ::close(plan.stderr_write);
  ::close(plan.report_write);
}

// The stub, a raw clone of the zygote: it never returns into the interpreter itself; only the
// runtime it forks does (returns normally). The zygote is single-threaded, so the stub may
// allocate.
void stubMain(const PrepareRequest& prepare, const int* fds) {
  const int report = fds[kReportWrite];
  char comm[16] = {};
  enterStub(fds, comm);
  const bool bounding_dropped = readyStub(prepare, report);
  SpawnRequest& request = readRequest(fds);
  const bool snapshot = request.snapshot;
  const sandbox::SeccompProgram* seccomp = requestSeccomp(request, report);
  const int init_fd = openInit();
  if (request.isolate) isolate(request, report, fds[kStderrWrite], fds[kFdpass]);
  // A snapshot keeps the fd-pass socket: the spawner sends its fork requests there.
  if (!snapshot) ::close(fds[kFdpass]);
  ChildPlan* plan = planWithPipes(request, seccomp, fds);
  plan->bounding_dropped = bounding_dropped;
  if (prepare.new_pid_namespace) {
    // glibc's fork (not a raw clone): the runtime returns into the interpreter with a
    // consistent libc (thread id cache, atfork handlers).
    const pid_t runtime = ::fork();
    if (runtime < 0) childFail(report, Stage::Clone, errno);
    if (runtime > 0) {
      if (snapshot) ::close(fds[kFdpass]);
      execInit(init_fd, runtime, *plan, fds[kStatusWrite]);
    }
  }
  if (init_fd >= 0) ::close(init_fd);
  if (snapshot) g_control_fd = fds[kFdpass];
  becomeRuntime(*plan, fds, comm);
}

// A runtime forked ahead (kd_zygote_fork_ahead), until kd_zygote_await: the read end of its
// stub's "go" pipe, the stub's fds, the interpreter's name and the stub's bounding-set outcome.
struct Ahead {
  int go_read = -1;
  int fds[kStubFds] = {};
  char comm[16] = {};
  bool bounding_dropped = false;
};
Ahead g_ahead;

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

// The zygote's pages an environment's first steps write (kd_zygote_touch_set): start address
// and length in bytes of each run. A runtime forked ahead copies them while its stub waits.
std::vector<std::pair<uintptr_t, size_t>> g_first_writes;

// What the stub sends the runtime it forked ahead, after the request's bytes: isolate()'s
// outcome (the namespaces it unshared after the fork, which the runtime joins).
struct AheadGo {
  int32_t namespaces = 0;
};

// A stub that forks its runtime ahead of its request (kd_zygote_fork_ahead): the same steps as
// stubMain, but pid 2 is forked while the stub waits (after its cgroups and its base root, in
// whose namespaces it then is), returns into the interpreter at once, unconfined and running
// kindling's own code only, which prepares what every environment's first steps would otherwise
// copy (docs/design.md, "Fast start") and then calls kd_zygote_await. On the request, pid 1
// hands the runtime the request's bytes (it builds its plan meanwhile), isolates, tells the
// runtime which namespaces to join and becomes kindling-init.
void stubAheadMain(const PrepareRequest& prepare, const int* fds) {
  const int report = fds[kReportWrite];
  char comm[16] = {};
  enterStub(fds, comm);
  const bool bounding_dropped = readyStub(prepare, report);
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) childFail(report, Stage::Clone, errno);
  // glibc's fork (not a raw clone): the runtime returns into the interpreter with a consistent
  // libc (thread id cache, atfork handlers).
  const pid_t runtime = ::fork();
  if (runtime < 0) childFail(report, Stage::Clone, errno);
  if (runtime == 0) {
    ::close(go[1]);
    ::close(fds[kPlanRead]);  // the stub reads the request
    g_ahead.go_read = go[0];
    std::copy(fds, fds + kStubFds, g_ahead.fds);
    std::copy(std::begin(comm), std::end(comm), g_ahead.comm);
    g_ahead.bounding_dropped = bounding_dropped;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Each a write fault, as if written: the copy-on-write copies are made now, not on the
    // cold start. A run that is not mapped here (ENOMEM) or not writable is left alone.
    for (const auto& [start, bytes] : g_first_writes) {
      ::madvise(reinterpret_cast<void*>(start), bytes, MADV_POPULATE_WRITE);
    }
    return;
  }
  ::close(go[0]);
  const std::string data = takeRequest(fds);
  // A runtime that died meanwhile (EPIPE) is reported by pid 1's wait.
  (void)writeRequestData(go[1], data);
  SpawnRequest& request = keepRequest(data, report);
  const sandbox::SeccompProgram* seccomp = requestSeccomp(request, report);
  const int init_fd = openInit();
  AheadGo outcome;
  if (request.isolate) {
    outcome.namespaces = isolate(request, report, fds[kStderrWrite], fds[kFdpass]);
  }
  ::close(fds[kFdpass]);
  (void)writeFull(go[1], &outcome, sizeof outcome);
  ::close(go[1]);
  ChildPlan* plan = planWithPipes(request, seccomp, fds);
  execInit(init_fd, runtime, *plan, fds[kStatusWrite]);
}

// Writes `text` to a /proc/self file; false on failure (errno set).
bool writeProcSelf(const char* file, const char* text, size_t len) {
  const int fd = ::open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text, len) == static_cast<ssize_t>(len);
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

// A stub forked from a function-level snapshot: pid 1 of new user, PID, mount, UTS and IPC
// namespaces (the snapshot, unprivileged, can create them only together with a user namespace
// of its own, in which it maps nothing but its own uid and gid). The snapshot moved it into its
// cgroup before answering. On its SpawnRequest it gives the environment what its siblings must
// not share (/tmp, /dev/shm, /proc, hostname, network namespace in mode `none`), then forks the
// runtime as stubMain does; the runtime drops the user namespace's capabilities and installs the
// environment's seccomp filter (on top of the snapshot's) before it returns into the
// interpreter. The environment keeps the snapshot's uid: see docs/design.md.
void restoredStubMain(const int* fds, uid_t uid, gid_t gid, bool drop_bounding_set) {
  const int report = fds[kReportWrite];
  char comm[16] = {};
  enterStub(fds, comm);
  // The snapshot changed uid once (dropToUser), which made it non-dumpable: its /proc/self
  // files then belong to root and the maps cannot be written. Dumpable only while writing them.
  ::prctl(PR_SET_DUMPABLE, 1);
  char map[64];
  int n = std::snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
  if (!writeProcSelf("/proc/self/uid_map", map, static_cast<size_t>(n)) ||
      !writeProcSelf("/proc/self/setgroups", "deny", 4)) {
    childFail(report, Stage::User, errno);
  }
  n = std::snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
  if (!writeProcSelf("/proc/self/gid_map", map, static_cast<size_t>(n))) {
    childFail(report, Stage::User, errno);
  }
  ::prctl(PR_SET_DUMPABLE, 0);
  // The new user namespace gave this process a full bounding set again.
  const bool bounding_dropped = drop_bounding_set && sandbox::dropBoundingSet() == 0;
  SpawnRequest& request = readRequest(fds);
  g_control_fd = -1;
  const sandbox::SeccompProgram* seccomp = g_seccomp ? &*g_seccomp : nullptr;
  if (request.seccomp && !seccomp) childFail(report, Stage::Seccomp, EINVAL);
  isolateRestored(request, report, fds[kStderrWrite], fds[kFdpass]);
  ::close(fds[kFdpass]);
  ChildPlan* plan = planWithPipes(request, seccomp, fds);
  plan->bounding_dropped = bounding_dropped;
  plan->uid = 0;  // stays the snapshot's uid (mapped onto itself)
  plan->gid = 0;
  const pid_t runtime = ::fork();
  if (runtime < 0) childFail(report, Stage::Clone, errno);
  if (runtime > 0) reapAsInit(runtime, *plan, fds[kStatusWrite]);
  becomeRuntime(*plan, fds, comm);
}

}  // namespace
}  // namespace kindling::spawner

using namespace kindling::spawner;

// Builds the seccomp program every forked environment installs. Call once, in the zygote,
// before kd_zygote_fork. Returns 0 or an errno. Not thread-safe.
KD_EXPORT int kd_zygote_init(void) {
  auto program = kindling::sandbox::SeccompProgram::build();
  if (!program) return program.error().sys_errno ? program.error().sys_errno : EINVAL;
  g_seccomp.emplace(std::move(*program));
  auto snapshot = kindling::sandbox::SeccompProgram::build(
      kindling::sandbox::SeccompProfile::SnapshotHost);
  if (!snapshot) return snapshot.error().sys_errno ? snapshot.error().sys_errno : EINVAL;
  g_snapshot_seccomp.emplace(std::move(*snapshot));
  return 0;
}

// Number of threads of the calling process (entries of /proc/self/task), or -errno.
// Thread-safe.
KD_EXPORT int kd_zygote_threads(void) {
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return -errno;
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n;
}

namespace kindling::spawner {
namespace {

// kd_zygote_fork and kd_zygote_fork_ahead (`ahead`: with a PID namespace of its own, the stub
// forks its runtime while it waits).
long forkStub(const char* prepare, size_t len, const int* fds, int nfds, bool ahead) {
  if (nfds != kStubFds || fds == nullptr) return -EINVAL;
  auto request = decodePrepare(std::string_view(prepare, len));
  if (!request) return -EINVAL;
  if (kd_zygote_threads() != 1) return -EBUSY;
  prepareBaseRoot(request->staging);  // once per zygote: its stubs share it
  const unsigned long pid_ns = request->new_pid_namespace ? CLONE_NEWPID : 0;
  const long pid =
      ::syscall(SYS_clone, CLONE_PARENT | pid_ns | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) return -errno;
  if (pid > 0) return pid;
  if (ahead && request->new_pid_namespace) {
    stubAheadMain(*request, fds);
  } else {
    stubMain(*request, fds);
  }
  return 0;
}

}  // namespace
}  // namespace kindling::spawner

// Clones a stub from the calling zygote (see the file comment). `prepare`: an encoded
// PrepareRequest; `fds`: plan read end, stdout and stderr write ends, report write end, fd-pass
// socket, status write end (the caller closes its copies afterwards). Returns the stub's pid in
// the zygote, 0 in the environment's runtime process (facets applied, seccomp installed: it
// then only sets its environment and serves), or -errno (-EBUSY: the zygote has other threads;
// -EINVAL: a malformed request). Must be called while the caller is single-threaded.
KD_EXPORT long kd_zygote_fork(const char* prepare, size_t len, const int* fds, int nfds) {
  return forkStub(prepare, len, fds, nfds, /*ahead=*/false);
}

// As kd_zygote_fork, but the runtime is forked ahead (stubAheadMain): returns the stub's pid
// in the zygote and 0 in the runtime before its request, unconfined, in the stub's cgroups and
// namespaces. Then kd_zygote_pending() is 1, the caller may run its own (never user) code to
// prepare, and must call kd_zygote_await() before anything else. Without a PID namespace of its
// own (PrepareRequest::new_pid_namespace false) this is kd_zygote_fork.
KD_EXPORT long kd_zygote_fork_ahead(const char* prepare, size_t len, const int* fds, int nfds) {
  return forkStub(prepare, len, fds, nfds, /*ahead=*/true);
}

// The zygote's pages an environment's first steps write, as `n` (start address, page count)
// pairs (runtimes/python/zygote.py learns them with a probe); replaces any earlier set. Stubs
// forked from then on by kd_zygote_fork_ahead copy them before they wait. Returns 0 or EINVAL.
KD_EXPORT int kd_zygote_touch_set(const uint64_t* pairs, size_t n) {
  if (pairs == nullptr && n != 0) return EINVAL;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<std::pair<uintptr_t, size_t>> runs;
  runs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t start = pairs[2 * i], count = pairs[2 * i + 1];
    if (start % page != 0 || count == 0 || count > (UINT64_MAX - start) / page) return EINVAL;
    runs.emplace_back(static_cast<uintptr_t>(start), static_cast<size_t>(count * page));
  }
  g_first_writes = std::move(runs);
  return 0;
}

// 1 in a runtime forked ahead that has not yet had its request (kd_zygote_await pending).
KD_EXPORT int kd_zygote_pending(void) { return g_ahead.go_read >= 0 ? 1 : 0; }

// In a runtime forked ahead: waits for its request (exits quietly when the stub is dropped or
// fails, which the stub reports), joins the namespaces the stub unshared for it, applies facets
// 1-9 and returns 0: from then on as kd_zygote_fork's runtime. Returns 0 at once elsewhere.
KD_EXPORT int kd_zygote_await(void) {
  if (g_ahead.go_read < 0) return 0;
  const int go = g_ahead.go_read;
  const int* fds = g_ahead.fds;
  const int report = fds[kReportWrite];
  std::string data = readRequestData(go);
  runNow();
  SpawnRequest& request = keepRequest(data, report);
  ChildPlan* plan = planWithPipes(request, seccompFor(request), fds);
  plan->bounding_dropped = g_ahead.bounding_dropped;
  AheadGo outcome;
  if (!readFull(go, &outcome, sizeof outcome)) ::_exit(0);  // the stub failed and reported
  ::close(go);
  g_ahead.go_read = -1;
  if (outcome.namespaces != 0) {
    // The stub's own namespaces, by its pidfd (pid 1 here); a mount namespace also gives this
    // process the environment's root.
    const int stub = static_cast<int>(::syscall(SYS_pidfd_open, 1, 0));
    if (stub < 0 || ::setns(stub, outcome.namespaces) != 0) {
      childFail(report, Stage::Namespaces, errno);
    }
    ::close(stub);
  }
  if (request.snapshot) {
    g_control_fd = fds[kFdpass];
  } else {
    ::close(fds[kFdpass]);
  }
  becomeRuntime(*plan, fds, g_ahead.comm);
  return 0;
}

// In the forked runtime: one field of its SpawnRequest. kind 0: env[index] ("KEY=VALUE"),
// 1: argv[index], 2: cwd (index 0). NULL past the end or outside a forked runtime.
KD_EXPORT const char* kd_zygote_field(int kind, int index) {
  if (!g_request || index < 0) return nullptr;
  const auto i = static_cast<size_t>(index);
  switch (kind) {
    case 0: return i < g_request->env.size() ? g_request->env[i].c_str() : nullptr;
    case 1: return i < g_request->argv.size() ? g_request->argv[i].c_str() : nullptr;
    case 2: return i == 0 ? g_request->cwd.c_str() : nullptr;
    default: return nullptr;
  }
}

// In a function-level snapshot's runtime (SpawnRequest::snapshot): its control socket to the
// spawner; -1 anywhere else.
KD_EXPORT int kd_snapshot_control(void) { return g_control_fd; }

// In a function-level snapshot's runtime, once the function's init is done: forks a stub for a
// new environment (see restoredStubMain). `fds`: the six of kd_zygote_fork, then the stub's
// cgroup.procs files (opened by the spawner), which this process moves the stub into before it
// returns. Returns the stub's pid as this process sees it, 0 in the environment's runtime
// (namespaces, mounts, capabilities dropped, seccomp installed), or -errno (-EBUSY: more than
// one thread). Must be called while the caller is single-threaded.
KD_EXPORT long kd_snapshot_fork(const char* prepare, size_t len, const int* fds, int nfds) {
  if (nfds < kStubFds || fds == nullptr || g_control_fd < 0) return -EINVAL;
  auto request = decodePrepare(std::string_view(prepare, len));
  if (!request) return -EINVAL;
  if (kd_zygote_threads() != 1) return -EBUSY;
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const unsigned long flags = CLONE_PARENT | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS |
                              CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  const long pid = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) return -errno;
  if (pid == 0) {
    restoredStubMain(fds, uid, gid, request->drop_bounding_set);
    return 0;
  }
  char text[24];
  const int n = std::snprintf(text, sizeof text, "%ld", pid);
  for (int i = kStubFds; i < nfds; ++i) {
    if (::write(fds[i], text, static_cast<size_t>(n)) != n) {
      const int err = errno;
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      return -err;
    }
  }
  return pid;
}
