// The seccomp facet: a BPF filter that denies the system calls a function never needs (mounts,
// tracing other processes, kernel modules, kexec, bpf, keyrings, namespace creation, clock
// changes, ...) with EPERM, answers clone3 with ENOSYS (glibc then falls back to clone, whose
// flags argument a classic-BPF filter can inspect, so threads keep working while CLONE_NEW* is
// refused) and allows everything else.
//
// Why compiled up front: the filter is applied by the single-threaded spawner in the child
// between clone and exec, where nothing may allocate. build() runs libseccomp once (allocating
// freely) and keeps only the raw sock_filter array; install() is two system calls on that array.
// One program serves every environment (it has no per-environment parameters).
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kindling::sandbox {

enum class SeccompProfile {
  Environment,  // every environment: the full deny list
  // A function-level snapshot (docs/design.md, "Function snapshots"): the same list minus
  // mount, move_mount, unshare and clone's CLONE_NEW* flags, which its forks need to build
  // their own namespaces inside a user namespace (they work only with capabilities, which an
  // unprivileged process has only in a user namespace of its own). Every fork installs the
  // Environment filter on top before it runs the function.
  SnapshotHost,
};

class SeccompProgram {
 public:
  // Compiles the filter for the native ABI (on x86_64 also the i386 and x32 ABIs, so a
  // function cannot dodge it through `int 0x80`). Thread-safe (no shared state).
  static Result<SeccompProgram> build(SeccompProfile profile = SeccompProfile::Environment);

  // Installs the filter in the calling process: prctl(PR_SET_NO_NEW_PRIVS, 1) then
  // seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC) so every thread of the caller is
  // covered. Returns 0 or an errno (EAGAIN if another thread could not be synchronised).
  // Async-signal-safe, no allocation: meant for the child between clone and exec. Irreversible.
  // Thread-safe for concurrent calls on one const program.
  int install() const noexcept;

  // Number of BPF instructions (for tests and benchmarks). Thread-safe.
  size_t instructionCount() const noexcept { return instructions_.size(); }

 private:
  explicit SeccompProgram(std::vector<sock_filter> instructions)
      : instructions_(std::move(instructions)) {}

  // Immutable after build(); read concurrently by install().
  std::vector<sock_filter> instructions_;
};

}  // namespace kindling::sandbox
