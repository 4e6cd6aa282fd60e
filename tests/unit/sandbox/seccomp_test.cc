// SeccompProgram: the filter is installed in a forked child, which then probes denied and
// must-keep-working system calls and reports back (see seccomp_child_probe.h).
#include "sandbox/seccomp.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "unit/sandbox/seccomp_child_probe.h"

namespace kindling::sandbox {
namespace {

using testing::kCloneNamespaceFlagsForTest;
using testing::probeSyscalls;
using testing::runInChild;
using testing::SyscallReport;

struct FilteredReport {
  int install_errno = -1;
  SyscallReport syscalls;
};

TEST(SeccompProgramTest, BuildsANonTrivialProgram) {
  auto program = SeccompProgram::build();
  ASSERT_TRUE(program) << program.error().message();
  // ~60 denied syscalls on three ABIs plus the clone argument checks.
  EXPECT_GT(program->instructionCount(), 50u);
  EXPECT_LE(program->instructionCount(), 4096u);  // BPF_MAXINSNS
}

// Needs no privileges: install() sets no_new_privs first, which allows an unprivileged filter.
TEST(SeccompProgramTest, DeniesWhatAFunctionNeverNeedsAndKeepsForkAndThreads) {
  auto program = SeccompProgram::build();
  ASSERT_TRUE(program) << program.error().message();
  FilteredReport report;
  ASSERT_TRUE(runInChild(
      [&](FilteredReport& r) {
        r.install_errno = program->install();
        if (r.install_errno == 0) probeSyscalls(r.syscalls);
      },
      &report));
  ASSERT_EQ(report.install_errno, 0);
  const SyscallReport& s = report.syscalls;
  EXPECT_EQ(s.mount_errno, EPERM);
  EXPECT_EQ(s.umount2_errno, EPERM);
  EXPECT_EQ(s.unshare_errno, EPERM);
  EXPECT_EQ(s.setns_errno, EPERM);
  EXPECT_EQ(s.ptrace_errno, EPERM);
  EXPECT_EQ(s.keyctl_errno, EPERM);
  EXPECT_EQ(s.bpf_errno, EPERM);
  EXPECT_EQ(s.clone3_errno, ENOSYS);
  EXPECT_EQ(s.io_uring_errno, ENOSYS);
  for (size_t i = 0; i < std::size(kCloneNamespaceFlagsForTest); ++i) {
    EXPECT_EQ(s.clone_namespace_errno[i], EPERM)
        << "clone flag 0x" << std::hex << kCloneNamespaceFlagsForTest[i];
  }
#if defined(__x86_64__)
  EXPECT_EQ(s.i386_mount_errno, EPERM) << "the i386 ABI must be filtered too";
#endif
  EXPECT_TRUE(s.fork_works);
  EXPECT_TRUE(s.thread_works) << "pthread_create must fall back from clone3 to clone";
}

// A function snapshot's filter: the environment list minus what its forks need to build their
// own namespaces from a user namespace (mount, unshare, clone's CLONE_NEW*); everything else
// stays denied. Stacked under the environment filter (as each fork does), they are refused again.
TEST(SeccompProgramTest, SnapshotHostProfileAllowsNamespacesOnlyUntilTheEnvironmentFilter) {
  auto host = SeccompProgram::build(SeccompProfile::SnapshotHost);
  auto env = SeccompProgram::build();
  ASSERT_TRUE(host) << host.error().message();
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_LT(host->instructionCount(), env->instructionCount());
  struct Reports {
    int install_errno = -1;
    SyscallReport host;
    int stacked_errno = -1;
    SyscallReport stacked;
  } report;
  ASSERT_TRUE(runInChild(
      [&](Reports& r) {
        r.install_errno = host->install();
        if (r.install_errno != 0) return;
        probeSyscalls(r.host);
        r.stacked_errno = env->install();
        if (r.stacked_errno == 0) probeSyscalls(r.stacked);
      },
      &report));
  ASSERT_EQ(report.install_errno, 0);
  ASSERT_EQ(report.stacked_errno, 0);
  // Not refused by the filter: the kernel decides (as root, what the unfiltered probe gets;
  // unprivileged, most need a user namespace of one's own).
  if (::geteuid() == 0) {
    EXPECT_EQ(report.host.mount_errno, ENOENT) << "mount must reach the kernel";
    EXPECT_EQ(report.host.unshare_errno, 0) << "unshare must reach the kernel";
  }
  for (size_t i = 0; i < std::size(kCloneNamespaceFlagsForTest); ++i) {
    if (kCloneNamespaceFlagsForTest[i] == CLONE_NEWUSER) {
      EXPECT_EQ(report.host.clone_namespace_errno[i], 0) << "a user namespace needs no privilege";
    }
  }
  // Still denied: entering namespaces, tracing, keyrings, bpf, clone3, io_uring.
  EXPECT_EQ(report.host.setns_errno, EPERM);
  EXPECT_EQ(report.host.ptrace_errno, EPERM);
  EXPECT_EQ(report.host.keyctl_errno, EPERM);
  EXPECT_EQ(report.host.bpf_errno, EPERM);
  EXPECT_EQ(report.host.clone3_errno, ENOSYS);
  EXPECT_EQ(report.host.io_uring_errno, ENOSYS);
  // With the environment's filter on top, all of it is refused again.
  EXPECT_EQ(report.stacked.mount_errno, EPERM);
  EXPECT_EQ(report.stacked.unshare_errno, EPERM);
  for (size_t i = 0; i < std::size(kCloneNamespaceFlagsForTest); ++i) {
    EXPECT_EQ(report.stacked.clone_namespace_errno[i], EPERM);
  }
  EXPECT_TRUE(report.stacked.fork_works);
  EXPECT_TRUE(report.stacked.thread_works);
}

// The same probe without the filter, as root: every denied call behaves differently, so the test
// above cannot pass by accident.
TEST(SeccompProgramTest, ProbeDistinguishesFilteredFromUnfiltered) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: unprivileged, the kernel also says EPERM";
  SyscallReport s;
  ASSERT_TRUE(runInChild([](SyscallReport& r) { probeSyscalls(r); }, &s));
  EXPECT_EQ(s.mount_errno, ENOENT);
  EXPECT_EQ(s.umount2_errno, ENOENT);
  EXPECT_EQ(s.unshare_errno, 0);
  EXPECT_EQ(s.setns_errno, EBADF);
  EXPECT_EQ(s.ptrace_errno, 0);
  EXPECT_NE(s.keyctl_errno, EPERM);
  EXPECT_NE(s.bpf_errno, EPERM);
  EXPECT_EQ(s.clone3_errno, EINVAL);
  EXPECT_NE(s.io_uring_errno, ENOSYS);
  for (size_t i = 0; i < std::size(kCloneNamespaceFlagsForTest); ++i) {
    EXPECT_EQ(s.clone_namespace_errno[i], 0)
        << "clone flag 0x" << std::hex << kCloneNamespaceFlagsForTest[i];
  }
#if defined(__x86_64__)
  EXPECT_EQ(s.i386_mount_errno, EFAULT);
#endif
  EXPECT_TRUE(s.fork_works);
  EXPECT_TRUE(s.thread_works);
}

TEST(SeccompProgramTest, InstallSetsNoNewPrivsAndFilterMode) {
  auto program = SeccompProgram::build();
  ASSERT_TRUE(program) << program.error().message();
  struct Report {
    int install_errno = -1;
    int no_new_privs = -1;
    int seccomp_mode = -1;
  } report;
  ASSERT_TRUE(runInChild(
      [&](Report& r) {
        r.install_errno = program->install();
        r.no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        r.seccomp_mode = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
      },
      &report));
  EXPECT_EQ(report.install_errno, 0);
  EXPECT_EQ(report.no_new_privs, 1);
  EXPECT_EQ(report.seccomp_mode, 2);  // SECCOMP_MODE_FILTER
}

}  // namespace
}  // namespace kindling::sandbox
