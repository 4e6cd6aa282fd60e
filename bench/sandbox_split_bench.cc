// kindling-sandbox-bench: the cold-start cost of the Linux sandbox, split by stage (issue 3).
//
// What: N samples of a bare spawn (fork + execve("/bin/true") + waitpid) interleaved with N
// samples of the sandboxed path, each stage done with the sandbox's own code in the spawner's
// order (spawner.cc: stubMain joins the cgroup; isolate builds the mount plan, unshares
// NS|UTS|IPC, sets the hostname, applies the plan; childMain sets rlimits, drops to the uid,
// drops capabilities, sets no_new_privs, installs seccomp, execs). Prints p50/p90 in µs.
//
// How: stages inside the child are timed by the child itself with CLOCK_MONOTONIC and the
// stamps go to the parent over a CLOEXEC pipe (the parent's wall clock would add its own
// scheduling delay). Only the points the child cannot report -- exec committed (EOF on that
// pipe, what the spawner waits for) and exit (waitpid) -- are taken by the parent; the clock is
// system-wide, so child and parent stamps subtract. Parent-side work (cgroup create/destroy,
// MountPlan::build) is timed around the call.
//
// Needs root (namespaces, mounts, cgroups, setuid). Everything it creates -- the cgroup parent
// kindling-bench-<pid> and its groups, the temp tree under /tmp -- is removed before exit; any
// failure prints the error and exits 1.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/stats.h"
#include "common/result.h"
#include "sandbox/cgroup.h"
#include "sandbox/mounts.h"
#include "sandbox/privileges.h"
#include "sandbox/seccomp.h"
#include "sys/unique_fd.h"

namespace kindling::bench {
namespace {

namespace fs = std::filesystem;

constexpr int kDefaultSamples = 50;
constexpr const char kHostname[] = "kindling";  // what the daemon sets (linux_sandbox.cc)
constexpr const char kTruePath[] = "/bin/true";

int64_t nowNs() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double micros(int64_t from_ns, int64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e3; }

// Stamps the sandboxed child takes, in order: each is the end of the stage named.
enum Stamp : int {
  kStarted,      // first instruction after fork
  kJoined,       // cgroup.procs written in every controller
  kNamespaces,   // unshare(NS|UTS|IPC) + sethostname
  kMounted,      // MountPlan::apply
  kRlimits,      // applyRlimits
  kUser,         // dropToUser
  kCapabilities, // dropCapabilities
  kNoNewPrivs,   // setNoNewPrivs
  kSeccomp,      // SeccompProgram::install
  kStampCount,
};

// Where a child failed (0 = it did not).
enum class ChildStage : int32_t {
  None,
  Join,
  Unshare,
  Hostname,
  Mounts,
  Rlimits,
  User,
  Capabilities,
  NoNewPrivs,
  Seccomp,
  Exec,
};

const char* childStageName(ChildStage s) {
  switch (s) {
    case ChildStage::None: return "none";
    case ChildStage::Join: return "join cgroup (write cgroup.procs)";
    case ChildStage::Unshare: return "unshare(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC)";
    case ChildStage::Hostname: return "sethostname";
    case ChildStage::Mounts: return "MountPlan::apply";
    case ChildStage::Rlimits: return "applyRlimits";
    case ChildStage::User: return "dropToUser";
    case ChildStage::Capabilities: return "dropCapabilities";
    case ChildStage::NoNewPrivs: return "setNoNewPrivs";
    case ChildStage::Seccomp: return "SeccompProgram::install";
    case ChildStage::Exec: return "execve(/bin/true)";
  }
  return "?";
}

// What a child writes to its report pipe: once before execve (stamps), once more if a stage
// or execve fails. 88 bytes, below PIPE_BUF, so each write is atomic.
struct ChildReport {
  ChildStage failed = ChildStage::None;
  int32_t err = 0;
  int32_t mount_step = -1;
  int32_t reserved = 0;
  int64_t stamps[kStampCount] = {};
};

// Everything the sandboxed child reads, prepared before fork: the child allocates nothing.
struct ChildPlan {
  const std::vector<std::string>* cgroup_procs;
  const sandbox::MountPlan* mounts;
  const sandbox::RlimitPlan* rlimits;
  const sandbox::SeccompProgram* seccomp;
  uid_t uid;
  int report_fd;
};

char* const kTrueArgv[] = {const_cast<char*>(kTruePath), nullptr};
char* const kEmptyEnv[] = {nullptr};

[[noreturn]] void childFail(int fd, ChildReport& r, ChildStage stage, int err) {
  r.failed = stage;
  r.err = err;
  ssize_t ignored = ::write(fd, &r, sizeof r);
  (void)ignored;
  ::_exit(127);
}

// The bare spawn: execve right away. Async-signal-safe only.
[[noreturn]] void bareChild(int report_fd) {
  ::execve(kTruePath, kTrueArgv, kEmptyEnv);
  ChildReport r;
  childFail(report_fd, r, ChildStage::Exec, errno);
}

// The sandboxed child: the spawner's facets in the spawner's order, each stamped. The real
// path stops after the join and waits for a request (warm stub); here it continues at once.
// Async-signal-safe only, no allocation.
[[noreturn]] void sandboxedChild(const ChildPlan& p) {
  ChildReport r;
  r.stamps[kStarted] = nowNs();
  const int fd = p.report_fd;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (const std::string& procs : *p.cgroup_procs) {
    const int cg = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (cg < 0 || ::write(cg, "0", 1) != 1) childFail(fd, r, ChildStage::Join, errno);
    ::close(cg);
  }
  r.stamps[kJoined] = nowNs();
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
    childFail(fd, r, ChildStage::Unshare, errno);
  }
  if (::sethostname(kHostname, sizeof kHostname - 1) != 0) {
    childFail(fd, r, ChildStage::Hostname, errno);
  }
  r.stamps[kNamespaces] = nowNs();
  int step = -1;
  if (int err = p.mounts->apply(&step); err != 0) {
    r.mount_step = step;
    childFail(fd, r, ChildStage::Mounts, err);
  }
  r.stamps[kMounted] = nowNs();
  if (int err = sandbox::applyRlimits(*p.rlimits); err != 0) {
    childFail(fd, r, ChildStage::Rlimits, err);
  }
  r.stamps[kRlimits] = nowNs();
  if (int err = sandbox::dropToUser(p.uid, p.uid); err != 0) {
    childFail(fd, r, ChildStage::User, err);
  }
  r.stamps[kUser] = nowNs();
  if (int err = sandbox::dropCapabilities(); err != 0) {
    childFail(fd, r, ChildStage::Capabilities, err);
  }
  r.stamps[kCapabilities] = nowNs();
  if (int err = sandbox::setNoNewPrivs(); err != 0) childFail(fd, r, ChildStage::NoNewPrivs, err);
  r.stamps[kNoNewPrivs] = nowNs();
  if (int err = p.seccomp->install(); err != 0) childFail(fd, r, ChildStage::Seccomp, err);
  r.stamps[kSeccomp] = nowNs();
  ssize_t ignored = ::write(fd, &r, sizeof r);
  (void)ignored;
  ::execve(kTruePath, kTrueArgv, kEmptyEnv);
  childFail(fd, r, ChildStage::Exec, errno);
}

// Reads up to n bytes (fewer only at EOF); -1 on error.
ssize_t readUpTo(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

// A forked child: SIGKILL + reap unless reaped already.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Waits for the exit; the status, or an error naming waitpid.
  Result<int> wait() {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errnoError("waitpid(" + std::to_string(pid_) + ")");
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

Status expectTrueExit(int status, const char* what) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return makeError(ErrorCode::Internal,
                   std::string(what) + ": /bin/true ended with " +
                       (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                          : "signal " + std::to_string(WTERMSIG(status))));
}

Error childError(const ChildReport& r, const sandbox::MountPlan* plan) {
  std::string what = std::string("child: ") + childStageName(r.failed);
  if (r.failed == ChildStage::Mounts && plan != nullptr && r.mount_step >= 0) {
    what += " at step " + std::to_string(r.mount_step) + " (" + plan->describe(r.mount_step) + ")";
  }
  return Error{ErrorCode::Io, r.err, std::move(what)};
}

// Rows of the table: one vector of samples (µs) each.
enum Row : int {
  kBareTotal,        // fork -> exit reaped
  kBareCommitted,    // fork -> exec committed
  kBareAfterCommit,  // exec committed -> exit reaped
  kCgroupCreate,
  kCgroupJoin,
  kCgroupDestroy,
  kForkSyscall,      // fork() -> returns in the parent
  kStubFork,         // fork -> child running
  kNamespacesRow,
  kMountBuild,
  kMountApply,
  kRlimitsRow,
  kUserRow,
  kCapabilitiesRow,
  kNoNewPrivsRow,
  kSeccompRow,
  kPrivilegesTotal,
  kExecCommit,       // end of privileges -> exec committed
  kExecAfterCommit,  // exec committed -> exit reaped
  kSandboxedTotal,   // fork -> exit reaped
  kCriticalPath,     // per-sample sum of 3+4+5+6
  kRowCount,
};

using Samples = std::array<std::vector<double>, kRowCount>;

// The host side of a RootfsSpec in a fresh temp dir, like the daemon's work dir: staging (the
// root's mount point), task (the code), runtime (bootstraps), tmp (the environment's /tmp).
class TempTree {
 public:
  static Result<TempTree> make() {
    char tmpl[] = "/tmp/kindling-sandbox-bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return errnoError(std::string("mkdtemp(") + tmpl + ")");
    TempTree t{fs::path(tmpl)};
    for (const char* dir : {"staging", "task", "runtime", "tmp"}) {
      const fs::path p = t.base_ / dir;
      if (::mkdir(p.c_str(), 0755) != 0) return errnoError("mkdir(" + p.string() + ")");
    }
    if (::chmod((t.base_ / "tmp").c_str(), 01777) != 0) return errnoError("chmod(tmp, 01777)");
    const std::pair<const char*, const char*> files[] = {{"task", "handler.py"},
                                                         {"runtime", "bootstrap"}};
    for (const auto& [dir, file] : files) {
      const fs::path p = t.base_ / dir / file;
      std::ofstream out(p);
      out << "# kindling-sandbox-bench\n";
      if (!out) return makeError(ErrorCode::Io, "write(" + p.string() + ")");
    }
    return t;
  }
  TempTree(TempTree&& o) noexcept : base_(std::exchange(o.base_, fs::path())) {}
  TempTree& operator=(TempTree&&) = delete;
  ~TempTree() { (void)remove(); }

  sandbox::RootfsSpec spec() const {
    sandbox::RootfsSpec s;
    s.staging = base_ / "staging";
    s.task_root = base_ / "task";
    s.runtime_dir = base_ / "runtime";
    s.tmp_dir = base_ / "tmp";
    s.hostname = kHostname;
    return s;
  }
  // Removes the tree (idempotent).
  Status remove() {
    if (base_.empty()) return {};
    std::error_code ec;
    fs::remove_all(base_, ec);
    if (ec) {
      return tl::unexpected(Error{ErrorCode::Io, ec.value(), "remove_all(" + base_.string() + ")"});
    }
    base_.clear();
    return {};
  }

 private:
  explicit TempTree(fs::path base) : base_(std::move(base)) {}
  fs::path base_;
};

Status makePipe(sys::UniqueFd& read_end, sys::UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errnoError("pipe2(O_CLOEXEC)");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return {};
}

// Stage 1: fork + execve("/bin/true") + waitpid, timed by the parent (nothing to split).
Status bareSample(Samples* out) {
  sys::UniqueFd report_read, report_write;
  KD_TRY_STATUS(makePipe(report_read, report_write));
  const int64_t t_fork = nowNs();
  const pid_t pid = ::fork();
  if (pid == 0) bareChild(report_write.get());
  if (pid < 0) return errnoError("fork(bare)");
  Child child(pid);
  report_write.reset();
  ChildReport r;
  const ssize_t n = readUpTo(report_read.get(), &r, sizeof r);
  const int64_t t_committed = nowNs();
  if (n < 0) return errnoError("read(report pipe)");
  if (n == static_cast<ssize_t>(sizeof r)) return tl::unexpected(childError(r, nullptr));
  auto status = child.wait();
  const int64_t t_exit = nowNs();
  if (!status) return tl::unexpected(std::move(status.error()));
  KD_TRY_STATUS(expectTrueExit(*status, "bare spawn"));
  if (out != nullptr) {
    (*out)[kBareTotal].push_back(micros(t_fork, t_exit));
    (*out)[kBareCommitted].push_back(micros(t_fork, t_committed));
    (*out)[kBareAfterCommit].push_back(micros(t_committed, t_exit));
  }
  return {};
}

struct Fixture {
  sandbox::CgroupManager* cgroups;
  sandbox::RootfsSpec spec;
  sandbox::RlimitPlan rlimits;
  const sandbox::SeccompProgram* seccomp;
};

// Stages 2-6 for one sample: cgroup create, the child's join + namespaces + mounts +
// privileges + exec, cgroup destroy. `out` null: a warm-up, nothing recorded.
Status sandboxedSample(const Fixture& fx, int index, Samples* out) {
  sandbox::CgroupLimits limits;  // 128 MB, the daemon's default pids cap
  const int64_t t_create = nowNs();
  auto group = fx.cgroups->create("s-" + std::to_string(index), limits);
  const int64_t t_created = nowNs();
  if (!group) return tl::unexpected(std::move(group.error()).wrap("cgroup create"));
  const std::vector<fs::path> dirs = (*group)->directories();
  std::vector<std::string> procs;
  procs.reserve(dirs.size());
  for (const auto& d : dirs) procs.push_back((d / "cgroup.procs").string());

  const int64_t t_build = nowNs();
  auto plan = sandbox::MountPlan::build(fx.spec);
  const int64_t t_built = nowNs();
  if (!plan) return tl::unexpected(std::move(plan.error()).wrap("MountPlan::build"));

  sys::UniqueFd report_read, report_write;
  KD_TRY_STATUS(makePipe(report_read, report_write));
  const ChildPlan child_plan{&procs, &*plan, &fx.rlimits, fx.seccomp,
                             static_cast<uid_t>(sandbox::kDefaultSandboxUidFirst + index),
                             report_write.get()};
  const int64_t t_fork = nowNs();
  const pid_t pid = ::fork();
  if (pid == 0) sandboxedChild(child_plan);
  const int64_t t_forked = nowNs();
  if (pid < 0) return errnoError("fork(sandboxed)");
  Child child(pid);
  report_write.reset();
  ChildReport r;
  ssize_t n = readUpTo(report_read.get(), &r, sizeof r);
  if (n < 0) return errnoError("read(report pipe)");
  if (n != static_cast<ssize_t>(sizeof r)) {
    return makeError(ErrorCode::Internal,
                     "child died before reporting (" + std::to_string(n) + " bytes)");
  }
  if (r.failed != ChildStage::None) return tl::unexpected(childError(r, &*plan));
  // EOF: the CLOEXEC write end closed, i.e. execve passed its point of no return.
  ChildReport exec_failure;
  n = readUpTo(report_read.get(), &exec_failure, sizeof exec_failure);
  const int64_t t_committed = nowNs();
  if (n < 0) return errnoError("read(report pipe)");
  if (n == static_cast<ssize_t>(sizeof exec_failure)) {
    return tl::unexpected(childError(exec_failure, &*plan));
  }
  auto status = child.wait();
  const int64_t t_exit = nowNs();
  if (!status) return tl::unexpected(std::move(status.error()));
  KD_TRY_STATUS(expectTrueExit(*status, "sandboxed spawn"));

  const int64_t t_destroy = nowNs();
  group->reset();
  const int64_t t_destroyed = nowNs();
  for (const auto& d : dirs) {
    struct stat st {};
    if (::lstat(d.c_str(), &st) == 0) {
      return makeError(ErrorCode::Io, "cgroup destroy left " + d.string() + " behind");
    }
  }
  if (out == nullptr) return {};

  const int64_t* s = r.stamps;
  auto add = [out](Row row, double v) { (*out)[row].push_back(v); };
  add(kCgroupCreate, micros(t_create, t_created));
  add(kCgroupJoin, micros(s[kStarted], s[kJoined]));
  add(kCgroupDestroy, micros(t_destroy, t_destroyed));
  add(kForkSyscall, micros(t_fork, t_forked));
  add(kStubFork, micros(t_fork, s[kStarted]));
  add(kNamespacesRow, micros(s[kJoined], s[kNamespaces]));
  add(kMountBuild, micros(t_build, t_built));
  add(kMountApply, micros(s[kNamespaces], s[kMounted]));
  add(kRlimitsRow, micros(s[kMounted], s[kRlimits]));
  add(kUserRow, micros(s[kRlimits], s[kUser]));
  add(kCapabilitiesRow, micros(s[kUser], s[kCapabilities]));
  add(kNoNewPrivsRow, micros(s[kCapabilities], s[kNoNewPrivs]));
  add(kSeccompRow, micros(s[kNoNewPrivs], s[kSeccomp]));
  add(kPrivilegesTotal, micros(s[kMounted], s[kSeccomp]));
  add(kExecCommit, micros(s[kSeccomp], t_committed));
  add(kExecAfterCommit, micros(t_committed, t_exit));
  add(kSandboxedTotal, micros(t_fork, t_exit));
  // 3 + 4 + 5 + 6 of this sample: what one cold start waits for once a warm stub exists.
  add(kCriticalPath, micros(t_build, t_built) + micros(s[kJoined], t_committed));
  return {};
}

struct RowSpec {
  Row row;
  const char* label;
  const char* paid;
};

void printTable(Samples& samples, int count, const Fixture& fx, int mount_steps) {
  const std::string build_label = "4 mounts: MountPlan::build (" + std::to_string(mount_steps) +
                                  " steps)";
  const std::string apply_label = "4 mounts: apply() (" + std::to_string(mount_steps) + " steps)";
  const std::string seccomp_label = "5   SeccompProgram::install (" +
                                    std::to_string(fx.seccomp->instructionCount()) + " insns)";
  const std::string join_label = "2 cgroup: join (cgroup.procs x" +
                                 std::to_string(fx.cgroups->isV2() ? 1 : 4) + ", in child)";
  const RowSpec rows[] = {
      {kBareTotal, "1 baseline: fork+execve(/bin/true)+waitpid", "reference"},
      {kBareCommitted, "1   fork -> exec committed", "reference"},
      {kBareAfterCommit, "1   exec committed -> exit reaped", "reference"},
      {kCgroupCreate, "2 cgroup: create (mkdir + limits)", "ahead (refiller)"},
      {kCgroupJoin, join_label.c_str(), "ahead (warm stub)"},
      {kCgroupDestroy, "2 cgroup: destroy (kill, wait, rmdir)", "after the env"},
      {kForkSyscall, "  stub fork: fork() returns in parent", "ahead (refiller)"},
      {kStubFork, "  stub fork: fork -> child running", "ahead (refiller)"},
      {kNamespacesRow, "3 namespaces: unshare(NS|UTS|IPC)+hostname", "COLD START"},
      {kMountBuild, build_label.c_str(), "COLD START"},
      {kMountApply, apply_label.c_str(), "COLD START"},
      {kRlimitsRow, "5   applyRlimits", "COLD START"},
      {kUserRow, "5   dropToUser(100000+i)", "COLD START"},
      {kCapabilitiesRow, "5   dropCapabilities", "COLD START"},
      {kNoNewPrivsRow, "5   setNoNewPrivs", "COLD START"},
      {kSeccompRow, seccomp_label.c_str(), "COLD START"},
      {kPrivilegesTotal, "5 privileges: total", "COLD START"},
      {kExecCommit, "6 exec: privileges done -> exec committed", "COLD START"},
      {kExecAfterCommit, "6   exec committed -> exit reaped", "load+run+exit"},
      {kSandboxedTotal, "  sandboxed child: fork -> exit reaped", "(all of it)"},
  };
  std::printf("%-48s %10s %10s  %s\n", "stage (us)", "p50", "p90", "paid");
  for (const RowSpec& spec : rows) {
    const Summary sum = summarize(samples[spec.row]);
    std::printf("%-48s %10.1f %10.1f  %s\n", spec.label, sum.p50, sum.p90, spec.paid);
  }
  const Summary critical = summarize(samples[kCriticalPath]);
  std::vector<double> bare = samples[kBareTotal];
  const Summary bare_sum = summarize(bare);
  std::printf(
      "critical path per cold start (3+4+5+6, per-sample sums, n=%d): p50 %.1f us, p90 %.1f us"
      " (bare spawn p50 %.1f us)\n",
      count, critical.p50, critical.p90, bare_sum.p50);
}

// A failed CgroupManager::open() can leave the parent directories it made before the failing
// one (v1: one per controller); they are empty and named after this pid, so remove them.
void removePartialParent(const std::string& parent) {
  auto layout = sandbox::detectCgroupLayout(sandbox::CgroupRoots{});
  if (!layout) return;
  for (const fs::path* root : {&layout->unified, &layout->memory, &layout->cpu, &layout->freezer,
                               &layout->pids}) {
    if (root->empty()) continue;
    const fs::path dir = *root / parent;
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) continue;  // never made
    if (::rmdir(dir.c_str()) != 0) {
      std::fprintf(stderr, "kindling-sandbox-bench: rmdir(%s): %s\n", dir.c_str(),
                   std::strerror(errno));
    }
  }
}

int run(int argc, char** argv) {
  int count = kDefaultSamples;
  int pin_cpu = -1;
  auto number = [](const char* text, long low, long high, long* value) {
    char* end = nullptr;
    errno = 0;
    *value = std::strtol(text, &end, 10);
    return errno == 0 && end != text && *end == '\0' && *value >= low && *value <= high;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    long v = 0;
    if ((arg == "--samples" || arg == "-n") && i + 1 < argc) {
      if (!number(argv[++i], 1, 10000, &v)) {
        std::fprintf(stderr, "kindling-sandbox-bench: --samples wants 1..10000\n");
        return 2;
      }
      count = static_cast<int>(v);
    } else if (arg == "--pin-cpu" && i + 1 < argc) {
      if (!number(argv[++i], 0, CPU_SETSIZE - 1, &v)) {
        std::fprintf(stderr, "kindling-sandbox-bench: --pin-cpu wants a CPU number\n");
        return 2;
      }
      pin_cpu = static_cast<int>(v);
    } else {
      std::fprintf(stderr,
                   "usage: kindling-sandbox-bench [--samples N] [--pin-cpu CPU]\n"
                   "Prints the cold-start cost split of the Linux sandbox, p50/p90 in us (root).\n"
                   "  --samples N    samples per row (default %d)\n"
                   "  --pin-cpu CPU  run this process and its children on one CPU only, which\n"
                   "                 takes cross-CPU wakeup latency out of the fork/exec rows\n",
                   kDefaultSamples);
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "kindling-sandbox-bench: %s\n", e.message().c_str());
    return 1;
  };
  if (::geteuid() != 0) {
    return fail(Error{ErrorCode::Unsupported, EPERM,
                      "needs root (namespaces, mounts, cgroups, setuid)"});
  }

  if (pin_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pin_cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) {
      return fail(Error{ErrorCode::Io, errno,
                        "sched_setaffinity(cpu " + std::to_string(pin_cpu) + ")"});
    }
  }

  auto tree = TempTree::make();
  if (!tree) return fail(tree.error());
  auto seccomp = sandbox::SeccompProgram::build();
  if (!seccomp) return fail(std::move(seccomp.error()).wrap("SeccompProgram::build"));
  const std::string parent = "kindling-bench-" + std::to_string(::getpid());
  auto manager = sandbox::CgroupManager::open(sandbox::CgroupRoots{}, parent);
  if (!manager) {
    removePartialParent(parent);
    return fail(std::move(manager.error()).wrap("CgroupManager::open"));
  }
  const std::vector<fs::path> parent_dirs = (*manager)->parentDirectories();

  const Fixture fx{manager->get(), tree->spec(), sandbox::RlimitPlan::lambdaDefaults(), &*seccomp};
  auto probe = sandbox::MountPlan::build(fx.spec);
  if (!probe) return fail(std::move(probe.error()).wrap("MountPlan::build"));

  Samples samples;
  for (auto& v : samples) v.reserve(static_cast<size_t>(count));
  // One unrecorded warm-up of each, then the two interleaved so host noise hits both alike.
  Status st = bareSample(nullptr);
  if (st) st = sandboxedSample(fx, 0, nullptr);
  for (int i = 1; st && i <= count; ++i) {
    st = bareSample(&samples);
    if (st) st = sandboxedSample(fx, i, &samples);
  }
  if (!st) return fail(st.error());

  const std::string cpus =
      pin_cpu >= 0 ? "pinned to CPU " + std::to_string(pin_cpu)
                   : std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs online, unpinned";
  std::printf("kindling-sandbox-bench: cold-start cost split, n=%d per row (+1 warm-up), cgroup %s,"
              " %s\n",
              count, (*manager)->isV2() ? "v2" : "v1", cpus.c_str());
  printTable(samples, count, fx, probe->stepCount());

  manager->reset();
  for (const auto& d : parent_dirs) {
    struct stat sb {};
    if (::lstat(d.c_str(), &sb) == 0) {
      return fail(Error{ErrorCode::Io, 0, "cgroup parent left behind: " + d.string()});
    }
  }
  if (auto removed = tree->remove(); !removed) return fail(removed.error());
  return 0;
}

}  // namespace
}  // namespace kindling::bench

int main(int argc, char** argv) { return kindling::bench::run(argc, argv); }
