#include "spawner/linux_sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>

#include <spdlog/spdlog.h>

#include "sys/process.h"

namespace kindling::spawner {

namespace {

constexpr int kDefaultEphemeralMb = 512;  // Lambda's default EphemeralStorage

// What an isolated environment holds besides its process: its uid and its /tmp directory,
// returned when the environment is gone.
struct Lease {
  std::shared_ptr<sandbox::UidPool> uids;
  uid_t uid = 0;
  std::filesystem::path tmp_dir;
  ~Lease() {
    std::error_code ec;
    if (!tmp_dir.empty()) std::filesystem::remove_all(tmp_dir, ec);
    if (uids && uid != 0) uids->release(uid);
  }
};

class LinuxProcess final : public sandbox::SandboxProcess {
 public:
  LinuxProcess(SpawnedProcess p, std::unique_ptr<sandbox::Cgroup> cgroup,
               std::unique_ptr<Lease> lease, bool foreign = false)
      : lease_(std::move(lease)),
        foreign_(foreign),
        pid_(p.pid),
        pidfd_(std::move(p.pidfd)),
        stdout_(std::move(p.stdout_read)),
        stderr_(std::move(p.stderr_read)),
        runtime_api_listener_(std::move(p.runtime_api_listener)),
        exit_status_(std::move(p.exit_status)),
        cgroup_(std::move(cgroup)) {
    // In a PID namespace the exit-status pipe doubles as the exit fd (its write end belongs to
    // the namespace's init, so it turns readable when init reports or dies): the pidfd is not
    // kept, one fd less per environment. The pid stays ours to signal: an unreaped child's pid
    // cannot be reused.
    // Forked from a function snapshot (foreign_): the namespace's init is the snapshot's
    // child, not ours; the pidfd is what signals it safely, the status pipe what reports.
    if (exit_status_ && !foreign_) pidfd_.reset();
  }

  ~LinuxProcess() override {
    kill();
    if (!reaped_ && !foreign_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    // cgroup_'s destructor kills what is left in the group and removes its directories.
  }

  pid_t pid() const override { return pid_; }
  int exitFd() const override { return exit_status_ ? exit_status_.get() : pidfd_.get(); }
  bool exited() const override {
    if (exit_status_) {
      // Readable: init wrote the runtime's status and is exiting, or died (EOF). reap()'s
      // waitpid covers the last microseconds of init's exit.
      pollfd p{exit_status_.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) return true;
    }
    if (foreign_) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    }
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
      return true;  // ECHILD: already reaped, or not ours: let reap() report it
    }
    return info.si_pid != 0;
  }

  Result<sys::ExitStatus> reap() override {
    int status = 0;
    if (foreign_) {
      status = SIGKILL;  // init died without reporting: killed
    } else if (::waitpid(pid_, &status, 0) < 0) {
      return errnoError("waitpid(" + std::to_string(pid_) + ")");
    }
    reaped_ = true;
    // In a PID namespace our child is the namespace's init: the runtime's own status (written
    // by init before it exited) is what the caller must see ("signal: aborted", ...).
    if (exit_status_) {
      int runtime_status = 0;
      if (::read(exit_status_.get(), &runtime_status, sizeof runtime_status) ==
          static_cast<ssize_t>(sizeof runtime_status)) {
        status = runtime_status;
      }
    }
    // Whatever the runtime started dies with it, as when Lambda resets an environment.
    if (cgroup_) {
      if (auto st = cgroup_->killAll(); !st) spdlog::warn("{}", st.error().message());
    } else {
      ::kill(-pid_, SIGKILL);
    }
    return sys::exitStatusFromWait(status);
  }

  void kill() override {
    if (reaped_) return;
    if (cgroup_) (void)cgroup_->killAll();
    if (!foreign_) ::kill(-pid_, SIGKILL);
    if (pidfd_) {
      (void)sys::pidfdSignal(pidfd_.get(), SIGKILL);
    } else {
      ::kill(pid_, SIGKILL);  // not reaped yet (reaped_ is false): the pid is still this child
    }
  }

  uint64_t peakMemoryBytes() const override {
    if (cgroup_) {
      if (auto peak = cgroup_->peakMemoryBytes()) return *peak;
    }
    if (reaped_) return 0;
    // Opened on first use: with a cgroup (the usual case) the probe's two /proc fds are never
    // held.
    if (!probe_) probe_.emplace(pid_);
    return probe_->peakBytes();
  }

  uint64_t currentMemoryBytes() const override {
    if (cgroup_) {
      if (auto now = cgroup_->currentMemoryBytes()) return *now;
    }
    return peakMemoryBytes();
  }

  bool oomKilled() const override {
    if (!cgroup_) return false;
    auto kills = cgroup_->oomKillCount();
    return kills && *kills > 0;
  }

  bool canFreeze() const override { return cgroup_ != nullptr; }
  Status freeze() override { return cgroup_ ? cgroup_->freeze() : Status{}; }
  Status thaw() override { return cgroup_ ? cgroup_->thaw() : Status{}; }

  void onInitDone() override {
    if (!cgroup_) return;
    if (auto st = cgroup_->setCpuQuota(cgroup_->proportionalCpuQuota()); !st) {
      spdlog::warn("cpu quota: {}", st.error().message());
    }
  }

  sys::UniqueFd takeRuntimeApiListener() override { return std::move(runtime_api_listener_); }
  sys::UniqueFd takeStdout() override { return std::move(stdout_); }
  sys::UniqueFd takeStderr() override { return std::move(stderr_); }

 private:
  std::unique_ptr<Lease> lease_;  // destroyed last: after the process and its cgroup are gone
  const bool foreign_;  // not our child (forked from a function snapshot)
  const pid_t pid_;
  sys::UniqueFd pidfd_;  // direct spawns only (PID-namespace stubs: exit_status_ is the exit fd)
  sys::UniqueFd stdout_;
  sys::UniqueFd stderr_;
  sys::UniqueFd runtime_api_listener_;
  sys::UniqueFd exit_status_;  // the runtime's wait status, from its PID namespace's init
  std::unique_ptr<sandbox::Cgroup> cgroup_;
  mutable std::optional<sys::ProcessMemoryProbe> probe_;  // under the environment's lock only
  bool reaped_ = false;
};

}  // namespace

LinuxSandbox::LinuxSandbox(std::unique_ptr<SpawnerClient> spawner,
                           std::unique_ptr<sandbox::CgroupManager> cgroups, int host_cores,
                           LinuxSandboxOptions options)
    : spawner_(std::move(spawner)),
      cgroups_(std::move(cgroups)),
      host_cores_(host_cores),
      options_(options) {
  // Lambda's RLIMIT_NOFILE is 1,024. Under a lower hard limit (and without CAP_SYS_RESOURCE to
  // raise it) setrlimit(1024) fails with EPERM in every environment: give them the hard limit.
  rlimit own{};
  if (::getrlimit(RLIMIT_NOFILE, &own) == 0 && own.rlim_max < nofile_) {
    nofile_ = static_cast<uint32_t>(own.rlim_max);
    spdlog::warn("sandbox: the open-file hard limit is {}: environments get RLIMIT_NOFILE {} "
                 "instead of Lambda's 1024", own.rlim_max, nofile_);
  }
  isolate_ = cgroups_ && options_.isolate && !options_.work_dir.empty();
  if (isolate_) {
    std::error_code ec;
    std::filesystem::create_directories(options_.work_dir / "root", ec);
    std::filesystem::create_directories(options_.work_dir / "tmp", ec);
    uids_ = std::make_shared<sandbox::UidPool>(sandbox::kDefaultSandboxUidFirst,
                                               sandbox::kDefaultSandboxUidCount);
  }
  refill();
  if (cgroups_) {
    refiller_ = std::thread([this] {
      // Below the cold starts it works for: a stub taken wakes the refiller at once, and its
      // work (cgroup set-up, mkfs.ext4 of the next /tmp volume, which inherits this priority)
      // must not take a core from the environment that is starting.
      if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10) != 0) {
        spdlog::debug("sandbox: refiller priority: {}", std::strerror(errno));
      }
      std::unique_lock lock(pool_mu_);
      while (!stopping_) {
        auto wanted = [this] { return stopping_ || needsRefill(); };
        if (snapshotPending()) {
          // A snapshot's init is running: ask it again shortly whether it is ready.
          pool_cv_.wait_for(lock, kSnapshotPoll, wanted);
        } else {
          pool_cv_.wait(lock, wanted);
          if (!stopping_ && !refillUrgent()) {
            pool_cv_.wait_for(lock, kRefillSettle,
                              [this] { return stopping_ || refillUrgent() || snapshotPending(); });
          }
        }
        if (stopping_) break;
        lock.unlock();
        refill();
        refillZygotes();
        lock.lock();
      }
    });
  }
}

LinuxSandbox::~LinuxSandbox() {
  std::vector<Prepared> pool;
  {
    std::lock_guard lock(pool_mu_);
    stopping_ = true;
  }
  pool_cv_.notify_all();
  if (refiller_.joinable()) refiller_.join();
  {
    std::lock_guard lock(pool_mu_);
    pool.swap(pool_);
  }
  std::map<std::string, Zygote> zygotes;
  {
    std::lock_guard lock(pool_mu_);
    zygotes.swap(zygotes_);
  }
  for (auto& [key, zygote] : zygotes) {
    for (auto& stub : zygote.stubs) pool.push_back(std::move(stub));
    if (zygote.pid > 0) pool.push_back(Prepared{nullptr, 0, zygote.pid, std::nullopt});
  }
  for (auto& p : pool) {
    ::kill(p.pid, SIGKILL);
    int status = 0;
    ::waitpid(p.pid, &status, 0);  // stubs and zygotes are the daemon's children (CLONE_PARENT)
  }
}

bool LinuxSandbox::needsRefill() const {
  if (pool_.size() < options_.warm_stubs) return true;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [key, z] : zygotes_) {
    if (!z.broken.empty() || z.starting) continue;
    if (z.spec.snapshot && now < z.retry_at) continue;
    if (z.id == 0 || z.stubs.size() < options_.warm_zygote_stubs) return true;
  }
  return false;
}

bool LinuxSandbox::refillUrgent() const {
  // One stub taken is a lone cold start; two or more, a burst, which the refill must keep up
  // with (a cold start finding none waits for the next, then execs).
  if (pool_.size() + 1 < options_.warm_stubs) return true;
  for (const auto& [key, z] : zygotes_) {
    if (!z.broken.empty() || z.starting) continue;
    if (z.id == 0) return true;
    if (z.spec.snapshot && !z.ready) continue;
    if (z.stubs.size() + 1 < options_.warm_zygote_stubs) return true;
  }
  return false;
}

bool LinuxSandbox::snapshotPending() const {
  for (const auto& [key, z] : zygotes_) {
    if (z.spec.snapshot && z.broken.empty() && !z.ready) return true;
  }
  return false;
}

void LinuxSandbox::drainSnapshotOutput(Zygote& zygote) {
  char buf[4096];
  for (auto& fd : zygote.output) {
    if (!fd) continue;
    std::string text;
    while (true) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        text.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) fd.reset();  // EOF: the snapshot is gone
      break;
    }
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      spdlog::info("snapshot {}: {}", zygote.spec.key, text.substr(start, end - start));
      start = end + 1;
    }
  }
}

void LinuxSandbox::startSnapshot(const std::string& key, const sandbox::ZygoteSpec& zspec) {
  sandbox::SpawnSpec spec = *zspec.snapshot;
  uid_t uid = 0;
  if (auto acquired = uids_->acquire()) uid = *acquired;
  spec.uid = uid;  // spawnImpl's lease owns it from here
  uint32_t zygote_id = 0;
  auto process = spawnImpl(spec, /*snapshot=*/true, &zygote_id);
  std::lock_guard lock(pool_mu_);
  auto it = zygotes_.find(key);
  if (it == zygotes_.end()) return;  // dropped meanwhile: `process` goes with this scope
  Zygote& z = it->second;
  z.starting = false;
  const auto now = std::chrono::steady_clock::now();
  if (!process && process.error().sys_errno == EAGAIN) {
    z.retry_at = now + kSnapshotPoll;  // its runtime zygote is not ready yet
    return;
  }
  if (!process || zygote_id == 0) {
    breakZygote(z, "taking the snapshot: " +
                       (process ? std::string("the spawner kept no control socket")
                                : process.error().message()));
    return;
  }
  z.id = zygote_id;
  z.uid = uid;
  z.process = std::move(*process);
  z.output[0] = z.process->takeStdout();
  z.output[1] = z.process->takeStderr();
  for (auto& fd : z.output) {
    if (fd) ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  }
  z.started_at = now;
  z.retry_at = now;
  spdlog::info("fast start: snapshot {}: init running (pid {})", key, z.process->pid());
}

bool LinuxSandbox::prepareSnapshot(const sandbox::ZygoteSpec& spec,
                                   std::chrono::milliseconds wait) {
  if (!spec.snapshot || !options_.fast_start || !isolate_ || !cgroups_) return false;
  std::unique_lock lock(pool_mu_);
  auto [it, inserted] = zygotes_.try_emplace(spec.key);
  if (inserted) it->second.spec = spec;
  // Its runtime's zygote too: the snapshot is forked from it.
  if (spec.snapshot->zygote) {
    auto [runtime, fresh] = zygotes_.try_emplace(spec.snapshot->zygote->key);
    if (fresh) runtime->second.spec = *spec.snapshot->zygote;
  }
  pool_cv_.notify_one();
  const bool done = snapshot_cv_.wait_for(lock, wait, [&] {
    auto z = zygotes_.find(spec.key);
    return stopping_ || z == zygotes_.end() || !z->second.broken.empty() ||
           (z->second.ready && z->second.stubs.size() >= options_.warm_zygote_stubs);
  });
  auto z = zygotes_.find(spec.key);
  return done && z != zygotes_.end() && z->second.ready;
}

uid_t LinuxSandbox::snapshotUid(const std::string& key) {
  std::lock_guard lock(pool_mu_);
  auto it = zygotes_.find(key);
  if (it == zygotes_.end() || !it->second.broken.empty() || !it->second.process) return 0;
  return it->second.uid;
}

void LinuxSandbox::breakZygote(Zygote& zygote, const std::string& why) {
  spdlog::warn("fast start: zygote {} (pid {}) unusable: {}; its environments start normally",
               zygote.spec.key, zygote.pid, why);
  zygote.broken = why;
  zygote.broken_at = std::chrono::steady_clock::now();
  snapshot_cv_.notify_all();
  if (zygote.process) {
    drainSnapshotOutput(zygote);
    zygote.process.reset();  // kills the snapshot (and, with its PID namespace, its forks)
  }
  for (auto& fd : zygote.output) fd.reset();
  zygote.ready = false;
  zygote.uid = 0;
  for (auto& stub : zygote.stubs) {
    ::kill(stub.pid, SIGKILL);
    int status = 0;
    ::waitpid(stub.pid, &status, 0);
  }
  zygote.stubs.clear();
  if (zygote.pid > 0) {
    ::kill(zygote.pid, SIGKILL);
    int status = 0;
    ::waitpid(zygote.pid, &status, 0);
  }
  zygote.pid = -1;
  zygote.id = 0;
}

void LinuxSandbox::refillZygotes() {
  if (!options_.fast_start || !isolate_) return;
  std::vector<std::string> keys;
  {
    std::lock_guard lock(pool_mu_);
    for (const auto& [key, z] : zygotes_) keys.push_back(key);
  }
  for (const auto& key : keys) {
    sandbox::ZygoteSpec spec;
    uint32_t id = 0;
    {
      std::lock_guard lock(pool_mu_);
      auto it = zygotes_.find(key);
      if (stopping_ || it == zygotes_.end() || !it->second.broken.empty()) continue;
      spec = it->second.spec;
      id = it->second.id;
      if (id == 0) it->second.starting = true;
      if (spec.snapshot && id != 0 && std::chrono::steady_clock::now() < it->second.retry_at) {
        continue;
      }
    }
    if (spec.snapshot && id == 0) {
      startSnapshot(key, spec);
      continue;
    }
    if (spec.snapshot) {
      // Not ready until its init is done: asked every kSnapshotPoll (cheap: no stub made).
      auto ready = spawner_->snapshotReady(id);
      std::lock_guard lock(pool_mu_);
      auto it = zygotes_.find(key);
      if (it == zygotes_.end() || it->second.id != id) continue;
      Zygote& z = it->second;
      drainSnapshotOutput(z);
      if (!ready) {
        breakZygote(z, "its runtime exited during init (" + ready.error().message() + ")");
        continue;
      }
      if (!*ready) {
        const auto now = std::chrono::steady_clock::now();
        if (now - z.started_at > options_.snapshot_init_timeout) {
          // An init that never ends (a loop, a hang on the network) must not hold a process
          // and a core for good: the version's environments start normally and time out there.
          breakZygote(z, "its init did not finish within " +
                             std::to_string(options_.snapshot_init_timeout.count()) + " s");
          continue;
        }
        z.retry_at = now + kSnapshotPoll;
        continue;
      }
      if (!z.ready) {
        z.ready = true;
        snapshot_cv_.notify_all();
        spdlog::info("fast start: snapshot {} ready ({:.1f} ms after its spawn)", key,
                     std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                               z.started_at).count());
      }
    }
    if (id == 0) {
      const auto started = std::chrono::steady_clock::now();
      SpawnRequest request;
      request.argv = spec.argv;
      request.env = spec.env;
      request.env.push_back("KINDLING_ZYGOTE_LIB=" + options_.zygote_library.string());
      // pid 1 of forked environments (kindling-init beside the library; absent: the stub
      // stays init itself).
      const auto init = options_.zygote_library.parent_path() / "kindling-init";
      if (::access(init.c_str(), X_OK) == 0) request.env.push_back("KINDLING_INIT=" + init.string());
      auto z = spawner_->startZygote(request);
      std::lock_guard lock(pool_mu_);
      auto it = zygotes_.find(key);
      if (it == zygotes_.end()) continue;
      it->second.starting = false;
      if (!z) {
        breakZygote(it->second, "start: " + z.error().message());
        continue;
      }
      it->second.id = z->stub;
      it->second.pid = z->pid;
      id = z->stub;
      spdlog::info("fast start: zygote {} ready (pid {}, {:.1f} ms)", key, z->pid,
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             started).count());
    }
    for (size_t round = 0; round < options_.warm_zygote_stubs; ++round) {  // bounded: see refill()
      {
        std::lock_guard lock(pool_mu_);
        auto it = zygotes_.find(key);
        if (stopping_ || it == zygotes_.end() || it->second.id != id ||
            it->second.stubs.size() >= options_.warm_zygote_stubs) {
          break;
        }
      }
      auto p = prepare(id);
      std::lock_guard lock(pool_mu_);
      auto it = zygotes_.find(key);
      if (it == zygotes_.end() || it->second.id != id) {
        if (p) {
          ::kill(p->pid, SIGKILL);
          int status = 0;
          ::waitpid(p->pid, &status, 0);
        }
        break;
      }
      Zygote& z = it->second;
      if (p && z.spec.snapshot) p->foreign = true;
      // prepareSnapshot() waits for a snapshot's first stubs, takeZygoteStub() for any.
      if (p) snapshot_cv_.notify_all();
      if (!p) {
        breakZygote(z, p.error().message());
        break;
      }
      z.stubs.push_back(std::move(*p));
    }
  }
}

void LinuxSandbox::prewarmZygote(const sandbox::ZygoteSpec& spec) {
  if (!options_.fast_start || !isolate_ || spec.snapshot) return;
  {
    std::lock_guard lock(pool_mu_);
    if (stopping_) return;
    auto [it, inserted] = zygotes_.try_emplace(spec.key);
    if (!inserted) return;
    it->second.spec = spec;
  }
  pool_cv_.notify_one();  // the refiller starts it and forks its first stubs
}

std::optional<LinuxSandbox::Prepared> LinuxSandbox::takeZygoteStub(
    const sandbox::ZygoteSpec& spec, std::string* why, uid_t snapshot_uid) {
  // A broken zygote is tried again after this long (it may have died with a transient error).
  constexpr auto kRetryBroken = std::chrono::seconds(10);
  // No stub ready, but the zygote works: the refiller forks one within a few milliseconds,
  // sooner than an exec'd start would run (bursts of cold starts outpace the warm stubs).
  constexpr auto kStubWait = std::chrono::milliseconds(50);
  std::optional<Prepared> ready;
  {
    std::unique_lock lock(pool_mu_);
    auto [it, inserted] = zygotes_.try_emplace(spec.key);
    Zygote& z = it->second;
    if (inserted) {
      z.spec = spec;
      *why = "its zygote is starting";
    } else if (!z.broken.empty()) {
      *why = "its zygote is unusable (" + z.broken + ")";
      if (std::chrono::steady_clock::now() - z.broken_at > kRetryBroken) {
        z.broken.clear();
        z.spec = spec;
      }
    } else if (z.id == 0 || (spec.snapshot && !z.ready)) {
      *why = spec.snapshot ? "its snapshot is being taken" : "its zygote is starting";
    } else if (spec.snapshot && z.uid != snapshot_uid) {
      *why = "its snapshot was taken after the environment's Runtime API was set up";
    } else {
      if (z.stubs.empty()) {
        pool_cv_.notify_one();
        const std::string key = spec.key;
        snapshot_cv_.wait_for(lock, kStubWait, [&] {
          auto found = zygotes_.find(key);
          return stopping_ || found == zygotes_.end() || !found->second.broken.empty() ||
                 !found->second.stubs.empty();
        });
      }
      auto found = zygotes_.find(spec.key);
      if (found == zygotes_.end() || found->second.stubs.empty()) {
        *why = "no forked stub is ready (all taken; the refiller forks more)";
      } else {
        ready = std::move(found->second.stubs.back());
        found->second.stubs.pop_back();
      }
    }
  }
  pool_cv_.notify_one();
  return ready;
}

uid_t LinuxSandbox::reserveUid() {
  if (!isolate_) return 0;
  auto uid = uids_->acquire();
  return uid ? *uid : 0;
}

void LinuxSandbox::releaseUid(uid_t uid) {
  if (isolate_ && uid != 0) uids_->release(uid);
}

bool LinuxSandbox::isSandboxUid(uid_t uid) const {
  return isolate_ && uid >= sandbox::kDefaultSandboxUidFirst &&
         uid - sandbox::kDefaultSandboxUidFirst < sandbox::kDefaultSandboxUidCount;
}

Result<std::optional<TmpVolume>> LinuxSandbox::volumeFor(int size_mb) {
  if (!isolate_ || volumes_broken_) return std::nullopt;
  auto volume = makeTmpVolume(options_.work_dir / "volumes", size_mb);
  if (!volume) {
    const int err = volume.error().sys_errno;
    if (err == EMFILE || err == ENFILE) {
      // Out of file descriptors for now: the spawn fails (the engine throttles), and volumes
      // are not given up for good.
      return tl::unexpected(std::move(volume.error()).wrap("/tmp volume"));
    }
    if (!volumes_broken_.exchange(true)) {
      spdlog::warn("sandbox: /tmp volumes unavailable ({}); /tmp is a plain directory without a "
                   "size limit", volume.error().message());
    }
    return std::nullopt;
  }
  return std::move(*volume);
}

Result<LinuxSandbox::Prepared> LinuxSandbox::prepare(uint32_t zygote) {
  sandbox::CgroupLimits limits;
  limits.pids_max = options_.pids_max;
  limits.unthrottled_cpu = true;
  auto created = cgroups_->create("env-" + std::to_string(next_id_.fetch_add(1)), limits);
  if (!created) return tl::unexpected(std::move(created.error()).wrap("cgroup"));
  PrepareRequest request;
  request.new_pid_namespace = isolate_;
  request.drop_bounding_set = options_.drop_capabilities;
  if (isolate_) request.staging = (options_.work_dir / "root").string();
  request.zygote = zygote;
  for (const auto& dir : (*created)->directories()) {
    request.cgroup_procs.push_back((dir / "cgroup.procs").string());
  }
  auto volume = volumeFor(kDefaultEphemeralMb);
  if (!volume) return tl::unexpected(std::move(volume.error()));
  if (*volume) request.tmp_device = (*volume)->device;
  auto stub = spawner_->prepareStub(request);
  if (!stub) return tl::unexpected(std::move(stub.error()));
  return Prepared{std::move(*created), stub->reply.stub, stub->reply.pid, std::move(*volume),
                  false, std::move(stub->ends)};
}

void LinuxSandbox::refill() {
  if (!cgroups_) return;
  // Bounded per round: under a burst of cold starts the pool drains as fast as it fills, and
  // the refiller must still get to the zygotes (refillZygotes) in between.
  for (size_t round = 0; round < options_.warm_stubs; ++round) {
    {
      std::lock_guard lock(pool_mu_);
      if (pool_.size() >= options_.warm_stubs) return;
    }
    auto p = prepare();
    if (!p) {
      spdlog::warn("sandbox: preparing a warm stub failed: {}", p.error().message());
      return;
    }
    // Prepared while the lock was not held: a concurrent stop may already have emptied the
    // pool; the destructor reaps whatever is in it afterwards.
    std::lock_guard lock(pool_mu_);
    pool_.push_back(std::move(*p));
  }
}

Result<std::unique_ptr<sandbox::SandboxProcess>> LinuxSandbox::spawn(
    const sandbox::SpawnSpec& spec) {
  return spawnImpl(spec, /*snapshot=*/false, nullptr);
}

Result<std::unique_ptr<sandbox::SandboxProcess>> LinuxSandbox::spawnImpl(
    const sandbox::SpawnSpec& spec, bool snapshot, uint32_t* snapshot_zygote) {
  // The environment's uid: reserved by the caller (its Runtime API listener accepts only it),
  // else taken below. The lease returns it when the environment is gone, or on any failure.
  std::unique_ptr<Lease> lease;
  if (isolate_ && spec.uid != 0) {
    lease = std::make_unique<Lease>();
    lease->uids = uids_;
    lease->uid = spec.uid;
  }
  SpawnRequest request;
  request.argv = spec.argv;
  request.env = spec.env;
  request.cwd = spec.cwd.string();
  request.seccomp = options_.seccomp;
  request.drop_capabilities = options_.drop_capabilities;
  request.nofile = nofile_;
  std::unique_ptr<sandbox::Cgroup> cgroup;
  std::optional<TmpVolume> volume;  // its loop fd is held until the environment has mounted it
  // What can fail for want of resources (uid, a /tmp volume of a non-default size: EMFILE
  // under fd pressure) is taken before a stub leaves the pool, so a failure wastes no stub.
  if (isolate_) {
    if (!lease) {
      auto uid = uids_->acquire();
      if (!uid) return tl::unexpected(std::move(uid.error()).wrap("sandbox uid"));
      lease = std::make_unique<Lease>();
      lease->uids = uids_;
      lease->uid = *uid;
    }
    if (spec.ephemeral_storage_mb != kDefaultEphemeralMb) {
      auto made = volumeFor(spec.ephemeral_storage_mb);
      if (!made) return tl::unexpected(std::move(made.error()));
      volume = std::move(*made);
    }
  }
  pid_t stub_pid = -1;  // a stub taken from the pool: killed and reaped if the spawn fails early
  auto discard_stub = [&stub_pid] {
    if (stub_pid <= 0) return;
    ::kill(stub_pid, SIGKILL);
    int status = 0;
    ::waitpid(stub_pid, &status, 0);  // the stub is the daemon's child (CLONE_PARENT)
  };
  std::optional<StubEnds> ends;  // the stub's, when the daemon launches it itself
  bool forked = false;  // from a zygote (fast start)
  bool foreign = false;  // from a function snapshot
  const sandbox::ZygoteSpec* forked_from = nullptr;
  if (cgroups_) {
    std::optional<Prepared> ready;
    if (spec.zygote && options_.fast_start && isolate_) {
      // A function snapshot first (if the spec names one), then its runtime's zygote.
      std::vector<const sandbox::ZygoteSpec*> candidates{&*spec.zygote};
      if (spec.zygote->snapshot && spec.zygote->snapshot->zygote) {
        candidates.push_back(&*spec.zygote->snapshot->zygote);
      }
      std::string why;
      for (const auto* candidate : candidates) {
        std::string reason;
        ready = takeZygoteStub(*candidate, &reason, spec.snapshot_uid);
        if (ready) {
          forked_from = candidate;
          break;
        }
        why += (why.empty() ? "" : "; ") + reason;
      }
      forked = ready.has_value();
      foreign = forked && ready->foreign;
      if (!forked && !snapshot) {
        spdlog::info("fast start: {} environment falls back to a normal cold start: {}",
                     spec.zygote->key, why);
      } else if (forked && forked_from != &*spec.zygote) {
        spdlog::info("fast start: {} environment starts without its snapshot: {}",
                     spec.zygote->key, why);
      }
    }
    if (snapshot && !forked) {
      return tl::unexpected(Error{ErrorCode::Io, EAGAIN, "no runtime zygote stub for a snapshot"});
    }
    if (!ready) {
      std::lock_guard lock(pool_mu_);
      if (!pool_.empty()) {
        ready = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!ready) {
      auto p = prepare();
      if (!p) return tl::unexpected(std::move(p.error()));
      ready = std::move(*p);
    }
    sandbox::CgroupLimits limits;
    limits.memory_mb = spec.memory_mb;
    limits.pids_max = options_.pids_max;
    limits.unthrottled_cpu = true;  // burst CPU during init; onInitDone() applies the share
    if (auto st = ready->cgroup->setLimits(limits); !st) {
      ::kill(ready->pid, SIGKILL);
      int status = 0;
      ::waitpid(ready->pid, &status, 0);
      return tl::unexpected(std::move(st.error()).wrap("cgroup limits"));
    }
    request.stub = ready->stub;
    stub_pid = ready->pid;
    ends = std::move(ready->ends);
    cgroup = std::move(ready->cgroup);
    if (!volume && ready->volume && ready->volume->size_mb == spec.ephemeral_storage_mb) {
      volume = std::move(ready->volume);
    }
  }
  if (isolate_ && request.stub != 0 && lease) {
    const uid_t* uid = &lease->uid;
    if (!volume) {
      auto made = volumeFor(spec.ephemeral_storage_mb);
      if (!made) {
        discard_stub();
        return tl::unexpected(std::move(made.error()));
      }
      volume = std::move(*made);
    }
    if (volume) {
      request.tmp_device = volume->device;
    } else {
      lease->tmp_dir =
          options_.work_dir / "tmp" / ("env-" + std::to_string(next_id_.fetch_add(1)));
      if (::mkdir(lease->tmp_dir.c_str(), 0700) != 0 ||
          ::chown(lease->tmp_dir.c_str(), *uid, *uid) != 0) {
        auto error = errnoError("mkdir/chown(" + lease->tmp_dir.string() + ")");
        discard_stub();
        return error;
      }
      request.tmp_dir = lease->tmp_dir.string();
    }
    request.isolate = true;
    request.snapshot = snapshot;
    request.network_none = spec.network_none;
    request.uid = *uid;
    request.gid = *uid;
    request.hostname = "kindling";
    request.staging = (options_.work_dir / "root").string();
    request.task_root = spec.view.task_root.string();
    request.runtime_dir = spec.view.runtime_dir.string();
    request.lang_dir = spec.view.lang_dir.string();
    request.opt_dir = spec.view.opt_dir.string();
    for (const auto& [source, target] : spec.view.extra_read_only) {
      request.ro_sources.push_back(source.string());
      request.ro_targets.push_back(target.string());
    }
    request.rw_source = spec.view.read_write.first.string();
    request.rw_target = spec.view.read_write.second.string();
  }
  auto spawned = ends ? spawner_->launch(std::move(*ends), stub_pid, std::move(request))
                      : spawner_->spawn(request);
  if (!spawned && forked && !snapshot) {
    // The forked stub failed before the runtime ran: start this environment normally (the
    // retry takes over the uid; this lease must not give it back). One forked from a function
    // snapshot tries its runtime's zygote next.
    spdlog::warn("fast start: {} environment falls back to a normal cold start: forked stub "
                 "failed: {}", spec.zygote->key, spawned.error().message());
    if (lease && spec.uid != 0) lease->uid = 0;
    sandbox::SpawnSpec fallback = spec;
    if (foreign && spec.zygote->snapshot) {
      fallback.zygote = spec.zygote->snapshot->zygote;
    } else {
      fallback.zygote.reset();
    }
    return spawnImpl(fallback, false, nullptr);
  }
  if (!spawned) return tl::unexpected(std::move(spawned.error()));
  if (snapshot_zygote) *snapshot_zygote = spawned->snapshot_zygote;
  pool_cv_.notify_one();  // the refiller thread replaces the stub, off the cold-start path
  return std::unique_ptr<sandbox::SandboxProcess>(std::make_unique<LinuxProcess>(
      std::move(*spawned), std::move(cgroup), std::move(lease), foreign));
}

}  // namespace kindling::spawner
