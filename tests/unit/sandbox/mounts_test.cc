// The filesystem facet: build() validation runs anywhere; apply() runs (as root) in forked
// children that first unshare(CLONE_NEWNS), then probe the new root and report through a pipe.
// The host's mount table is compared before and after every privileged test.
#include "sandbox/mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sandbox/privileges.h"
#include "unit/sandbox/seccomp_child_probe.h"

namespace kindling::sandbox {
namespace {

namespace fs = std::filesystem;
using testing::runInChild;

constexpr uid_t kNobody = 65534;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

int errnoOfOpen(const char* path, int flags) {
  const int fd = ::open(path, flags | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int errnoOfStat(const char* path) {
  struct stat st {};
  return ::lstat(path, &st) == 0 ? 0 : errno;
}

// Copies at most size-1 bytes of `text` into `out`, NUL-terminated.
void copyOut(char* out, size_t size, const char* text, size_t len) {
  const size_t n = std::min(len, size - 1);
  std::memcpy(out, text, n);
  out[n] = '\0';
}

// A unique temp tree with the host sides of every bind.
class MountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kd-mounts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    base_ = tmpl;
    for (const char* dir : {"staging", "task", "runtime", "lang", "tmp", "opt-kindling"}) {
      fs::create_directory(base_ / dir);
    }
    fs::permissions(base_ / "tmp", fs::perms::all);
    writeFile(base_ / "task" / "file", "hello from task");
    writeFile(base_ / "runtime" / "bootstrap", "runtime");
    writeFile(base_ / "opt-kindling" / "marker", "extra");
  }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(base_, ignored);
  }

  RootfsSpec spec() const {
    RootfsSpec s;
    s.staging = base_ / "staging";
    s.task_root = base_ / "task";
    s.runtime_dir = base_ / "runtime";
    s.lang_dir = base_ / "lang";
    s.tmp_dir = base_ / "tmp";
    s.extra_read_only = {{base_ / "opt-kindling", "/opt/kindling"}};
    return s;
  }

  fs::path base_;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- build() -------------------------------------------------------------------------------

TEST_F(MountsTest, BuildRejectsMissingSource) {
  RootfsSpec s = spec();
  s.task_root = base_ / "no-such-task";
  auto plan = MountPlan::build(s);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(plan.error().sys_errno, ENOENT);
  EXPECT_TRUE(contains(plan.error().context, "no-such-task")) << plan.error().message();

  s = spec();
  s.extra_read_only.push_back({base_ / "missing-layer", "/opt/layer"});
  plan = MountPlan::build(s);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().sys_errno, ENOENT);
  EXPECT_TRUE(contains(plan.error().context, "missing-layer")) << plan.error().message();

  s = spec();
  s.staging = base_ / "no-staging";
  EXPECT_FALSE(MountPlan::build(s));
}

TEST_F(MountsTest, BuildRejectsInvalidSpecs) {
  auto expectInvalid = [](const RootfsSpec& s, const std::string& why) {
    auto plan = MountPlan::build(s);
    ASSERT_FALSE(plan) << why;
    EXPECT_EQ(plan.error().code, ErrorCode::InvalidArgument) << why;
  };
  RootfsSpec s = spec();
  s.task_root = "relative/task";
  expectInvalid(s, "relative task_root");
  s = spec();
  s.task_root.clear();
  expectInvalid(s, "no task_root");
  s = spec();
  s.tmp_dir = base_ / "task" / "file";
  expectInvalid(s, "tmp_dir is a file");
  s = spec();
  s.extra_read_only.push_back({base_ / "opt-kindling", "/var/task/sub"});
  expectInvalid(s, "extra under /var/task");
  s = spec();
  s.extra_read_only.push_back({base_ / "opt-kindling", "/"});
  expectInvalid(s, "extra over /");
  s = spec();
  s.extra_read_only.push_back({base_ / "opt-kindling", "/opt/kindling"});
  expectInvalid(s, "duplicate extra target");
  s = spec();
  s.extra_read_only.push_back({base_ / "opt-kindling", "/usr/local/thing"});
  if (fs::exists("/usr")) expectInvalid(s, "extra nested in a system dir");
  s = spec();
  s.extra_read_only.push_back({base_ / "opt-kindling", "relative"});
  expectInvalid(s, "relative extra target");
  s = spec();
  s.system_dirs.push_back("/tmp");
  expectInvalid(s, "system dir over the private /tmp");
  s = spec();
  s.system_dirs = {"/var"};
  expectInvalid(s, "system dir containing /var/task");
}

TEST_F(MountsTest, BuildBindsLayersAtOpt) {
  fs::create_directory(base_ / "layers");
  RootfsSpec s = spec();
  s.extra_read_only.clear();
  s.opt_dir = base_ / "layers";
  auto plan = MountPlan::build(s);
  ASSERT_TRUE(plan) << plan.error().message();
  std::string all;
  for (int i = 0; i < plan->stepCount(); ++i) all += plan->describe(i) + "\n";
  EXPECT_TRUE(contains(all, "bind " + (base_ / "layers").string() + " -> /opt (ro)")) << all;
  EXPECT_TRUE(contains(all, "make /opt read-only")) << all;

  // /opt belongs to the layers: nothing else may be bound on or under it.
  s.extra_read_only = {{base_ / "opt-kindling", "/opt/kindling"}};
  auto overlap = MountPlan::build(s);
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().code, ErrorCode::InvalidArgument);
  s.extra_read_only.clear();
  s.opt_dir = base_ / "task" / "file";  // not a directory
  EXPECT_FALSE(MountPlan::build(s));
}

TEST_F(MountsTest, BuildBindsOneWritableDirectory) {
  fs::create_directory(base_ / "scratch");
  RootfsSpec s = spec();
  s.read_write = {base_ / "scratch", "/var/kindling-cache"};
  auto plan = MountPlan::build(s);
  ASSERT_TRUE(plan) << plan.error().message();
  std::string all;
  for (int i = 0; i < plan->stepCount(); ++i) all += plan->describe(i) + "\n";
  EXPECT_TRUE(contains(all, "bind " + (base_ / "scratch").string() + " -> /var/kindling-cache (rw)"))
      << all;
  EXPECT_TRUE(contains(all, "remount /var/kindling-cache rw,nosuid,nodev")) << all;
  EXPECT_FALSE(contains(all, "make /var/kindling-cache read-only")) << all;
  // The same placement rules as the read-only binds, and a directory only.
  for (const auto& [source, target] :
       std::vector<std::pair<fs::path, fs::path>>{{base_ / "scratch", "/var/task/cache"},
                                                  {base_ / "scratch", "/"},
                                                  {base_ / "scratch", "/opt/kindling"},
                                                  {base_ / "scratch", "relative"},
                                                  {base_ / "task" / "file", "/var/cache"},
                                                  {base_ / "missing", "/var/cache"}}) {
    s.read_write = {source, target};
    auto bad = MountPlan::build(s);
    ASSERT_FALSE(bad) << source << " -> " << target;
    EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument) << source << " -> " << target;
  }
}

TEST_F(MountsTest, BuildSkipsAbsentSystemDirsAndDescribesSteps) {
  RootfsSpec s = spec();
  s.system_dirs.push_back("/no-such-system-dir");
  auto plan = MountPlan::build(s);
  ASSERT_TRUE(plan) << plan.error().message();
  std::string all;
  for (int i = 0; i < plan->stepCount(); ++i) all += plan->describe(i) + "\n";
  EXPECT_FALSE(contains(all, "no-such-system-dir")) << all;
  EXPECT_TRUE(contains(all, "bind " + (base_ / "task").string() + " -> /var/task (ro)")) << all;
  EXPECT_TRUE(contains(all, "-> /opt/kindling (ro)")) << all;
  EXPECT_TRUE(contains(all, "bind " + (base_ / "tmp").string() + " -> /tmp (rw)")) << all;
  EXPECT_TRUE(contains(all, "mount proc on /proc (hidepid=invisible)")) << all;
  EXPECT_TRUE(contains(all, "bind /dev/null -> /dev/null")) << all;
  EXPECT_TRUE(contains(all, "pivot_root")) << all;
  if (fs::is_directory("/usr") && !fs::is_symlink("/usr")) {
    EXPECT_TRUE(contains(all, "bind /usr -> /usr (ro)")) << all;
  }
  if (fs::is_symlink("/bin")) {
    EXPECT_TRUE(contains(all, "symlink /bin -> " + fs::read_symlink("/bin").string())) << all;
  }
  EXPECT_TRUE(contains(plan->describe(-1), "out of range"));
  EXPECT_TRUE(contains(plan->describe(plan->stepCount()), "out of range"));

  s.mount_proc = false;
  s.tmp_dir.clear();
  auto no_proc = MountPlan::build(s);
  ASSERT_TRUE(no_proc) << no_proc.error().message();
  all.clear();
  for (int i = 0; i < no_proc->stepCount(); ++i) all += no_proc->describe(i) + "\n";
  EXPECT_FALSE(contains(all, "mount proc")) << all;
  EXPECT_TRUE(contains(all, "tmpfs on /tmp")) << all;
}

// ---- apply() -------------------------------------------------------------------------------

struct RootReport {
  int unshare_errno = -1;
  int apply_errno = -1;
  int failed_step = -2;
  char cwd[64] = {};
  int task_read_errno = -1;
  char task_content[32] = {};
  int task_create_errno = -1;
  int task_write_errno = -1;
  int root_mkdir_errno = -1;
  int runtime_read_errno = -1;
  int lang_stat_errno = -1;
  int extra_read_errno = -1;
  int tmp_write_errno = -1;
  int absent_errno[6] = {-1, -1, -1, -1, -1, -1};  // kAbsent below
  int hostname_errno = -1;
  int devnull_write_errno = -1;
  int urandom_errno = -1;
  bool urandom_nonzero = false;
  int host_device_errno[5] = {-1, -1, -1, -1, -1};  // kHostDevices below
  int dev_entries = 0;
  int dev_unexpected = 0;
  char dev_first_unexpected[32] = {};
  int proc_self_errno = -1;
  int proc_visible_as_root = 0;
  int mounts_inside = 0;
  int root_mounts_inside = 0;  // mount point "/": 1 once the old root is detached
  int foreign_mounts_inside = 0;
  char first_foreign_mount[64] = {};
  unsigned long usr_flags = 0;
  unsigned long task_flags = 0;
  unsigned long tmp_flags = 0;
  unsigned long root_flags = 0;
  char bin_link[32] = {};
  int exec_status = -1;
  // After dropping to uid 65534 without capabilities.
  int drop_errno = -1;
  int shadow_errno = -1;
  int tmp_write_as_nobody_errno = -1;
  int proc_visible_after = 0;
  int proc_foreign_after = 0;
  int proc_pid1_errno = -1;
  bool proc_self_visible_after = false;
};

// Paths that must not exist inside (filled with the host paths of the test's own dirs).
constexpr int kAbsentCount = 6;
constexpr const char* kHostDevices[5] = {"/dev/vda", "/dev/sda", "/dev/kmsg", "/dev/loop0",
                                         "/dev/kvm"};

// Counts numeric /proc entries; `foreign` counts those (other than ourselves) whose real uid is
// not `uid`.
void scanProc(int* visible, int* foreign, bool* self_visible, uid_t uid) {
  DIR* dir = ::opendir("/proc");
  if (!dir) return;
  const pid_t self = ::getpid();
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    ++*visible;
    if (pid == self) {
      if (self_visible) *self_visible = true;
      continue;
    }
    if (!foreign) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE* f = std::fopen(path, "re");
    if (!f) continue;  // exited meanwhile
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      unsigned long real_uid = 0;
      if (std::sscanf(line, "Uid: %lu", &real_uid) == 1) {
        if (real_uid != uid) ++*foreign;
        break;
      }
    }
    std::fclose(f);
  }
  ::closedir(dir);
}

// Mount points the new root may hold (its own skeleton and binds, with whatever they contain).
constexpr const char* kInsideMountPoints[] = {"/usr", "/lib", "/lib64", "/lib32", "/bin",
                                              "/sbin", "/etc", "/var/task", "/var/runtime",
                                              "/var/lang", "/opt/kindling", "/tmp", "/dev",
                                              "/proc"};

// Walks the mount table as seen inside: counts mounts, mounts on "/" and mounts elsewhere than
// kInsideMountPoints (a left-over host tree shows up as both).
void scanMountsInside(RootReport& r) {
  FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (!f) return;
  char line[1024];
  while (std::fgets(line, sizeof line, f)) {
    char mount_point[512];
    if (std::sscanf(line, "%*s %*s %*s %*s %511s", mount_point) != 1) continue;
    ++r.mounts_inside;
    const std::string point = mount_point;
    if (point == "/") {
      ++r.root_mounts_inside;
      continue;
    }
    const bool known = std::any_of(std::begin(kInsideMountPoints), std::end(kInsideMountPoints),
                                   [&](const std::string& base) {
                                     return point == base || point.rfind(base + "/", 0) == 0;
                                   });
    if (!known && r.foreign_mounts_inside++ == 0) {
      copyOut(r.first_foreign_mount, sizeof r.first_foreign_mount, point.data(), point.size());
    }
  }
  std::fclose(f);
}

void probeRoot(const MountPlan& plan, const std::vector<std::string>& absent,
               const std::set<std::string>& expected_dev, RootReport& r,
               const MountPlan* then = nullptr) {
  r.unshare_errno = ::unshare(CLONE_NEWNS) == 0 ? 0 : errno;
  if (r.unshare_errno != 0) return;
  r.apply_errno = plan.apply(&r.failed_step);
  if (r.apply_errno != 0) return;
  if (then != nullptr) {  // a stub's base root, then one function's part of it
    r.apply_errno = then->apply(&r.failed_step);
    if (r.apply_errno != 0) {
      r.failed_step += 1000;
      return;
    }
  }

  if (::getcwd(r.cwd, sizeof r.cwd) == nullptr) r.cwd[0] = '?';
  const int task = ::open("/var/task/file", O_RDONLY | O_CLOEXEC);
  r.task_read_errno = task < 0 ? errno : 0;
  if (task >= 0) {
    char buf[32];
    const ssize_t n = ::read(task, buf, sizeof buf);
    copyOut(r.task_content, sizeof r.task_content, buf, n > 0 ? static_cast<size_t>(n) : 0);
    ::close(task);
  }
  r.task_create_errno = errnoOfOpen("/var/task/new", O_WRONLY | O_CREAT);
  r.task_write_errno = errnoOfOpen("/var/task/file", O_WRONLY);
  r.root_mkdir_errno = ::mkdir("/newdir", 0755) == 0 ? 0 : errno;
  r.runtime_read_errno = errnoOfOpen("/var/runtime/bootstrap", O_RDONLY);
  r.lang_stat_errno = errnoOfStat("/var/lang");
  r.extra_read_errno = errnoOfOpen("/opt/kindling/marker", O_RDONLY);
  {
    const int fd = ::open("/tmp/written-inside", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    r.tmp_write_errno = fd < 0 ? errno : (::write(fd, "ok", 2) == 2 ? 0 : errno);
    if (fd >= 0) ::close(fd);
  }
  for (size_t i = 0; i < absent.size() && i < kAbsentCount; ++i) {
    r.absent_errno[i] = errnoOfStat(absent[i].c_str());
  }
  r.hostname_errno = errnoOfOpen("/etc/hostname", O_RDONLY);
  {
    const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    r.devnull_write_errno = fd < 0 ? errno : (::write(fd, "x", 1) == 1 ? 0 : errno);
    if (fd >= 0) ::close(fd);
  }
  {
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    unsigned char buf[32] = {};
    r.urandom_errno = fd < 0 ? errno : (::read(fd, buf, sizeof buf) == sizeof buf ? 0 : errno);
    if (fd >= 0) ::close(fd);
    r.urandom_nonzero =
        std::any_of(std::begin(buf), std::end(buf), [](unsigned char c) { return c != 0; });
  }
  for (int i = 0; i < 5; ++i) r.host_device_errno[i] = errnoOfStat(kHostDevices[i]);
  if (DIR* dev = ::opendir("/dev")) {
    while (dirent* entry = ::readdir(dev)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      ++r.dev_entries;
      if (!expected_dev.count(name)) {
        if (r.dev_unexpected++ == 0) {
          copyOut(r.dev_first_unexpected, sizeof r.dev_first_unexpected, name.data(), name.size());
        }
      }
    }
    ::closedir(dev);
  }
  r.proc_self_errno = errnoOfStat("/proc/self/status");
  scanMountsInside(r);
  scanProc(&r.proc_visible_as_root, nullptr, nullptr, 0);
  struct statvfs vfs {};
  if (::statvfs("/usr", &vfs) == 0) r.usr_flags = vfs.f_flag;
  if (::statvfs("/var/task", &vfs) == 0) r.task_flags = vfs.f_flag;
  if (::statvfs("/tmp", &vfs) == 0) r.tmp_flags = vfs.f_flag;
  if (::statvfs("/", &vfs) == 0) r.root_flags = vfs.f_flag;
  const ssize_t link = ::readlink("/bin", r.bin_link, sizeof r.bin_link - 1);
  if (link < 0) r.bin_link[0] = '\0';
  // exec from a read-only bind works (no noexec): the loader and libc come from the binds.
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    ::_exit(126);
  }
  int status = 0;
  if (child > 0 && ::waitpid(child, &status, 0) == child && WIFEXITED(status)) {
    r.exec_status = WEXITSTATUS(status);
  }

  if ((r.drop_errno = dropToUser(kNobody, kNobody)) != 0) return;
  if ((r.drop_errno = dropCapabilities()) != 0) return;
  r.shadow_errno = errnoOfOpen("/etc/shadow", O_RDONLY);
  r.tmp_write_as_nobody_errno = errnoOfOpen("/tmp/written-by-nobody", O_WRONLY | O_CREAT);
  scanProc(&r.proc_visible_after, &r.proc_foreign_after, &r.proc_self_visible_after, kNobody);
  r.proc_pid1_errno = errnoOfStat("/proc/1");
}

class MountsPhaseTest : public MountsTest, public ::testing::WithParamInterface<bool> {};

// The whole plan (build), and the same root in two halves (buildBase while a stub waits, then
// buildFunction for its environment): the same checks pass for both.
TEST_P(MountsPhaseTest, ApplyBuildsALambdaLikeRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for mounts and pivot_root";
  const bool halves = GetParam();
  auto plan = halves ? MountPlan::buildBase(spec()) : MountPlan::build(spec());
  ASSERT_TRUE(plan) << plan.error().message();
  std::optional<MountPlan> second;
  if (halves) {
    auto fn = MountPlan::buildFunction(spec(), *plan);
    ASSERT_TRUE(fn) << fn.error().message();
    second.emplace(std::move(*fn));
    // The base holds nothing of the function; the function part no system directory.
    std::string base_steps, fn_steps;
    for (int i = 0; i < plan->stepCount(); ++i) base_steps += plan->describe(i) + "\n";
    for (int i = 0; i < second->stepCount(); ++i) fn_steps += second->describe(i) + "\n";
    EXPECT_FALSE(contains(base_steps, "/var/task (ro)")) << base_steps;
    EXPECT_FALSE(contains(base_steps, "pivot_root")) << base_steps;
    EXPECT_TRUE(contains(base_steps, "mount proc on /proc")) << base_steps;
    EXPECT_TRUE(contains(fn_steps, "-> /var/task (ro)")) << fn_steps;
    EXPECT_TRUE(contains(fn_steps, "pivot_root")) << fn_steps;
    EXPECT_FALSE(contains(fn_steps, "-> /usr (ro)")) << fn_steps;
    EXPECT_FALSE(contains(fn_steps, "tmpfs on /dev")) << fn_steps;
    // A function part needs a base plan.
    EXPECT_FALSE(MountPlan::buildFunction(spec(), *second));
  }

  const std::vector<std::string> absent = {"/root", "/work", (base_ / "task").string(),
                                           (base_ / "staging").string(), base_.string(), "/home"};
  std::set<std::string> expected_dev = {"null", "zero",  "random", "urandom", "fd",
                                        "stdin", "stdout", "stderr", "shm"};
  for (const char* optional : {"full", "tty"}) {
    if (fs::exists(std::string("/dev/") + optional)) expected_dev.insert(optional);
  }
  const std::string mounts_before = readFile("/proc/self/mountinfo");
  RootReport r;
  ASSERT_TRUE(runInChild(
      [&](RootReport& report) {
        probeRoot(*plan, absent, expected_dev, report, second ? &*second : nullptr);
      },
      &r));
  const std::string mounts_after = readFile("/proc/self/mountinfo");

  ASSERT_EQ(r.unshare_errno, 0) << std::strerror(r.unshare_errno);
  ASSERT_EQ(r.apply_errno, 0) << "step " << r.failed_step << " ("
                              << (r.failed_step >= 1000 ? second->describe(r.failed_step - 1000)
                                                        : plan->describe(r.failed_step))
                              << "): " << std::strerror(r.apply_errno);
  EXPECT_EQ(r.failed_step, -1);
  EXPECT_STREQ(r.cwd, "/");
  EXPECT_EQ(r.task_read_errno, 0) << std::strerror(r.task_read_errno);
  EXPECT_STREQ(r.task_content, "hello from task");
  EXPECT_EQ(r.task_create_errno, EROFS) << std::strerror(r.task_create_errno);
  EXPECT_EQ(r.task_write_errno, EROFS) << std::strerror(r.task_write_errno);
  EXPECT_EQ(r.root_mkdir_errno, EROFS) << std::strerror(r.root_mkdir_errno);
  EXPECT_EQ(r.runtime_read_errno, 0);
  EXPECT_EQ(r.lang_stat_errno, 0);
  EXPECT_EQ(r.extra_read_errno, 0);
  EXPECT_EQ(r.tmp_write_errno, 0) << std::strerror(r.tmp_write_errno);
  for (size_t i = 0; i < absent.size(); ++i) {
    EXPECT_EQ(r.absent_errno[i], ENOENT) << absent[i] << " visible inside";
  }
  EXPECT_EQ(r.hostname_errno, 0) << std::strerror(r.hostname_errno);
  EXPECT_EQ(r.devnull_write_errno, 0) << std::strerror(r.devnull_write_errno);
  EXPECT_EQ(r.urandom_errno, 0) << std::strerror(r.urandom_errno);
  EXPECT_TRUE(r.urandom_nonzero);
  int host_devices = 0;
  for (int i = 0; i < 5; ++i) {
    host_devices += fs::exists(kHostDevices[i]);
    EXPECT_EQ(r.host_device_errno[i], ENOENT) << kHostDevices[i] << " visible inside";
  }
  EXPECT_GT(host_devices, 0) << "no listed host device exists: the absence check proves nothing";
  EXPECT_EQ(r.dev_unexpected, 0) << "unexpected /dev/" << r.dev_first_unexpected;
  EXPECT_EQ(r.dev_entries, static_cast<int>(expected_dev.size()));
  EXPECT_EQ(r.proc_self_errno, 0) << std::strerror(r.proc_self_errno);
  EXPECT_GT(r.proc_visible_as_root, 1);
  EXPECT_EQ(r.root_mounts_inside, 1) << "the host's root is still mounted inside";
  EXPECT_EQ(r.foreign_mounts_inside, 0) << "host mount visible inside: " << r.first_foreign_mount;
  // root, 3 Lambda binds + extra, /tmp, /dev + 4 required devices, shm, proc
  EXPECT_GE(r.mounts_inside, 13);
  for (unsigned long flags : {r.usr_flags, r.task_flags}) {
    EXPECT_TRUE(flags & ST_RDONLY);
    EXPECT_TRUE(flags & ST_NOSUID);
    EXPECT_TRUE(flags & ST_NODEV);
    EXPECT_FALSE(flags & ST_NOEXEC);
  }
  EXPECT_FALSE(r.tmp_flags & ST_RDONLY);
  EXPECT_TRUE(r.tmp_flags & ST_NOSUID);
  EXPECT_TRUE(r.root_flags & ST_RDONLY);
  if (fs::is_symlink("/bin")) {
    EXPECT_EQ(std::string(r.bin_link), fs::read_symlink("/bin").string());
  }
  EXPECT_EQ(r.exec_status, 0);

  EXPECT_EQ(r.drop_errno, 0) << std::strerror(r.drop_errno);
  EXPECT_EQ(r.shadow_errno, EACCES) << std::strerror(r.shadow_errno);
  EXPECT_EQ(r.tmp_write_as_nobody_errno, 0) << std::strerror(r.tmp_write_as_nobody_errno);
  EXPECT_TRUE(r.proc_self_visible_after);
  EXPECT_EQ(r.proc_foreign_after, 0) << "hidepid=invisible shows other users' processes";
  EXPECT_EQ(r.proc_pid1_errno, ENOENT);
  EXPECT_LT(r.proc_visible_after, r.proc_visible_as_root);

  // The host saw none of it: same mount table, staging still empty, /tmp writes landed in
  // tmp_dir.
  EXPECT_EQ(mounts_before, mounts_after);
  EXPECT_TRUE(fs::is_empty(base_ / "staging"));
  EXPECT_EQ(readFile((base_ / "tmp" / "written-inside").string()), "ok");
  EXPECT_TRUE(fs::exists(base_ / "tmp" / "written-by-nobody"));
  EXPECT_FALSE(fs::exists(base_ / "task" / "new"));
}

INSTANTIATE_TEST_SUITE_P(WholeAndHalves, MountsPhaseTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "BaseThenFunction" : "Whole";
                         });

struct SmallReport {
  int unshare_errno = -1;
  int apply_errno = -1;
  int failed_step = -2;
  long tmp_fs_type = 0;
  int tmp_write_errno = -1;
};

TEST_F(MountsTest, TmpIsASmallTmpfsWithoutTmpDir) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for mounts and pivot_root";
  RootfsSpec s = spec();
  s.tmp_dir.clear();
  auto plan = MountPlan::build(s);
  ASSERT_TRUE(plan) << plan.error().message();
  SmallReport r;
  ASSERT_TRUE(runInChild(
      [&](SmallReport& report) {
        report.unshare_errno = ::unshare(CLONE_NEWNS) == 0 ? 0 : errno;
        if (report.unshare_errno) return;
        if ((report.apply_errno = plan->apply(&report.failed_step)) != 0) return;
        struct statfs sfs {};
        if (::statfs("/tmp", &sfs) == 0) report.tmp_fs_type = static_cast<long>(sfs.f_type);
        report.tmp_write_errno = errnoOfOpen("/tmp/x", O_WRONLY | O_CREAT);
      },
      &r));
  ASSERT_EQ(r.apply_errno, 0) << plan->describe(r.failed_step) << ": "
                              << std::strerror(r.apply_errno);
  EXPECT_EQ(r.tmp_fs_type, static_cast<long>(TMPFS_MAGIC));
  EXPECT_EQ(r.tmp_write_errno, 0);
  EXPECT_TRUE(fs::is_empty(base_ / "tmp"));
}

// Without unshare(CLONE_NEWNS) apply() stops at step 0, before touching the host's mounts.
TEST_F(MountsTest, ApplyRefusesTheHostMountNamespace) {
  auto plan = MountPlan::build(spec());
  ASSERT_TRUE(plan) << plan.error().message();
  const std::string mounts_before = readFile("/proc/self/mountinfo");
  SmallReport r;
  ASSERT_TRUE(runInChild(
      [&](SmallReport& report) { report.apply_errno = plan->apply(&report.failed_step); }, &r));
  EXPECT_EQ(r.apply_errno, EINVAL);
  EXPECT_EQ(r.failed_step, 0);
  EXPECT_TRUE(contains(plan->describe(0), "mount namespace")) << plan->describe(0);
  EXPECT_EQ(mounts_before, readFile("/proc/self/mountinfo"));
}

// A source that vanishes between build() and apply() is reported as {step, errno}.
TEST_F(MountsTest, ApplyReportsTheFailingStep) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for mounts and pivot_root";
  auto plan = MountPlan::build(spec());
  ASSERT_TRUE(plan) << plan.error().message();
  fs::remove_all(base_ / "task");
  const std::string mounts_before = readFile("/proc/self/mountinfo");
  SmallReport r;
  ASSERT_TRUE(runInChild(
      [&](SmallReport& report) {
        report.unshare_errno = ::unshare(CLONE_NEWNS) == 0 ? 0 : errno;
        if (report.unshare_errno == 0) report.apply_errno = plan->apply(&report.failed_step);
      },
      &r));
  ASSERT_EQ(r.unshare_errno, 0);
  EXPECT_EQ(r.apply_errno, ENOENT) << std::strerror(r.apply_errno);
  EXPECT_EQ(plan->describe(r.failed_step),
            "bind " + (base_ / "task").string() + " -> /var/task (ro)");
  EXPECT_EQ(mounts_before, readFile("/proc/self/mountinfo"));
}

// Not a timed assertion: prints the cost of apply() (and of the unshare before it).
TEST_F(MountsTest, ApplyCost) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for mounts and pivot_root";
  auto plan = MountPlan::build(spec());
  ASSERT_TRUE(plan) << plan.error().message();
  struct Timing {
    int apply_errno = -1;
    long unshare_ns = 0;
    long apply_ns = 0;
  };
  auto now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
  };
  constexpr int kRuns = 50;
  std::vector<long> unshare_us, apply_us;
  for (int i = 0; i < kRuns; ++i) {
    Timing t;
    ASSERT_TRUE(runInChild(
        [&](Timing& out) {
          const long t0 = now();
          if (::unshare(CLONE_NEWNS) != 0) return;
          const long t1 = now();
          int step = -1;
          out.apply_errno = plan->apply(&step);
          out.unshare_ns = t1 - t0;
          out.apply_ns = now() - t1;
        },
        &t));
    ASSERT_EQ(t.apply_errno, 0);
    unshare_us.push_back(t.unshare_ns / 1000);
    apply_us.push_back(t.apply_ns / 1000);
  }
  auto median = [](std::vector<long> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const auto [min_apply, max_apply] = std::minmax_element(apply_us.begin(), apply_us.end());
  std::printf("[ mounts   ] apply(): %d steps, median %ld us (min %ld, max %ld) over %d runs; "
              "unshare(CLONE_NEWNS) median %ld us\n",
              plan->stepCount(), median(apply_us), *min_apply, *max_apply, kRuns,
              median(unshare_us));
  RecordProperty("apply_median_us", std::to_string(median(apply_us)));
  RecordProperty("unshare_median_us", std::to_string(median(unshare_us)));
}

}  // namespace
}  // namespace kindling::sandbox
