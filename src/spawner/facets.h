// The isolation facets an environment's process applies to itself, in order, shared by the two
// ways an environment comes to life: the spawner's stubs, which exec the runtime afterwards
// (spawner.cc), and the runtime zygotes' forked stubs, which return into an interpreter that
// is already initialised instead (zygote_abi.cc, loaded by runtimes/python/zygote.py).
//
// Everything here runs in a child of a single-threaded process, after clone/fork: failures are
// reported as {stage, errno} on a CLOEXEC report pipe followed by _exit(127), never logged.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "sandbox/seccomp.h"
#include "spawner/protocol.h"

namespace kindling::spawner {

// Everything the child needs, prepared before clone: the child allocates nothing.
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* cwd = nullptr;
  std::vector<const char*> cgroup_procs;
  rlim_t nofile = 1024;
  uid_t uid = 0;  // 0: keep uid 0
  gid_t gid = 0;
  bool drop_capabilities = true;
  bool bounding_dropped = false;  // the stub emptied the bounding set while it waited
  const sandbox::SeccompProgram* seccomp = nullptr;  // null: no filter
  int stdout_write = -1;
  int stderr_write = -1;
  int report_write = -1;
};

// The child's plan from a request: pointers into `request`, which must outlive the child's use.
ChildPlan planFor(SpawnRequest& request, const sandbox::SeccompProgram* seccomp);

// Writes {stage, err} to report_fd and _exit(127)s.
[[noreturn]] void childFail(int report_fd, Stage stage, int err);

// Once, in a single-threaded process whose children exec (the spawner), before it forks any:
// caught signals go back to SIG_DFL in it and the ignored ones are remembered, so that
// confine(reset_signals) resets only those in each child (an exec keeps ignored dispositions
// and resets caught ones itself) instead of calling signal() for all 64. Not thread-safe.
void settleSignalDispositions();

// Facets 1-9 of an environment process (process group + parent-death signal, cgroups, stdio,
// working directory, rlimits, uid, capabilities, no_new_privs, seccomp), in that order. With
// reset_signals every disposition goes back to SIG_DFL (an exec follows); without, the
// caller's dispositions stay (an initialised interpreter keeps its own, e.g. Python's ignored
// SIGPIPE). The signal mask is always emptied. Async-signal-safe; fails through childFail().
void confine(const ChildPlan& plan, bool reset_signals);

// A stub's steps while it waits for its request (both kinds of stub): joins its cgroups
// (fails through childFail()), empties its bounding set when asked (returns whether it did:
// ChildPlan::bounding_dropped) and builds its base root (prebuildRoot) when the prepare names a
// staging directory.
bool readyStub(const PrepareRequest& prepare, int report_write);

// In a stub, while it waits for its request (PrepareRequest::staging): mount, UTS and IPC
// namespaces and the part of the root every environment shares (MountPlan::buildBase), kept
// for isolate(). A failure is kept too and reported by isolate() on the request, as a failing
// root would be. May allocate (the stub's parent is single-threaded).
void prebuildRoot(const std::string& staging);

// In the stubs' parent (the spawner, a zygote), before it clones a stub: builds that base plan
// once, so every stub inherits it (shared pages, nothing allocated per stub) instead of building
// its own. Failures are left for the stub to report. Single-threaded callers only.
void prepareBaseRoot(const std::string& staging);

// Mount, UTS and IPC namespaces (plus a network namespace in mode `none`, whose loopback
// listener is sent on fdpass) and the minimal root of sandbox/mounts.h. Runs in a stub, whose
// parent is single-threaded, so it may allocate. Fails through childFail(). Returns the
// namespaces (CLONE_NEW* flags) it unshared: a runtime forked ahead (zygote_abi.cc) joins them.
int isolate(const SpawnRequest& request, int report_write, int stderr_write, int fdpass);

// In a stub forked from a function-level snapshot (zygote_abi.cc), inside its new user, mount,
// UTS and IPC namespaces: what the environment must not share with its siblings. /tmp: the
// mount the spawner built for it (fsmount of its ext4 volume or a clone of its directory),
// received on fdpass ("T" + the mount fd; "-": none, a tmpfs instead) and moved onto /tmp;
// fresh /dev/shm and /proc (of its own PID namespace); the hostname; in mode `none` a network
// namespace of its own whose listener goes back on fdpass. Fails through childFail().
void isolateRestored(const SpawnRequest& request, int report_write, int stderr_write, int fdpass);

// pid 1 of an environment's PID namespace once the runtime (`runtime`, its child) runs: closes
// the runtime's pipes, reaps orphans, writes the runtime's wait status to status_write and exits
// (which ends the namespace: the kernel kills whatever is left in it).
[[noreturn]] void reapAsInit(pid_t runtime, const ChildPlan& plan, int status_write);

// As reapAsInit, but exec'd as kindling-init (init_main.cc; `init_fd`: an O_PATH fd of it,
// opened before pivot_root), so pid 1 holds none of its parent's memory. Falls back to
// reapAsInit when the exec fails (init_fd < 0, ...).
[[noreturn]] void execInit(int init_fd, pid_t runtime, const ChildPlan& plan, int status_write);

// read/write exactly n bytes (EINTR retried); false on EOF or error.
bool readFull(int fd, void* buf, size_t n);
bool writeFull(int fd, const void* buf, size_t n);

// Upper bound of a serialised SpawnRequest.
inline constexpr size_t kMaxRequestBytes = 1 << 20;

// A serialised SpawnRequest on a pipe: its length (native uint32), then its bytes. Writing:
// false on error (errno set). Reading, in a stub: EOF, an error or an oversized length (the
// spawner dropped the stub, or the stub failed) exits the process quietly.
bool writeRequestData(int fd, std::string_view data);
std::string readRequestData(int fd);

}  // namespace kindling::spawner
