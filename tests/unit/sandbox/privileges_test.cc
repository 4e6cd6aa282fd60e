// The privilege facet: the child-side steps run in a forked child in the spawner's order
// (rlimits, user, capabilities, no_new_privs, seccomp), which then checks what is left; plus
// RlimitPlan and UidPool, which are plain logic.
#include "sandbox/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sandbox/seccomp.h"
#include "unit/sandbox/seccomp_child_probe.h"

namespace kindling::sandbox {
namespace {

using testing::errnoOf;
using testing::kCloneNamespaceFlagsForTest;
using testing::probeSyscalls;
using testing::runInChild;
using testing::SyscallReport;

constexpr uid_t kNobody = 65534;

// The value of a "Name:\t<value>" line of /proc/self/status, parsed as hex, or ~0 if absent.
// Reads with a fixed buffer (the probe child runs under the sandbox's rules).
unsigned long long procStatusHex(const char* name) {
  static char buffer[8192];
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ~0ULL;
  ssize_t n = ::read(fd, buffer, sizeof(buffer) - 1);
  ::close(fd);
  if (n <= 0) return ~0ULL;
  buffer[n] = '\0';
  const size_t name_len = std::strlen(name);
  for (char* line = buffer; line && *line; line = std::strchr(line, '\n')) {
    if (*line == '\n') ++line;
    if (std::strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
      return std::strtoull(line + name_len + 1, nullptr, 16);
    }
  }
  return ~0ULL;
}

struct DroppedReport {
  int rlimits_errno = -1;
  int drop_user_errno = -1;
  int drop_caps_errno = -1;
  int no_new_privs_errno = -1;
  int install_errno = -1;
  uid_t uids[3] = {};
  gid_t gids[3] = {};
  int group_count = -1;
  int setuid_root_errno = -1;
  int setgid_root_errno = -1;
  int setgroups_errno = -1;
  unsigned long long cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_bnd = 0, cap_amb = 0;
  unsigned long long no_new_privs = 0, seccomp_mode = 0;
  rlimit nofile{};
  rlimit core{};
  int max_fd = -1;  // highest fd obtained by dup'ing until EMFILE
  int dup_final_errno = -1;
  SyscallReport syscalls;
};

// The full sequence the spawner runs between clone and exec.
TEST(PrivilegesTest, ChildEndsUnprivilegedWithLambdaLimits) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change uid and drop the bounding set";
  auto program = SeccompProgram::build();
  ASSERT_TRUE(program) << program.error().message();
  const RlimitPlan plan = RlimitPlan::lambdaDefaults();

  DroppedReport report;
  ASSERT_TRUE(runInChild(
      [&](DroppedReport& r) {
        if ((r.rlimits_errno = applyRlimits(plan)) != 0) return;
        if ((r.drop_user_errno = dropToUser(kNobody, kNobody)) != 0) return;
        if ((r.drop_caps_errno = dropCapabilities()) != 0) return;
        if ((r.no_new_privs_errno = setNoNewPrivs()) != 0) return;
        if ((r.install_errno = program->install()) != 0) return;
        ::getresuid(&r.uids[0], &r.uids[1], &r.uids[2]);
        ::getresgid(&r.gids[0], &r.gids[1], &r.gids[2]);
        r.group_count = ::getgroups(0, nullptr);
        r.setuid_root_errno = errnoOf(::syscall(SYS_setuid, 0));
        r.setgid_root_errno = errnoOf(::syscall(SYS_setgid, 0));
        gid_t root_group = 0;
        r.setgroups_errno = errnoOf(::syscall(SYS_setgroups, 1, &root_group));
        r.cap_inh = procStatusHex("CapInh");
        r.cap_prm = procStatusHex("CapPrm");
        r.cap_eff = procStatusHex("CapEff");
        r.cap_bnd = procStatusHex("CapBnd");
        r.cap_amb = procStatusHex("CapAmb");
        r.no_new_privs = procStatusHex("NoNewPrivs");
        r.seccomp_mode = procStatusHex("Seccomp");
        ::getrlimit(RLIMIT_NOFILE, &r.nofile);
        ::getrlimit(RLIMIT_CORE, &r.core);
        for (;;) {
          int fd = ::dup(0);
          if (fd < 0) {
            r.dup_final_errno = errno;
            break;
          }
          r.max_fd = fd;
        }
        probeSyscalls(r.syscalls);
      },
      &report));
  ASSERT_EQ(report.rlimits_errno, 0) << std::strerror(report.rlimits_errno);
  ASSERT_EQ(report.drop_user_errno, 0) << std::strerror(report.drop_user_errno);
  ASSERT_EQ(report.drop_caps_errno, 0) << std::strerror(report.drop_caps_errno);
  ASSERT_EQ(report.no_new_privs_errno, 0);
  ASSERT_EQ(report.install_errno, 0);

  for (uid_t uid : report.uids) EXPECT_EQ(uid, kNobody);
  for (gid_t gid : report.gids) EXPECT_EQ(gid, kNobody);
  EXPECT_EQ(report.group_count, 0);
  EXPECT_EQ(report.setuid_root_errno, EPERM);
  EXPECT_EQ(report.setgid_root_errno, EPERM);
  EXPECT_EQ(report.setgroups_errno, EPERM);

  EXPECT_EQ(report.cap_inh, 0u);
  EXPECT_EQ(report.cap_prm, 0u);
  EXPECT_EQ(report.cap_eff, 0u);
  EXPECT_EQ(report.cap_bnd, 0u);
  EXPECT_EQ(report.cap_amb, 0u);
  EXPECT_EQ(report.no_new_privs, 1u);
  EXPECT_EQ(report.seccomp_mode, 2u);

  EXPECT_EQ(report.nofile.rlim_cur, 1024u);
  EXPECT_EQ(report.nofile.rlim_max, 1024u);
  EXPECT_EQ(report.core.rlim_cur, 0u);
  EXPECT_EQ(report.core.rlim_max, 0u);
  EXPECT_EQ(report.max_fd, 1023);
  EXPECT_EQ(report.dup_final_errno, EMFILE);

  const SyscallReport& s = report.syscalls;
  EXPECT_EQ(s.mount_errno, EPERM);
  EXPECT_EQ(s.unshare_errno, EPERM);
  EXPECT_EQ(s.ptrace_errno, EPERM);
  EXPECT_EQ(s.keyctl_errno, EPERM);
  EXPECT_EQ(s.bpf_errno, EPERM);
  EXPECT_EQ(s.clone3_errno, ENOSYS);
  for (size_t i = 0; i < std::size(kCloneNamespaceFlagsForTest); ++i) {
    EXPECT_EQ(s.clone_namespace_errno[i], EPERM)
        << "clone flag 0x" << std::hex << kCloneNamespaceFlagsForTest[i];
  }
  EXPECT_TRUE(s.fork_works);
  EXPECT_TRUE(s.thread_works);
}

// dropCapabilities() first removes CAP_SETUID: the order in privileges.h is not optional.
TEST(PrivilegesTest, DroppingCapabilitiesFirstMakesTheUserChangeFail) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to have capabilities to drop";
  struct Report {
    int drop_caps_errno = -1;
    int drop_user_errno = -1;
    unsigned long long cap_eff = ~0ULL, cap_bnd = ~0ULL;
  } report;
  ASSERT_TRUE(runInChild(
      [](Report& r) {
        r.drop_caps_errno = dropCapabilities();
        r.cap_eff = procStatusHex("CapEff");
        r.cap_bnd = procStatusHex("CapBnd");
        r.drop_user_errno = dropToUser(kNobody, kNobody);
      },
      &report));
  EXPECT_EQ(report.drop_caps_errno, 0);
  EXPECT_EQ(report.cap_eff, 0u);  // root without capabilities
  EXPECT_EQ(report.cap_bnd, 0u);
  EXPECT_EQ(report.drop_user_errno, EPERM);
}

// Without privileges every step reports the kernel's refusal instead of pretending.
TEST(PrivilegesTest, UnprivilegedStepsReportEperm) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become an unprivileged user first";
  struct Report {
    int first_drop_errno = -1;
    int second_drop_errno = -1;
    int drop_caps_errno = -1;
    int raise_nofile_errno = -1;
  } report;
  ASSERT_TRUE(runInChild(
      [](Report& r) {
        // A plain setresuid (no KEEPCAPS) leaves an ordinary unprivileged process.
        r.first_drop_errno = errnoOf(::syscall(SYS_setresuid, kNobody, kNobody, kNobody));
        r.second_drop_errno = dropToUser(kNobody + 1, kNobody + 1);
        r.drop_caps_errno = dropCapabilities();
        rlimit low{64, 64};
        ::setrlimit(RLIMIT_NOFILE, &low);
        r.raise_nofile_errno = applyRlimits(RlimitPlan::lambdaDefaults());
      },
      &report));
  EXPECT_EQ(report.first_drop_errno, 0);
  EXPECT_EQ(report.second_drop_errno, EPERM);
  EXPECT_EQ(report.drop_caps_errno, EPERM);
  EXPECT_EQ(report.raise_nofile_errno, EPERM);
}

TEST(RlimitPlanTest, LambdaDefaults) {
  const RlimitPlan plan = RlimitPlan::lambdaDefaults();
  ASSERT_TRUE(plan.get(RLIMIT_NOFILE));
  EXPECT_EQ(plan.get(RLIMIT_NOFILE)->rlim_cur, 1024u);
  EXPECT_EQ(plan.get(RLIMIT_NOFILE)->rlim_max, 1024u);
  ASSERT_TRUE(plan.get(RLIMIT_CORE));
  EXPECT_EQ(plan.get(RLIMIT_CORE)->rlim_max, 0u);
  EXPECT_FALSE(plan.get(RLIMIT_NPROC)) << "processes are limited by the pids cgroup";
  EXPECT_FALSE(plan.get(RLIMIT_STACK));
}

TEST(RlimitPlanTest, SetValidatesAndReplaces) {
  RlimitPlan plan;
  EXPECT_FALSE(plan.get(RLIMIT_NOFILE));
  EXPECT_FALSE(plan.set(-1, 1, 1));
  EXPECT_FALSE(plan.set(RLIMIT_NLIMITS, 1, 1));
  auto inverted = plan.set(RLIMIT_NOFILE, 10, 5);
  ASSERT_FALSE(inverted);
  EXPECT_EQ(inverted.error().code, ErrorCode::InvalidArgument);
  ASSERT_TRUE(plan.set(RLIMIT_NOFILE, 100, 200));
  ASSERT_TRUE(plan.set(RLIMIT_NOFILE, 300, RLIM_INFINITY));
  EXPECT_EQ(plan.get(RLIMIT_NOFILE)->rlim_cur, 300u);
  EXPECT_EQ(plan.get(RLIMIT_NOFILE)->rlim_max, RLIM_INFINITY);
  EXPECT_FALSE(plan.get(-3));
}

// Lowering limits needs no privilege, so this runs anywhere.
TEST(RlimitPlanTest, ApplyingSetsEveryPlannedLimit) {
  RlimitPlan plan;
  ASSERT_TRUE(plan.set(RLIMIT_NOFILE, 100, 200));
  ASSERT_TRUE(plan.set(RLIMIT_CORE, 0, 0));
  struct Report {
    int apply_errno = -1;
    rlimit nofile{}, core{};
  } report;
  ASSERT_TRUE(runInChild(
      [&](Report& r) {
        r.apply_errno = applyRlimits(plan);
        ::getrlimit(RLIMIT_NOFILE, &r.nofile);
        ::getrlimit(RLIMIT_CORE, &r.core);
      },
      &report));
  EXPECT_EQ(report.apply_errno, 0);
  EXPECT_EQ(report.nofile.rlim_cur, 100u);
  EXPECT_EQ(report.nofile.rlim_max, 200u);
  EXPECT_EQ(report.core.rlim_max, 0u);
}

TEST(UidPoolTest, ValidatesRanges) {
  EXPECT_TRUE(UidPool::validateRange(kDefaultSandboxUidFirst, kDefaultSandboxUidCount));
  EXPECT_FALSE(UidPool::validateRange(100000, 0));
  EXPECT_FALSE(UidPool::validateRange(0, 10));
  EXPECT_TRUE(UidPool::validateRange(static_cast<uid_t>(-11), 10));  // ends at (uid_t)-2
  EXPECT_FALSE(UidPool::validateRange(static_cast<uid_t>(-10), 10));  // would include (uid_t)-1
  EXPECT_FALSE(UidPool::validateRange(static_cast<uid_t>(-10), 0xFFFFFFFFu));
}

TEST(UidPoolTest, HandsOutDistinctUidsUntilExhausted) {
  UidPool pool(1000, 3);
  EXPECT_EQ(pool.capacity(), 3u);
  EXPECT_EQ(pool.available(), 3u);
  std::set<uid_t> got;
  for (int i = 0; i < 3; ++i) {
    auto uid = pool.acquire();
    ASSERT_TRUE(uid) << uid.error().message();
    EXPECT_GE(*uid, 1000u);
    EXPECT_LT(*uid, 1003u);
    got.insert(*uid);
  }
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(pool.available(), 0u);
  auto none = pool.acquire();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::TooManyRequests);
  pool.release(1001);
  EXPECT_EQ(pool.available(), 1u);
  auto again = pool.acquire();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 1001u);
}

TEST(UidPoolTest, ReusesReleasedUidsAsLateAsPossible) {
  UidPool pool(5000, 4);
  auto a = pool.acquire();
  ASSERT_TRUE(a);
  pool.release(*a);
  std::vector<uid_t> order;
  for (int i = 0; i < 4; ++i) {
    auto uid = pool.acquire();
    ASSERT_TRUE(uid);
    order.push_back(*uid);
  }
  // The released uid comes back only after every other one was handed out.
  EXPECT_EQ(order, (std::vector<uid_t>{5001, 5002, 5003, 5000}));
}

TEST(UidPoolTest, WrapsAcrossBitmapWordsAndNeverLeavesTheRange) {
  UidPool pool(200000, 130);  // three 64-bit words, the last one mostly padding
  for (uint32_t i = 0; i < 130; ++i) {
    auto uid = pool.acquire();
    ASSERT_TRUE(uid);
    EXPECT_EQ(*uid, 200000u + i);
  }
  EXPECT_FALSE(pool.acquire());
  pool.release(200000 + 129);
  pool.release(200000 + 5);
  pool.release(200000 + 70);
  // The search restarts at the beginning (everything was handed out), in uid order.
  auto first = pool.acquire();
  auto second = pool.acquire();
  auto third = pool.acquire();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(*first, 200005u);
  EXPECT_EQ(*second, 200070u);
  EXPECT_EQ(*third, 200129u);
  EXPECT_FALSE(pool.acquire());
}

TEST(UidPoolTest, ConcurrentAcquireAndReleaseNeverShareAUid) {
  constexpr uint32_t kCount = 64;
  UidPool pool(300000, kCount);
  std::vector<std::atomic<int>> holders(kCount);
  std::atomic<int> violations{0};
  std::atomic<int> acquired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        auto uid = pool.acquire();
        if (!uid) continue;  // momentarily exhausted: fine
        acquired.fetch_add(1, std::memory_order_relaxed);
        auto& holder = holders[*uid - 300000];
        if (holder.fetch_add(1) != 0) violations.fetch_add(1);
        holder.fetch_sub(1);
        pool.release(*uid);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(acquired.load(), 0);
  EXPECT_EQ(pool.available(), kCount);
}

TEST(UidPoolDeathTest, ReleasingAForeignOrFreeUidIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  UidPool pool(1000, 8);
  EXPECT_DEATH(pool.release(999), "KD_CHECK failed");
  EXPECT_DEATH(pool.release(1008), "KD_CHECK failed");
  EXPECT_DEATH(pool.release(1003), "KD_CHECK failed");  // never acquired
}

TEST(UidPoolDeathTest, InvalidRangeIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(UidPool(0, 8), "KD_CHECK failed");
}

}  // namespace
}  // namespace kindling::sandbox
