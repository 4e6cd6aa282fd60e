// LinuxSandbox: environments created by the spawner process, each in its own cgroup (memory
// limit = MemorySize, CPU quota proportional to memory, pids limit), with no capabilities,
// no_new_privs, a seccomp filter and Lambda's rlimits. Namespaces, the minimal root filesystem
// and per-environment uids come next (issue 3); see docs/design.md for what is enforced today.
// Fast start (options.fast_start): specs naming a runtime zygote take a stub forked from it
// (kept warm per zygote by the refiller thread), else fall back to the spawner's stubs, logged.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sandbox/cgroup.h"
#include "sandbox/privileges.h"
#include "sandbox/sandbox.h"
#include "spawner/spawner.h"
#include "spawner/tmp_volume.h"

namespace kindling::spawner {

struct LinuxSandboxOptions {
  bool seccomp = true;
  bool drop_capabilities = true;
  int pids_max = 1024;
  // Stubs kept ready inside fresh cgroups: joining a v1 cgroup costs an RCU grace period
  // (10-20 ms here), so it is paid ahead of time, off the cold-start path (SOCK-style pooling).
  size_t warm_stubs = 4;
  // Own root filesystem (mount, UTS, IPC namespaces) and uid per environment. Needs cgroups
  // (the stubs) and work_dir (the new roots' mount point and the environments' /tmp dirs).
  bool isolate = true;
  std::filesystem::path work_dir;
  // Fast start: environments whose SpawnSpec names a zygote are forked from it (needs isolate
  // and cgroups). zygote_library: libkindling_zygote.so, loaded by the zygotes.
  bool fast_start = false;
  std::filesystem::path zygote_library;
  size_t warm_zygote_stubs = 4;  // forked stubs kept ready per zygote
  // A function snapshot whose init has not finished by then is given up (SnapStart's init
  // bound, as the engine's for snapshot-less SnapStart environments).
  std::chrono::seconds snapshot_init_timeout{130};
};

class LinuxSandbox final : public sandbox::Sandbox {
 public:
  // `cgroups` may be null (no usable cgroup hierarchy): limits are then not enforced and memory
  // is measured from /proc.
  ~LinuxSandbox() override;
  LinuxSandbox(std::unique_ptr<SpawnerClient> spawner,
               std::unique_ptr<sandbox::CgroupManager> cgroups, int host_cores,
               LinuxSandboxOptions options = {});
  Result<std::unique_ptr<sandbox::SandboxProcess>> spawn(const sandbox::SpawnSpec& spec) override;
  bool isolatesFilesystem() const override { return isolate_; }
  bool supportsNetworkNone() const override { return isolate_; }
  uid_t reserveUid() override;
  void releaseUid(uid_t uid) override;
  bool isSandboxUid(uid_t uid) const override;
  uid_t snapshotUid(const std::string& key) override;
  bool prepareSnapshot(const sandbox::ZygoteSpec& spec, std::chrono::milliseconds wait) override;
  void prewarmZygote(const sandbox::ZygoteSpec& spec) override;

 private:
  struct Prepared {
    std::unique_ptr<sandbox::Cgroup> cgroup;
    uint32_t stub = 0;
    pid_t pid = -1;
    std::optional<TmpVolume> volume;  // /tmp of the default ephemeral size (512 MB)
    bool foreign = false;  // forked from a function snapshot: not the daemon's child
    // The stub's ends, when the spawner handed them over: launched by the daemon itself.
    std::optional<StubEnds> ends = std::nullopt;
  };
  // A /tmp volume of size_mb, or nullopt (logged once) where loop devices are unavailable; an
  // error only when the daemon is out of file descriptors (EMFILE/ENFILE, transient).
  Result<std::optional<TmpVolume>> volumeFor(int size_mb);
  // One runtime zygote and the stubs forked from it (all guarded by pool_mu_).
  struct Zygote {
    sandbox::ZygoteSpec spec;
    uint32_t id = 0;   // spawner's zygote id; 0 while not started
    pid_t pid = -1;    // a child of the daemon
    bool starting = false;
    std::vector<Prepared> stubs;
    std::string broken;  // why it cannot be used ("" = usable)
    std::chrono::steady_clock::time_point broken_at{};
    // Function-level snapshots (spec.snapshot): the snapshot's own environment process, its
    // uid, when it was spawned and when the refiller asks it again whether it is ready.
    std::unique_ptr<sandbox::SandboxProcess> process;
    sys::UniqueFd output[2];  // its stdout and stderr, drained into the daemon's log
    uid_t uid = 0;
    bool ready = false;
    std::chrono::steady_clock::time_point started_at{};
    std::chrono::steady_clock::time_point retry_at{};
  };
  // Spawns the snapshot for `key` (refiller thread); false when it must be tried again later.
  void startSnapshot(const std::string& key, const sandbox::ZygoteSpec& spec);
  // Logs what a snapshot printed so far (its init's output) without blocking.
  static void drainSnapshotOutput(Zygote& zygote);
  // spawn(); with `snapshot` the process becomes a function snapshot (forked from a runtime
  // zygote only, else EAGAIN) whose zygote id goes to *snapshot_zygote.
  Result<std::unique_ptr<sandbox::SandboxProcess>> spawnImpl(const sandbox::SpawnSpec& spec,
                                                             bool snapshot,
                                                             uint32_t* snapshot_zygote);
  // True while a snapshot's init runs (the refiller then polls). Call with pool_mu_ held.
  bool snapshotPending() const;
  static constexpr std::chrono::milliseconds kSnapshotPoll{5};
  // A stub in a fresh cgroup: cloned by the spawner (zygote 0) or forked from a zygote.
  Result<Prepared> prepare(uint32_t zygote = 0);
  void refill();
  // Starts wanted zygotes and tops up their stubs (refiller thread).
  void refillZygotes();
  // True when the refiller has something to do. Call with pool_mu_ held.
  bool needsRefill() const;
  // True when a pool the refiller tops up lacks more than one stub (a burst: cold starts would
  // soon wait for stubs or exec): then it refills at once; otherwise (one cold start took one)
  // it lets kRefillSettle pass first. Call with pool_mu_ held.
  bool refillUrgent() const;
  // How long a refill waits after a stub was taken while others are still ready: the refill's
  // work (a cgroup, a /tmp volume, a fork of the zygote) then runs after the cold start that
  // took the stub instead of beside it, on hosts with few cores.
  static constexpr std::chrono::milliseconds kRefillSettle{25};
  // Marks a zygote unusable (logged once), reaps it and its stubs. Call with pool_mu_ held.
  void breakZygote(Zygote& zygote, const std::string& why);
  // Takes a forked stub for `spec`, or says why there is none (the caller falls back).
  // Snapshot specs: only when the snapshot's uid is `snapshot_uid` (the one the environment's
  // Runtime API accepts).
  std::optional<Prepared> takeZygoteStub(const sandbox::ZygoteSpec& spec, std::string* why,
                                         uid_t snapshot_uid = 0);

  std::unique_ptr<SpawnerClient> spawner_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  // A snapshot became ready or unusable, or a zygote got a stub (waited for by
  // prepareSnapshot and takeZygoteStub).
  std::condition_variable snapshot_cv_;
  std::vector<Prepared> pool_;  // guarded by pool_mu_
  std::map<std::string, Zygote> zygotes_;  // by ZygoteSpec::key; guarded by pool_mu_
  bool stopping_ = false;       // guarded by pool_mu_
  std::thread refiller_;        // keeps the pool full, off the cold-start path
  std::unique_ptr<sandbox::CgroupManager> cgroups_;
  const int host_cores_;
  const LinuxSandboxOptions options_;
  std::atomic<uint64_t> next_id_{1};
  bool isolate_ = false;
  uint32_t nofile_ = 1024;  // environments' RLIMIT_NOFILE: Lambda's, or the lower hard limit
  std::atomic<bool> volumes_broken_{false};  // loop devices failed once: plain dirs for /tmp
  std::shared_ptr<sandbox::UidPool> uids_;  // shared with processes, which return their uid
};

}  // namespace kindling::spawner
