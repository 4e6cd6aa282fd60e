#include "spawner/linux_sandbox.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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
               std::unique_ptr<Lease> lease)
      : lease_(std::move(lease)),
        pid_(p.pid),
        pidfd_(std::move(p.pidfd)),
        stdout_(std::move(p.stdout_read)),
        stderr_(std::move(p.stderr_read)),
        runtime_api_listener_(std::move(p.runtime_api_listener)),
        exit_status_(std::move(p.exit_status)),
        cgroup_(std::move(cgroup)),
        probe_(p.pid) {}

  ~LinuxProcess() override {
    kill();
    if (!reaped_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    // cgroup_'s destructor kills what is left in the group and removes its directories.
  }

  pid_t pid() const override { return pid_; }
  int exitFd() const override { return pidfd_.get(); }
  bool exited() const override {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
      return true;  // ECHILD: already reaped, or not ours: let reap() report it
    }
    return info.si_pid != 0;
  }

  Result<sys::ExitStatus> reap() override {
    int status = 0;
    if (::waitpid(pid_, &status, 0) < 0) return errnoError("waitpid(" + std::to_string(pid_) + ")");
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
    ::kill(-pid_, SIGKILL);
    (void)sys::pidfdSignal(pidfd_.get(), SIGKILL);
  }

  uint64_t peakMemoryBytes() const override {
    if (cgroup_) {
      if (auto peak = cgroup_->peakMemoryBytes()) return *peak;
    }
    return reaped_ ? 0 : probe_.peakBytes();
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
  const pid_t pid_;
  sys::UniqueFd pidfd_;
  sys::UniqueFd stdout_;
  sys::UniqueFd stderr_;
  sys::UniqueFd runtime_api_listener_;
  sys::UniqueFd exit_status_;  // the runtime's wait status, from its PID namespace's init
  std::unique_ptr<sandbox::Cgroup> cgroup_;
  mutable sys::ProcessMemoryProbe probe_;  // used under the environment's lock only
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
      std::unique_lock lock(pool_mu_);
      while (!stopping_) {
        pool_cv_.wait(lock, [this] { return stopping_ || pool_.size() < options_.warm_stubs; });
        if (stopping_) break;
        lock.unlock();
        refill();
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
  for (auto& p : pool) {
    ::kill(p.pid, SIGKILL);
    int status = 0;
    ::waitpid(p.pid, &status, 0);  // stubs are the daemon's children (CLONE_PARENT)
  }
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

std::optional<TmpVolume> LinuxSandbox::volumeFor(int size_mb) {
  if (!isolate_ || volumes_broken_) return std::nullopt;
  auto volume = makeTmpVolume(options_.work_dir / "volumes", size_mb);
  if (!volume) {
    if (!volumes_broken_.exchange(true)) {
      spdlog::warn("sandbox: /tmp volumes unavailable ({}); /tmp is a plain directory without a "
                   "size limit", volume.error().message());
    }
    return std::nullopt;
  }
  return std::move(*volume);
}

Result<LinuxSandbox::Prepared> LinuxSandbox::prepare() {
  sandbox::CgroupLimits limits;
  limits.pids_max = options_.pids_max;
  limits.unthrottled_cpu = true;
  auto created = cgroups_->create("env-" + std::to_string(next_id_.fetch_add(1)), limits);
  if (!created) return tl::unexpected(std::move(created.error()).wrap("cgroup"));
  PrepareRequest request;
  request.new_pid_namespace = isolate_;
  for (const auto& dir : (*created)->directories()) {
    request.cgroup_procs.push_back((dir / "cgroup.procs").string());
  }
  auto stub = spawner_->prepareStub(request);
  if (!stub) return tl::unexpected(std::move(stub.error()));
  return Prepared{std::move(*created), stub->stub, stub->pid, volumeFor(kDefaultEphemeralMb)};
}

void LinuxSandbox::refill() {
  if (!cgroups_) return;
  while (true) {
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
  std::unique_ptr<sandbox::Cgroup> cgroup;
  std::optional<TmpVolume> volume;  // its loop fd is held until the environment has mounted it
  if (cgroups_) {
    std::optional<Prepared> ready;
    {
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
    cgroup = std::move(ready->cgroup);
    if (ready->volume && ready->volume->size_mb == spec.ephemeral_storage_mb) {
      volume = std::move(ready->volume);
    }
  }
  if (isolate_ && request.stub != 0) {
    if (!lease) {
      auto uid = uids_->acquire();
      if (!uid) return tl::unexpected(std::move(uid.error()).wrap("sandbox uid"));
      lease = std::make_unique<Lease>();
      lease->uids = uids_;
      lease->uid = *uid;
    }
    const uid_t* uid = &lease->uid;
    if (!volume) volume = volumeFor(spec.ephemeral_storage_mb);
    if (volume) {
      request.tmp_device = volume->device;
    } else {
      lease->tmp_dir =
          options_.work_dir / "tmp" / ("env-" + std::to_string(next_id_.fetch_add(1)));
      if (::mkdir(lease->tmp_dir.c_str(), 0700) != 0 ||
          ::chown(lease->tmp_dir.c_str(), *uid, *uid) != 0) {
        return errnoError("mkdir/chown(" + lease->tmp_dir.string() + ")");
      }
      request.tmp_dir = lease->tmp_dir.string();
    }
    request.isolate = true;
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
  }
  auto spawned = spawner_->spawn(request);
  if (!spawned) return tl::unexpected(std::move(spawned.error()));
  pool_cv_.notify_one();  // the refiller thread replaces the stub, off the cold-start path
  return std::unique_ptr<sandbox::SandboxProcess>(std::make_unique<LinuxProcess>(
      std::move(*spawned), std::move(cgroup), std::move(lease)));
}

}  // namespace kindling::spawner
