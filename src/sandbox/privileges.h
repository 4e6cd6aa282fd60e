// The privilege facet: who the function runs as and what it may still do.
//
// A function runs as an unprivileged uid of its own (one per environment, from UidPool), with
// no capabilities in any set (effective, permitted, inheritable, ambient, bounding),
// no_new_privs, and Lambda's resource limits. The child-side steps below run in the
// single-threaded spawner child between clone and exec: each is a handful of raw system calls,
// allocates nothing, never logs, and returns 0 or an errno for the child to report.
//
// Order in the child (each step needs what the next one removes):
//   applyRlimits(plan)   raising a hard limit needs CAP_SYS_RESOURCE
//   dropToUser(uid, gid) needs CAP_SETUID/CAP_SETGID; keeps the permitted set (PR_SET_KEEPCAPS)
//   dropCapabilities()   needs CAP_SETPCAP (still permitted) to empty the bounding set
//   setNoNewPrivs()      (SeccompProgram::install() sets it too)
//   SeccompProgram::install(), then execve
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "common/result.h"

namespace kindling::sandbox {

// Resource limits to set in the child, prepared before the fork (a fixed array: applying it
// allocates nothing). Value type; not synchronised.
class RlimitPlan {
 public:
  // Lambda's limits: RLIMIT_NOFILE 1024 soft and hard; RLIMIT_CORE 0 (a core dump would be
  // written through the host's core_pattern, possibly a root helper on the host, and fill
  // disks). Processes/threads are limited by the cgroup's pids controller, not RLIMIT_NPROC,
  // which counts per uid across the whole host.
  static RlimitPlan lambdaDefaults();

  // Adds or replaces the limit for `resource` (RLIMIT_*). InvalidArgument for an unknown
  // resource or soft > hard.
  Status set(int resource, rlim_t soft, rlim_t hard);
  // The planned limit for `resource`, if any.
  std::optional<rlimit> get(int resource) const;

 private:
  friend int applyRlimits(const RlimitPlan& plan) noexcept;
  std::array<std::optional<rlimit>, RLIMIT_NLIMITS> limits_{};
};

// Sets every limit of `plan` on the calling process. Returns 0 or the errno of the first
// failing setrlimit (EPERM when raising a hard limit without CAP_SYS_RESOURCE).
// Async-signal-safe, no allocation.
int applyRlimits(const RlimitPlan& plan) noexcept;

// Becomes uid/gid with no supplementary groups: setgroups(0), setresgid, setresuid (raw
// syscalls, so only the calling thread changes: call it single-threaded). Keeps the permitted
// capabilities (PR_SET_KEEPCAPS) for dropCapabilities(), which must follow. Verifies the result
// (EPERM on mismatch). Async-signal-safe, no allocation.
int dropToUser(uid_t uid, gid_t gid) noexcept;

// Empties every capability set: raises the permitted set to effective (for CAP_SETPCAP), drops
// the bounding set cap by cap (unless `bounding_dropped`: dropBoundingSet() ran already),
// clears the ambient set, then capset(all zero). Needs CAP_SETPCAP in the permitted set (EPERM
// otherwise); works before exec as root or after dropToUser(). Async-signal-safe, no
// allocation.
int dropCapabilities(bool bounding_dropped = false) noexcept;

// Empties the bounding set (two prctl calls per capability the kernel knows, ~80). It only
// limits what an execve can grant, not what the process holds, so a stub does it while it waits
// for its request, off the cold-start path (mounts and setresuid still work afterwards). Needs
// CAP_SETPCAP in the effective set. Async-signal-safe, no allocation.
int dropBoundingSet() noexcept;

// prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer grant privileges (setuid bits and file
// capabilities are ignored). Irreversible. Async-signal-safe.
int setNoNewPrivs() noexcept;

// Default sandbox uid range: 100000-165535, the range Debian's useradd gives as the first
// subordinate-uid block, so it does not collide with regular or system accounts.
inline constexpr uid_t kDefaultSandboxUidFirst = 100000;
inline constexpr uint32_t kDefaultSandboxUidCount = 65536;

// A pool of sandbox uids, one per live environment. Hands uids out round-robin, so a released
// uid is reused as late as possible (peer-uid checks must never see a stale environment's
// socket under a new owner). Thread-safe; acquire/release are O(count/64) worst case.
class UidPool {
 public:
  // Checks a configured range: non-empty, excludes uid 0 and the invalid uid (uid_t)-1.
  static Status validateRange(uid_t first, uint32_t count);

  // Precondition: validateRange(first, count) succeeded (fatal otherwise).
  UidPool(uid_t first, uint32_t count);
  UidPool(const UidPool&) = delete;
  UidPool& operator=(const UidPool&) = delete;

  // A uid nobody holds; TooManyRequests when all are in use. Thread-safe.
  Result<uid_t> acquire();
  // Returns a uid from acquire(). Releasing a foreign or free uid is fatal. Thread-safe.
  void release(uid_t uid);

  // Uids currently free. Thread-safe.
  uint32_t available() const;
  uid_t first() const { return first_; }
  uint32_t capacity() const { return count_; }

 private:
  const uid_t first_;
  const uint32_t count_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> used_;  // guarded by mutex_: bit i set = first_ + i in use
  uint32_t next_ = 0;           // guarded by mutex_: where the next search starts
  uint32_t in_use_ = 0;         // guarded by mutex_
};

}  // namespace kindling::sandbox
