// The Sandbox seam: how the engine obtains an execution environment's process. The engine core
// uses ProcessSandbox (plain child processes); the sandbox issue adds an isolating
// implementation behind the same interface (namespaces, cgroups, seccomp via a spawner), so
// nothing above this interface changes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sys/process.h"
#include "sys/unique_fd.h"

namespace kindling::sandbox {

// What an isolating sandbox mounts into the environment's root (host paths). argv, env and cwd
// of a SpawnSpec then use the paths inside: /var/task, /var/runtime, /var/lang.
struct FilesystemView {
  std::filesystem::path task_root;    // -> /var/task
  std::filesystem::path runtime_dir;  // -> /var/runtime (may be empty)
  std::filesystem::path lang_dir;     // -> /var/lang (may be empty)
  std::filesystem::path opt_dir;      // -> /opt: the function's merged layers (may be empty)
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> extra_read_only;
  // One optional writable bind, host directory -> absolute path inside (rw,nosuid,nodev; the
  // directory must already be writable by the environment's uid), e.g. the directory a Java
  // training run writes its class-data archive into. Empty first member: none.
  std::pair<std::filesystem::path, std::filesystem::path> read_write;
};

// A runtime zygote (fast start): an interpreter started once per runtime that has imported
// kindling's bootstrap but runs no user code; environments are forked from it instead of
// exec'd. Sandboxes that cannot fork from zygotes ignore it.
struct SpawnSpec;

struct ZygoteSpec {
  std::string key;                // one zygote per key: runtime id and interpreter
  std::vector<std::string> argv;  // starts the zygote (interpreter, flags, zygote script)
  std::vector<std::string> env;   // "KEY=VALUE"
  // A function-level snapshot instead of a runtime zygote (docs/design.md, "Function
  // snapshots"): made by spawning this spec (forked from its own runtime zygote) as a snapshot,
  // whose runtime runs the function's init and then forks environments; argv/env are unused.
  std::shared_ptr<const SpawnSpec> snapshot;
};

struct SpawnSpec {
  std::vector<std::string> argv;   // argv[0] is the executable path
  std::vector<std::string> env;    // "KEY=VALUE"
  std::filesystem::path cwd;
  int memory_mb = 128;             // limits (enforced by isolating sandboxes)
  int ephemeral_storage_mb = 512;
  FilesystemView view;             // used by sandboxes whose isolatesFilesystem() is true
  uid_t uid = 0;                   // from Sandbox::reserveUid(); spawn() takes it over
  // Network mode `none`: own network namespace with loopback only; the Runtime API listens
  // on 127.0.0.1:kNoneModeRuntimeApiPort inside it (SandboxProcess::takeRuntimeApiListener).
  bool network_none = false;
  // Fork the environment from this runtime zygote when the sandbox can (else exec argv).
  std::optional<ZygoteSpec> zygote;
  // zygote->snapshot: fork from the snapshot only if it runs as this uid (Sandbox::snapshotUid,
  // asked before the environment's Runtime API was set up to accept it).
  uid_t snapshot_uid = 0;
};

inline constexpr uint16_t kNoneModeRuntimeApiPort = 9001;  // Lambda's own value

// A running environment process (and whatever it forked).
class SandboxProcess {
 public:
  virtual ~SandboxProcess() = default;
  virtual pid_t pid() const = 0;
  // Readable when the process has exited (pidfd); owned by the process object.
  virtual int exitFd() const = 0;
  // Collects the exit status once exitFd() is readable. Call once.
  virtual Result<sys::ExitStatus> reap() = 0;
  // True once the process has exited (checked without reaping it). The exit fd waking up is
  // not trusted alone: reap() blocks, and a blocked reap would hold the environment's lock.
  virtual bool exited() const { return true; }
  // Kills the process and everything it started (idempotent).
  virtual void kill() = 0;
  // Peak resident memory of the environment so far, bytes.
  virtual uint64_t peakMemoryBytes() const = 0;
  // Memory the environment uses now, bytes (its cgroup's usage when it has one; else the
  // process tree's resident peak, an upper bound). Thread-safe w.r.t. the owner's lock.
  virtual uint64_t currentMemoryBytes() const { return peakMemoryBytes(); }
  // True when the kernel's OOM killer ended it (cgroup counter); false where unknown.
  virtual bool oomKilled() const = 0;
  // The runtime finished its init phase: from now on the function's CPU share applies (init
  // runs with burst CPU, as on Lambda). Default: nothing to do.
  virtual void onInitDone() {}
  // Freezing an idle environment (cgroup freezer: zero CPU while idle, as on Lambda).
  virtual bool canFreeze() const { return false; }
  virtual Status freeze() { return {}; }
  virtual Status thaw() { return {}; }
  // Network mode `none`: the listening socket created inside the environment's network
  // namespace, served by the engine as its Runtime API. Taken once; invalid otherwise.
  virtual sys::UniqueFd takeRuntimeApiListener() { return {}; }
  // The read ends of its stdout and stderr pipes (non-blocking), taken once by the engine.
  virtual sys::UniqueFd takeStdout() = 0;
  virtual sys::UniqueFd takeStderr() = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  // Starts the process; errors name the failing step (e.g. execve of a missing bootstrap).
  virtual Result<std::unique_ptr<SandboxProcess>> spawn(const SpawnSpec& spec) = 0;
  // True when environments get their own root filesystem (argv/env must use /var/task, ...).
  virtual bool isolatesFilesystem() const { return false; }
  // A uid for the next environment (0: this sandbox has none). Reserve it before the
  // environment's Runtime API listener exists, so the listener knows whom to accept; pass it in
  // SpawnSpec::uid (spawn() then owns it) or give it back with releaseUid().
  virtual uid_t reserveUid() { return 0; }
  virtual void releaseUid(uid_t) {}
  // True when SpawnSpec::network_none is honoured.
  virtual bool supportsNetworkNone() const { return false; }
  // True for uids this sandbox gives environments (the daemon refuses them as API clients).
  virtual bool isSandboxUid(uid_t) const { return false; }
  // The uid environments forked from the function-level snapshot `key` run as (its own, shared
  // by its forks), or 0 when there is no such snapshot (yet). Thread-safe.
  virtual uid_t snapshotUid(const std::string& /*key*/) { return 0; }
  // Takes the function snapshot `spec` describes (spec.snapshot) unless it exists, and waits up
  // to `wait` until it is ready. True when ready. Default: no snapshots. Thread-safe; blocks.
  virtual bool prepareSnapshot(const ZygoteSpec& /*spec*/, std::chrono::milliseconds /*wait*/) {
    return false;
  }
  // Starts the runtime zygote `spec` names (not a snapshot) in the background unless it exists,
  // so the first cold start of a function is already forked. Default: no zygotes.
  // Thread-safe; does not block.
  virtual void prewarmZygote(const ZygoteSpec& /*spec*/) {}
};

// Plain child processes in their own process group: no isolation (engine-core issue).
class ProcessSandbox final : public Sandbox {
 public:
  Result<std::unique_ptr<SandboxProcess>> spawn(const SpawnSpec& spec) override;
};

}  // namespace kindling::sandbox
