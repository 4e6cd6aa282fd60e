#include "sys/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>


namespace kindling::sys {

Result<Pipe> makePipe(bool nonblocking_read) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errnoError("pipe2(O_CLOEXEC)");
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (nonblocking_read) {
    int flags = ::fcntl(p.read.get(), F_GETFL);
    if (flags < 0 || ::fcntl(p.read.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return errnoError("fcntl(O_NONBLOCK)");
    }
  }
  return p;
}

Result<UniqueFd> pidfdOpen(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errnoError("pidfd_open(" + std::to_string(pid) + ")");
  return UniqueFd(fd);
}

Status pidfdSignal(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return {};
    return errnoError("pidfd_send_signal(" + std::to_string(sig) + ")");
  }
  return {};
}

std::string signalName(int sig) {
  // Go's syscall.Signal.String() names, which Lambda prints ("signal: killed").
  switch (sig) {
    case SIGHUP: return "hangup";
    case SIGINT: return "interrupt";
    case SIGQUIT: return "quit";
    case SIGILL: return "illegal instruction";
    case SIGTRAP: return "trace/breakpoint trap";
    case SIGABRT: return "aborted";
    case SIGBUS: return "bus error";
    case SIGFPE: return "floating point exception";
    case SIGKILL: return "killed";
    case SIGUSR1: return "user defined signal 1";
    case SIGSEGV: return "segmentation fault";
    case SIGUSR2: return "user defined signal 2";
    case SIGPIPE: return "broken pipe";
    case SIGALRM: return "alarm clock";
    case SIGTERM: return "terminated";
    case SIGXCPU: return "CPU time limit exceeded";
    case SIGXFSZ: return "file size limit exceeded";
    case SIGSYS: return "bad system call";
    default: return "signal " + std::to_string(sig);
  }
}

ExitStatus exitStatusFromWait(int wait_status) {
  ExitStatus out;
  if (WIFSIGNALED(wait_status)) {
    out.signaled = true;
    out.code = WTERMSIG(wait_status);
  } else {
    out.code = WEXITSTATUS(wait_status);
  }
  return out;
}

std::string describeExit(const ExitStatus& status) {
  if (status.signaled) return "signal: " + signalName(status.code);
  return "exit status " + std::to_string(status.code);
}

Result<unsigned long> raiseFileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return errnoError("getrlimit(RLIMIT_NOFILE)");
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return errnoError("setrlimit(RLIMIT_NOFILE)");
  }
  return static_cast<unsigned long>(rl.rlim_cur);
}


namespace {

uint64_t parseHwmKb(const char* text) {
  const char* p = std::strstr(text, "VmHWM:");
  return p ? std::strtoull(p + 6, nullptr, 10) : 0;
}

// Reads a whole small /proc file from offset 0 into buf (NUL-terminated); false on error.
bool preadAll(int fd, char* buf, size_t size) {
  const ssize_t n = ::pread(fd, buf, size - 1, 0);
  if (n < 0) return false;
  buf[n] = '\0';
  return true;
}

bool readFile(const char* path, char* buf, size_t size) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  return fd && preadAll(fd.get(), buf, size);
}

// Adds the HWM of every descendant listed in `children` (space-separated pids), recursively.
uint64_t descendantsHwmKb(const char* children, int depth) {
  if (depth > 32) return 0;
  uint64_t total = 0;
  const char* p = children;
  char path[64];
  char buf[4096];
  while (*p) {
    char* end = nullptr;
    const long pid = std::strtol(p, &end, 10);
    if (end == p) break;
    p = end;
    std::snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (readFile(path, buf, sizeof buf)) total += parseHwmKb(buf);
    std::snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    if (readFile(path, buf, sizeof buf) && buf[0]) total += descendantsHwmKb(buf, depth + 1);
  }
  return total;
}

}  // namespace

uint64_t processTreePeakRss(pid_t root) {
  ProcessMemoryProbe probe(root);
  return probe.peakBytes();
}

ProcessMemoryProbe::ProcessMemoryProbe(pid_t root) : root_(root) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", root);
  status_.reset(::open(path, O_RDONLY | O_CLOEXEC));
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", root, root);
  children_.reset(::open(path, O_RDONLY | O_CLOEXEC));
}

uint64_t ProcessMemoryProbe::peakBytes() {
  char buf[4096];
  uint64_t total_kb = 0;
  if (status_ && preadAll(status_.get(), buf, sizeof buf)) total_kb += parseHwmKb(buf);
  if (children_ && preadAll(children_.get(), buf, sizeof buf) && buf[0]) {
    total_kb += descendantsHwmKb(buf, 0);
  }
  (void)root_;
  return total_kb * 1024;
}

}  // namespace kindling::sys
