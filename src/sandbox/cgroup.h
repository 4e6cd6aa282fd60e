// The cgroup facet: one environment = one cgroup, behind one interface for both hierarchies.
//
// cgroup v1 (these machines): a group is a directory of the same name in each controller mount
// (memory, cpu, freezer, pids); v2 (most hosts): one directory in the unified tree. Which one
// the host has is read from /proc/self/mountinfo, not assumed from paths. Limits follow Lambda:
// memory = MemorySize (swap excluded), CPU quota proportional to memory (1,769 MB = 1 vCPU),
// a pids cap, and the freezer for idle environments.
//
// Speed: create() is a handful of mkdir + small writes; the files read or written on the
// invoke path (peak memory, OOM counter, freezer) are opened when used (open + pread + close,
// a few µs). A group keeps no fd open on v1 and only its directory fd on v2: a daemon holding
// thousands of idle environments must not spend its RLIMIT_NOFILE on cgroup files (it held 7
// per environment on v1 before). Teardown of an empty group is one read of each cgroup.procs
// plus rmdir.
//
// A real kernel populates a group's interface files on mkdir and drops them on rmdir; a plain
// directory tree (unit tests) does neither, so CgroupRoots carries two optional callbacks that
// a fake cgroupfs uses to do the same. Production leaves them empty.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sys/unique_fd.h"

namespace kindling::sandbox {

// CFS period written for every group, µs.
inline constexpr int64_t kCpuPeriodMicros = 100000;
// Lambda's memory size that buys exactly one vCPU, MB.
inline constexpr int64_t kMemoryMbPerVcpu = 1769;

struct CgroupLimits {
  int memory_mb = 128;  // memory limit = MemorySize; swap limited to the same (v1 memsw) / 0 (v2)
  int pids_max = 1024;  // pids.max
  // CPU: period kCpuPeriodMicros, quota cpuQuotaMicros(memory_mb, host cores). With
  // unthrottled_cpu the group starts without a quota (Lambda's init phase runs with burst CPU);
  // setCpuQuota() applies the proportional quota later.
  bool unthrottled_cpu = false;
};

// round(memory_mb * 100000 / 1769) µs, capped at host_cores * 100000 and floored at the
// kernel's 1,000 µs minimum; host_cores < 1 counts as 1. Pure, thread-safe.
int64_t cpuQuotaMicros(int memory_mb, int host_cores);

// Where the cgroup filesystems are. Tests point everything at a fake tree.
struct CgroupRoots {
  std::filesystem::path root = "/sys/fs/cgroup";
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
  int host_cores = 0;  // CPU cap for quotas; 0 = the CPUs this process may run on
  // Fake cgroupfs only: called after kindling mkdirs a group (fill in the kernel's files) and
  // before it rmdirs one (remove them). Must be thread-safe. Empty on a real cgroupfs.
  std::function<void(const std::filesystem::path& dir)> after_mkdir;
  std::function<void(const std::filesystem::path& dir)> before_rmdir;
};

// What detectCgroupLayout found. v1: the mount point of each controller kindling uses.
struct CgroupLayout {
  bool v2 = false;
  std::filesystem::path unified;  // v2 only
  std::filesystem::path memory, cpu, freezer, pids;  // v1 only
};

// Parses roots.mountinfo: v2 when roots.root is a cgroup2 mount whose cgroup.controllers lists
// memory, cpu and pids; otherwise v1 when memory, cpu, freezer and pids are mounted as cgroup
// (v1) under roots.root. Errors say what is missing. Thread-safe.
Result<CgroupLayout> detectCgroupLayout(const CgroupRoots& roots);

struct CgroupShared;  // configuration shared by a manager and the groups it created

// One environment's group. Destroying it kills its processes, waits (bounded) until the group
// is empty and removes its directories. All methods are thread-safe.
class Cgroup {
 public:
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;
  // killAll(), wait until empty (bounded), rmdir every directory; failures are logged.
  ~Cgroup();

  // Moves pid into the group (v1: cgroup.procs of every controller). Precondition: pid does
  // not fork meanwhile (a spawner's child waits for this before exec). Thread-safe.
  Status addProcess(pid_t pid);
  // High-water mark of the group's memory, bytes (v1 memory.max_usage_in_bytes; v2 memory.peak,
  // or memory.current on kernels without it). Open + pread + close. Thread-safe.
  Result<uint64_t> peakMemoryBytes() const;
  // Memory the group uses now, bytes (v1 memory.usage_in_bytes; v2 memory.current). Opens the
  // file per call: used when an environment goes idle, not per invocation. Thread-safe.
  Result<uint64_t> currentMemoryBytes() const;
  // How many times the kernel's OOM killer killed a process of this group (v1
  // memory.oom_control, v2 memory.events: "oom_kill N"). Open + pread + close. Thread-safe.
  Result<uint64_t> oomKillCount() const;
  // Stops every process of the group and returns once they are stopped (bounded wait).
  // Thread-safe (serialised with thaw/killAll).
  Status freeze();
  // Lets the group run again. Thread-safe.
  Status thaw();
  // True when the group is fully frozen. Thread-safe.
  Result<bool> frozen() const;
  // Kills every process of the group and waits (bounded) until it is empty. v2 uses cgroup.kill
  // where the kernel has it; otherwise the group is frozen, each listed pid gets SIGKILL (a
  // frozen process cannot exit, so its pid cannot be reused meanwhile) and the group is thawed,
  // until empty. Thread-safe.
  Status killAll();
  // Rewrites every limit (a group taken from a pool gets its function's limits). Thread-safe.
  Status setLimits(const CgroupLimits& limits) { return writeLimits(limits); }
  // Sets the CPU quota per kCpuPeriodMicros; quota_us < 0 removes it. Thread-safe.
  Status setCpuQuota(int64_t quota_us);
  // The proportional quota of this group's memory size (cpuQuotaMicros). Thread-safe.
  int64_t proportionalCpuQuota() const;
  // The group's directories (v1: one per controller, v2: one). Thread-safe.
  std::vector<std::filesystem::path> directories() const;
  // v2: an O_DIRECTORY fd of the group for clone3(CLONE_INTO_CGROUP), owned by the group.
  // -1 on v1. Thread-safe.
  int directoryFd() const;

 private:
  friend class CgroupManager;
  struct Dir {
    std::filesystem::path path;
    sys::UniqueFd fd;  // O_DIRECTORY, v2 only (v1: -1, files are opened by path)
    bool present = true;  // false: an adopted leftover whose directory is gone
  };
  explicit Cgroup(std::shared_ptr<const CgroupShared> shared);
  // Takes over existing directories (a previous run's leftovers) so the destructor removes them.
  static std::unique_ptr<Cgroup> adopt(std::shared_ptr<const CgroupShared> shared,
                                       const std::vector<std::filesystem::path>& dirs);
  Status makeDir(const std::filesystem::path& path);
  Status writeLimits(const CgroupLimits& limits);
  // Checks that the files used later exist (peak memory, OOM counter, freezer); sets
  // peak_name_ and can_freeze_.
  Status checkHotFiles();
  Status setFrozenLocked(bool frozen_wanted);
  Status killAllLocked();

  // All fields are set while create() builds the group and then only read, except that
  // mu_ serialises the multi-step operations freeze/thaw/killAll.
  std::shared_ptr<const CgroupShared> shared_;  // shared with the manager: outlives both
  int memory_mb_ = 128;
  std::vector<Dir> dirs_;   // v1: memory, cpu, freezer, pids (those created so far); v2: one
  // v1 memory.max_usage_in_bytes; v2 memory.peak or memory.current (kernels before 5.19).
  const char* peak_name_ = "";
  bool can_freeze_ = false;  // the freezer file exists (v1 freezer.state, v2 cgroup.freeze)
  mutable std::mutex mu_;
  // The limit values last written (writeLimits, setCpuQuota), so that a group taken from a pool
  // at a cold start only writes what differs from its prepared limits (each write is an
  // open + write + close of a cgroupfs file on the cold-start path). Guarded by limits_mu_.
  struct Written {
    std::optional<int64_t> memory_bytes, cpu_quota, cpu_period, pids;
    bool constants = false;  // v2 memory.swap.max and memory.oom.group
  };
  Written written_;
  mutable std::mutex limits_mu_;  // also guards memory_mb_
};

// Creates and cleans up kindling's groups under one parent group. Thread-safe.
class CgroupManager {
 public:
  // Detects v1/v2 under roots; creates the parent group in each controller (v2: enables
  // +memory +cpu +pids in the root's and the parent's cgroup.subtree_control); removes leftovers
  // of a previous run under the parent (kills their processes, rmdir). Not thread-safe with
  // another open() of the same parent.
  static Result<std::unique_ptr<CgroupManager>> open(const CgroupRoots& roots,
                                                     std::string parent = "kindling");
  // Removes the parent group's directories (its groups must be gone by then; failures logged).
  ~CgroupManager();
  // True on a cgroup v2 (unified) host. Thread-safe.
  bool isV2() const;
  // The detected layout. Thread-safe.
  const CgroupLayout& layout() const;
  // The parent group's directories (v1: one per controller). Thread-safe.
  std::vector<std::filesystem::path> parentDirectories() const;
  // Creates <parent>/<name> with the limits written; name is one path component. Errors name
  // the file and errno, e.g. write(/sys/fs/cgroup/memory/kindling/env-42/memory.limit_in_bytes)
  // with EINVAL. A half-built group is removed. Thread-safe (distinct names).
  Result<std::unique_ptr<Cgroup>> create(const std::string& name, const CgroupLimits& limits);

 private:
  explicit CgroupManager(std::shared_ptr<const CgroupShared> shared);
  // Removes every group below dirs (same group in each v1 controller, or one v2 dir), deepest
  // first; failures are logged.
  static void removeChildren(const std::shared_ptr<const CgroupShared>& shared,
                             const std::vector<std::filesystem::path>& dirs);
  std::shared_ptr<const CgroupShared> shared_;  // immutable after open(); shared with groups
};

}  // namespace kindling::sandbox
