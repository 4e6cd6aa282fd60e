// Thin wrappers for processes: pipes, pidfds, exit statuses, /proc memory readings.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "sys/unique_fd.h"

namespace kindling::sys {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
// pipe2(O_CLOEXEC); the read end is non-blocking when nonblocking_read is set.
Result<Pipe> makePipe(bool nonblocking_read);

// pidfd_open(2): a descriptor that becomes readable when the process exits.
Result<UniqueFd> pidfdOpen(pid_t pid);
// pidfd_send_signal(2).
Status pidfdSignal(int pidfd, int sig);

// How a process ended, as Lambda words it.
struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit status, or the signal number when signaled
};
// Decodes a waitpid() status.
ExitStatus exitStatusFromWait(int wait_status);
// "exit status 3", "signal: killed" (Go's signal names, as Lambda prints them).
std::string describeExit(const ExitStatus& status);
// Lambda's short signal names: "killed", "aborted", "segmentation fault", ...
std::string signalName(int sig);

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
Result<unsigned long> raiseFileLimit();

// Resident high-water marks (VmHWM) summed over a process and all its descendants, in bytes.
// Best effort: processes that exit between reads are skipped. Descendants are found through
// each process's main-thread `children` file (children forked by other threads are missed; the
// cgroup-based measurement of the sandbox has no such gap).
uint64_t processTreePeakRss(pid_t root);

// The same measurement for one long-lived process, on the invoke path: keeps the root's
// /proc files open and re-reads them with pread (no open/close per reading). Not thread-safe.
class ProcessMemoryProbe {
 public:
  explicit ProcessMemoryProbe(pid_t root);
  uint64_t peakBytes();

 private:
  pid_t root_;
  UniqueFd status_;
  UniqueFd children_;
};

}  // namespace kindling::sys
