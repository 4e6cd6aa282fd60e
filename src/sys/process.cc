#include "sys/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include <dirent.h>

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
// Reads "PPid" and "VmHWM" from /proc/<pid>/status.
bool readStatus(pid_t pid, pid_t* ppid, uint64_t* hwm_kb) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char line[256];
  *hwm_kb = 0;
  *ppid = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "PPid:", 5) == 0) *ppid = static_cast<pid_t>(std::atol(line + 5));
    if (std::strncmp(line, "VmHWM:", 6) == 0) *hwm_kb = std::strtoull(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return true;
}
}  // namespace

uint64_t processTreePeakRss(pid_t root) {
  // Fast path: a process without children (the common single-process runtime).
  char children_path[96];
  std::snprintf(children_path, sizeof children_path, "/proc/%d/task/%d/children", root, root);
  std::ifstream children(children_path);
  std::string first;
  pid_t ppid = 0;
  uint64_t hwm = 0;
  if (children && !(children >> first)) {
    return readStatus(root, &ppid, &hwm) ? hwm * 1024 : 0;
  }
  // General case: scan /proc once and sum the tree below root.
  std::map<pid_t, std::pair<pid_t, uint64_t>> procs;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
      if (pid <= 0) continue;
      if (readStatus(pid, &ppid, &hwm)) procs[pid] = {ppid, hwm};
    }
    ::closedir(d);
  }
  uint64_t total_kb = 0;
  for (const auto& [pid, info] : procs) {
    for (pid_t p = pid; p > 1;) {
      if (p == root) {
        total_kb += info.second;
        break;
      }
      auto it = procs.find(p);
      if (it == procs.end()) break;
      p = it->second.first;
    }
  }
  return total_kb * 1024;
}

}  // namespace kindling::sys
