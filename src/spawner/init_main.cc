// kindling-init: pid 1 of a forked environment's PID namespace (fast start), exec'd by the
// stub once it has forked the runtime. Why a separate binary: the stub is a fork of an
// interpreter zygote, and as init it would keep its copy of every page it and the runtime both
// wrote (~0.6 MiB per idle environment); exec'd, init is this small static program.
//
// Usage (by the stub only): kindling-init STATUS_FD RUNTIME_PID. Reaps every child (orphans
// re-parent to pid 1), writes the runtime's wait status (an int) to STATUS_FD when it exits,
// then exits, which ends the namespace. No allocation, no libstdc++: plain syscalls.
#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) return 127;
  const int status_fd = atoi(argv[1]);
  const pid_t runtime = static_cast<pid_t>(atol(argv[2]));
  prctl(PR_SET_NAME, "init");
  while (true) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) _exit(0);
    if (pid == runtime) {
      const char* p = reinterpret_cast<const char*>(&status);
      size_t left = sizeof status;
      while (left > 0) {
        const ssize_t n = write(status_fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= static_cast<size_t>(n);
      }
      _exit(0);
    }
  }
}
