// ProcessSandbox: fork + exec of the runtime in its own process group. Between fork and exec the
// child only calls async-signal-safe functions on memory prepared before the fork, and reports a
// failure as {stage, errno} on a CLOEXEC pipe (house style), which the parent turns into an
// error naming the step. vfork-like speed comes from preparing argv/envp up front.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/sandbox.h"

namespace kindling::sandbox {

namespace {

enum class ChildStage : int { Setpgid = 1, Dup2, Chdir, Exec };

const char* stageName(ChildStage stage) {
  switch (stage) {
    case ChildStage::Setpgid: return "setpgid";
    case ChildStage::Dup2: return "dup2";
    case ChildStage::Chdir: return "chdir";
    case ChildStage::Exec: return "execve";
  }
  return "?";
}

class PlainProcess final : public SandboxProcess {
 public:
  PlainProcess(pid_t pid, sys::UniqueFd pidfd, sys::UniqueFd out, sys::UniqueFd err)
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        stdout_(std::move(out)),
        stderr_(std::move(err)),
        memory_(pid) {}
  ~PlainProcess() override {
    kill();
    if (!reaped_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
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
    pid_t r = ::waitpid(pid_, &status, 0);
    if (r < 0) return errnoError("waitpid(" + std::to_string(pid_) + ")");
    reaped_ = true;
    // The runtime's children die with it, as on Lambda when the environment is reset.
    ::kill(-pid_, SIGKILL);
    return sys::exitStatusFromWait(status);
  }
  void kill() override {
    if (reaped_) return;
    ::kill(-pid_, SIGKILL);  // the whole process group
    (void)sys::pidfdSignal(pidfd_.get(), SIGKILL);
  }
  uint64_t peakMemoryBytes() const override {
    return reaped_ ? 0 : memory_.peakBytes();
  }
  bool oomKilled() const override { return false; }
  sys::UniqueFd takeStdout() override { return std::move(stdout_); }
  sys::UniqueFd takeStderr() override { return std::move(stderr_); }

 private:
  pid_t pid_;
  sys::UniqueFd pidfd_;
  sys::UniqueFd stdout_;
  sys::UniqueFd stderr_;
  bool reaped_ = false;
  // Called under the environment's lock only, hence never concurrently.
  mutable sys::ProcessMemoryProbe memory_;
};

}  // namespace

Result<std::unique_ptr<SandboxProcess>> ProcessSandbox::spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return makeError(ErrorCode::InvalidArgument, "spawn: empty argv");
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::string cwd = spec.cwd.string();

  auto out = sys::makePipe(true);
  if (!out) return tl::unexpected(std::move(out.error()));
  auto err = sys::makePipe(true);
  if (!err) return tl::unexpected(std::move(err.error()));
  auto report = sys::makePipe(false);
  if (!report) return tl::unexpected(std::move(report.error()));

  const int out_w = out->write.get();
  const int err_w = err->write.get();
  const int report_w = report->write.get();
  const pid_t pid = ::fork();
  if (pid < 0) return errnoError("fork()");
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    auto fail = [report_w](ChildStage stage) {
      int msg[2] = {static_cast<int>(stage), errno};
      ssize_t ignored = ::write(report_w, msg, sizeof msg);
      (void)ignored;
      ::_exit(127);
    };
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (::setpgid(0, 0) != 0) fail(ChildStage::Setpgid);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out_w, 1) < 0 || ::dup2(err_w, 2) < 0) {
      fail(ChildStage::Dup2);
    }
    if (::chdir(cwd.c_str()) != 0) fail(ChildStage::Chdir);
    ::execve(argv[0], argv.data(), envp.data());
    fail(ChildStage::Exec);
  }
  // Parent.
  out->write.reset();
  err->write.reset();
  report->write.reset();
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report->read.get(), msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof msg)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return tl::unexpected(Error{ErrorCode::Io, msg[1],
                                std::string(stageName(static_cast<ChildStage>(msg[0]))) + "(" +
                                    (msg[0] == static_cast<int>(ChildStage::Exec) ? spec.argv[0]
                                                                                   : cwd) +
                                    ")"});
  }
  auto pidfd = sys::pidfdOpen(pid);
  if (!pidfd) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return tl::unexpected(std::move(pidfd.error()));
  }
  return std::make_unique<PlainProcess>(pid, std::move(*pidfd), std::move(out->read),
                                        std::move(err->read));
}

}  // namespace kindling::sandbox
