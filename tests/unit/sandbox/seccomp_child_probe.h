// Test helper for the seccomp and privilege facets: runs a probe in a forked child (whose
// sandboxing cannot be undone, so it must not happen in the test process) and brings its
// plain-data report back through a pipe.
#pragma once

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

namespace kindling::sandbox::testing {

// errno of a failed call, 0 when it succeeded (raw syscalls return -1 on failure).
inline int errnoOf(long rc) { return rc == -1 ? errno : 0; }

// Forks; the child runs probe(report) and writes the report back; the parent waits. Fails if the
// child dies (a filter that kills instead of failing the call shows up here).
template <typename Report, typename Probe>
::testing::AssertionResult runInChild(Probe probe, Report* report) {
  static_assert(std::is_trivially_copyable_v<Report>);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return ::testing::AssertionFailure() << "pipe2: " << std::strerror(errno);
  }
  pid_t pid = ::fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  if (pid == 0) {
    ::close(fds[0]);
    Report child_report{};
    probe(child_report);
    const char* data = reinterpret_cast<const char*>(&child_report);
    size_t done = 0;
    while (done < sizeof(Report)) {
      ssize_t n = ::write(fds[1], data + done, sizeof(Report) - done);
      if (n <= 0) ::_exit(3);
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  char* data = reinterpret_cast<char*>(report);
  size_t done = 0;
  while (done < sizeof(Report)) {
    ssize_t n = ::read(fds[0], data + done, sizeof(Report) - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return ::testing::AssertionFailure() << "probe child killed by signal " << WTERMSIG(status);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return ::testing::AssertionFailure() << "probe child exited with status " << status;
  }
  if (done != sizeof(Report)) {
    return ::testing::AssertionFailure() << "short report: " << done << " of " << sizeof(Report);
  }
  return ::testing::AssertionSuccess();
}

// What the denied and the must-keep-working system calls did in a probe child.
struct SyscallReport {
  int mount_errno = -1;
  int umount2_errno = -1;
  int unshare_errno = -1;
  int setns_errno = -1;
  int ptrace_errno = -1;
  int keyctl_errno = -1;
  int bpf_errno = -1;
  int clone3_errno = -1;
  int io_uring_errno = -1;
  int clone_namespace_errno[7] = {-1, -1, -1, -1, -1, -1, -1};  // kCloneNamespaceFlagsForTest
  int i386_mount_errno = -1;  // mount through `int 0x80`; -1 when not probed (not x86_64)
  bool fork_works = false;
  bool thread_works = false;
};

inline constexpr unsigned long kCloneNamespaceFlagsForTest[7] = {
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET};

// A path that does not exist: without a filter, root's mount/umount2 fail with ENOENT here
// instead of changing anything.
inline constexpr char kMissingPath[] = "/nonexistent-kindling-seccomp-test";

// Runs a raw clone with `flags`; returns its errno (0 if a child was created and reaped).
inline int cloneErrno(unsigned long flags) {
  long pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) ::_exit(0);
  if (pid < 0) return errno;
  int status = 0;
  ::waitpid(static_cast<pid_t>(pid), &status, 0);
  return 0;
}

// mount(NULL, NULL, NULL, 0, NULL) through the i386 ABI from this 64-bit process, in a grandchild
// (a kernel without IA32 emulation answers with SIGSEGV). Its errno, or -1 if not probed.
inline int i386MountErrno() {
#if defined(__x86_64__)
  pid_t pid = ::fork();
  if (pid == 0) {
    long rc = 21;  // __NR_mount on i386
    asm volatile("int $0x80" : "+a"(rc) : "b"(0), "c"(0), "d"(0), "S"(0), "D"(0) : "memory");
    ::_exit(rc < 0 && rc > -4096 ? static_cast<int>(-rc) : 0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
#else
  return -1;
#endif
}

inline void* markThreadRan(void* arg) {
  *static_cast<int*>(arg) = 42;
  return nullptr;
}

// Calls every probed system call once and records what happened.
inline void probeSyscalls(SyscallReport& r) {
  r.mount_errno = errnoOf(::mount("none", kMissingPath, "tmpfs", 0, nullptr));
  r.umount2_errno = errnoOf(::umount2(kMissingPath, 0));
  r.unshare_errno = errnoOf(::unshare(CLONE_NEWNS));
  r.setns_errno = errnoOf(::setns(-1, 0));
  r.keyctl_errno = errnoOf(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                                     KEY_SPEC_SESSION_KEYRING, 0));
  r.bpf_errno = errnoOf(::syscall(SYS_bpf, BPF_MAP_CREATE, nullptr, 0));
  r.clone3_errno = errnoOf(::syscall(SYS_clone3, nullptr, 0));
  r.io_uring_errno = errnoOf(::syscall(SYS_io_uring_setup, 1, nullptr));
  for (size_t i = 0; i < std::size(kCloneNamespaceFlagsForTest); ++i) {
    r.clone_namespace_errno[i] = cloneErrno(kCloneNamespaceFlagsForTest[i]);
  }
  r.i386_mount_errno = i386MountErrno();

  pid_t pid = ::fork();
  if (pid == 0) ::_exit(7);
  int status = 0;
  r.fork_works = pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                 WEXITSTATUS(status) == 7;

  int thread_value = 0;
  pthread_t thread;
  if (::pthread_create(&thread, nullptr, markThreadRan, &thread_value) == 0) {
    r.thread_works = ::pthread_join(thread, nullptr) == 0 && thread_value == 42;
  }
  // Last: where it succeeds (no filter) the child is traced by the test process from here on,
  // and any signal would stop it.
  r.ptrace_errno = errnoOf(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
}

}  // namespace kindling::sandbox::testing
