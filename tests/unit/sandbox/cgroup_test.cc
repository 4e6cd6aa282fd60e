// CgroupManager / Cgroup against a fake cgroupfs: plain directories in a temp dir holding the
// files a real kernel would create (the after_mkdir callback fills them in, before_rmdir empties
// them), plus a fake mountinfo. Files the kernel fills (peak usage, OOM counters, freezer state)
// are written by the tests to check parsing.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "sandbox/cgroup.h"

namespace kindling::sandbox {
namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void writeText(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}
std::string trimmed(const fs::path& p) {
  std::string s = readText(p);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class FakeCgroupFs {
 public:
  explicit FakeCgroupFs(bool v2) : v2_(v2) {
    char tmpl[] = "/tmp/kd_cgroup_test.XXXXXX";
    base_ = fs::path(::mkdtemp(tmpl));
    // A space in the mount point checks mountinfo's \040 unescaping.
    root_ = base_ / "sys fs cgroup";
    fs::create_directories(root_);
    std::ofstream mi(base_ / "mountinfo");
    std::string escaped_root = base_.string() + "/sys\\040fs\\040cgroup";
    mi << "22 1 0:21 / /proc rw,nosuid - proc proc rw\n";
    mi << "31 23 0:28 / " << escaped_root << " rw,relatime - tmpfs tmpfs rw,mode=755\n";
    if (v2) {
      mi << "32 31 0:29 / " << escaped_root << " rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
      writeText(root_ / "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
      writeText(root_ / "cgroup.subtree_control", "");
    } else {
      int id = 40;
      for (const char* c : {"cpu", "cpuacct", "memory", "freezer", "pids", "systemd"}) {
        std::string opts = std::string(c) == "systemd" ? "name=systemd" : c;
        mi << id << " 31 0:" << id + 1 << " / " << escaped_root << "/" << c
           << " rw,relatime - cgroup cgroup rw," << opts << "\n";
        ++id;
        fs::create_directories(root_ / c);
      }
      mi << id << " 31 0:99 / " << escaped_root << "/unified rw,relatime - cgroup2 cgroup2 rw\n";
      fs::create_directories(root_ / "unified");
      writeText(root_ / "unified" / "cgroup.controllers", "");
    }
  }
  ~FakeCgroupFs() {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  CgroupRoots roots() {
    CgroupRoots r;
    r.root = root_;
    r.mountinfo = base_ / "mountinfo";
    r.host_cores = 2;
    r.after_mkdir = [this](const fs::path& dir) { populate(dir); };
    r.before_rmdir = [](const fs::path& dir) {
      for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_directory() || e.is_symlink()) fs::remove(e.path());
      }
    };
    return r;
  }
  const fs::path& root() const { return root_; }
  const fs::path& base() const { return base_; }

  // Files to leave out / replace (name -> symlink target) in the next groups made.
  std::vector<std::string> omit;
  std::map<std::string, std::string> symlinks;

 private:
  void populate(const fs::path& dir) {
    std::map<std::string, std::string> files{{"cgroup.procs", ""}};
    std::string controller = dir.lexically_relative(root_).begin()->string();
    if (v2_) {
      files.insert({{"memory.max", "max\n"}, {"memory.swap.max", "max\n"},
                    {"memory.oom.group", "0\n"}, {"cpu.max", "max 100000\n"},
                    {"pids.max", "max\n"}, {"memory.peak", "0\n"}, {"memory.current", "0\n"},
                    {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
                    {"cgroup.freeze", "0\n"}, {"cgroup.events", "populated 0\nfrozen 0\n"},
                    {"cgroup.kill", ""}, {"cgroup.subtree_control", ""},
                    {"cgroup.controllers", "cpu memory pids\n"}});
    } else if (controller == "memory") {
      files.insert({{"memory.limit_in_bytes", "9223372036854771712\n"},
                    {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                    {"memory.max_usage_in_bytes", "0\n"},
                    {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}});
    } else if (controller == "cpu") {
      files.insert({{"cpu.cfs_period_us", "100000\n"}, {"cpu.cfs_quota_us", "-1\n"}});
    } else if (controller == "freezer") {
      files.insert({{"freezer.state", "THAWED\n"}});
    } else if (controller == "pids") {
      files.insert({{"pids.max", "max\n"}});
    }
    for (const auto& [name, content] : files) {
      if (std::find(omit.begin(), omit.end(), name) != omit.end()) continue;
      if (auto it = symlinks.find(name); it != symlinks.end()) {
        fs::create_symlink(it->second, dir / name);
      } else {
        writeText(dir / name, content);
      }
    }
  }

  bool v2_;
  fs::path base_;
  fs::path root_;
};

TEST(CpuQuota, ProportionalToMemoryAndCappedAtHostCores) {
  EXPECT_EQ(cpuQuotaMicros(128, 2), 7236);     // 0.07 vCPU
  EXPECT_EQ(cpuQuotaMicros(1769, 2), 100000);  // exactly one vCPU
  EXPECT_EQ(cpuQuotaMicros(3008, 2), 170040);
  EXPECT_EQ(cpuQuotaMicros(10240, 2), 200000);  // 578858 capped at 2 cores
  EXPECT_EQ(cpuQuotaMicros(10240, 8), 578858);  // 5.79 vCPU
  EXPECT_EQ(cpuQuotaMicros(3008, 1), 100000);
  EXPECT_EQ(cpuQuotaMicros(512, 2), 28943);     // 28942.9 rounds up
  EXPECT_EQ(cpuQuotaMicros(1, 2), 1000);        // kernel minimum
  EXPECT_EQ(cpuQuotaMicros(128, 0), 7236);      // no cores = one core
}

TEST(Detect, V1FromMountinfoWithEscapedPaths) {
  FakeCgroupFs fake(false);
  auto layout = detectCgroupLayout(fake.roots());
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_FALSE(layout->v2);
  EXPECT_EQ(layout->memory, fake.root() / "memory");
  EXPECT_EQ(layout->cpu, fake.root() / "cpu");
  EXPECT_EQ(layout->freezer, fake.root() / "freezer");
  EXPECT_EQ(layout->pids, fake.root() / "pids");
}

TEST(Detect, V2WhenRootIsCgroup2WithControllers) {
  FakeCgroupFs fake(true);
  auto layout = detectCgroupLayout(fake.roots());
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_TRUE(layout->v2);
  EXPECT_EQ(layout->unified, fake.root());
}

TEST(Detect, V2WithoutCpuControllerIsAnError) {
  FakeCgroupFs fake(true);
  writeText(fake.root() / "cgroup.controllers", "memory pids\n");
  auto layout = detectCgroupLayout(fake.roots());
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().code, ErrorCode::Unsupported);
  EXPECT_NE(layout.error().context.find("lacks controllers: cpu"), std::string::npos)
      << layout.error().context;
}

TEST(Detect, MissingV1ControllerIsNamed) {
  FakeCgroupFs fake(false);
  std::string mi = readText(fake.base() / "mountinfo");
  std::string kept;
  std::istringstream in(mi);
  for (std::string line; std::getline(in, line);) {
    if (line.find("rw,freezer") == std::string::npos) kept += line + "\n";
  }
  writeText(fake.base() / "mountinfo", kept);
  auto layout = detectCgroupLayout(fake.roots());
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().context.find("not mounted: freezer"), std::string::npos)
      << layout.error().context;
}

TEST(Detect, MountsOutsideTheRootAreIgnored) {
  FakeCgroupFs fake(false);
  CgroupRoots roots = fake.roots();
  roots.root = fake.base() / "elsewhere";
  auto layout = detectCgroupLayout(roots);
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().context.find("memory, cpu, freezer, pids"), std::string::npos)
      << layout.error().context;
}

TEST(Detect, UnreadableMountinfoNamesTheFile) {
  CgroupRoots roots;
  roots.mountinfo = "/nonexistent/mountinfo";
  auto layout = detectCgroupLayout(roots);
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().context, "open(/nonexistent/mountinfo)");
}

struct V1Case {
  int memory_mb;
  std::string bytes;
  std::string quota;
};

TEST(CgroupV1, WritesExactLimits) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  EXPECT_FALSE((*manager)->isV2());
  for (const V1Case& c : {V1Case{128, "134217728", "7236"}, V1Case{1769, "1854930944", "100000"},
                          V1Case{3008, "3154116608", "170040"},
                          V1Case{10240, "10737418240", "200000"}}) {
    SCOPED_TRACE(c.memory_mb);
    auto group = (*manager)->create("env-" + std::to_string(c.memory_mb), {c.memory_mb, 1024});
    ASSERT_TRUE(group) << group.error().message();
    const std::string name = "kd/env-" + std::to_string(c.memory_mb);
    EXPECT_EQ(trimmed(fake.root() / "memory" / name / "memory.limit_in_bytes"), c.bytes);
    EXPECT_EQ(trimmed(fake.root() / "memory" / name / "memory.memsw.limit_in_bytes"), c.bytes);
    EXPECT_EQ(trimmed(fake.root() / "cpu" / name / "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(trimmed(fake.root() / "cpu" / name / "cpu.cfs_quota_us"), c.quota);
    EXPECT_EQ(trimmed(fake.root() / "pids" / name / "pids.max"), "1024");
    EXPECT_EQ((*group)->directoryFd(), -1);
    std::vector<fs::path> expected;
    for (const char* ctl : {"memory", "cpu", "freezer", "pids"}) {
      expected.push_back(fake.root() / ctl / name);
    }
    EXPECT_EQ((*group)->directories(), expected);
  }
}

// A group taken from a pool gets its function's limits: only the values that differ from what
// was last written are written again (each is a cgroupfs open + write + close at a cold start).
TEST(CgroupV1, SetLimitsRewritesOnlyWhatChanged) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  CgroupLimits prepared{128, 1024};
  prepared.unthrottled_cpu = true;
  auto group = (*manager)->create("env-pool", prepared);
  ASSERT_TRUE(group) << group.error().message();
  const fs::path mem = fake.root() / "memory" / "kd/env-pool";
  const fs::path cpu = fake.root() / "cpu" / "kd/env-pool";
  const fs::path pids = fake.root() / "pids" / "kd/env-pool";
  EXPECT_EQ(trimmed(cpu / "cpu.cfs_quota_us"), "-1");
  // Marks: a file rewritten by setLimits loses its mark.
  for (const fs::path& f : {cpu / "cpu.cfs_period_us", cpu / "cpu.cfs_quota_us",
                            pids / "pids.max", mem / "memory.limit_in_bytes"}) {
    writeText(f, "mark\n");
  }
  CgroupLimits function{1769, 1024};
  function.unthrottled_cpu = true;
  ASSERT_TRUE((*group)->setLimits(function));
  EXPECT_EQ(trimmed(mem / "memory.limit_in_bytes"), "1854930944");   // changed: written
  EXPECT_EQ(trimmed(mem / "memory.memsw.limit_in_bytes"), "1854930944");
  EXPECT_EQ(trimmed(cpu / "cpu.cfs_period_us"), "mark");             // same: left alone
  EXPECT_EQ(trimmed(cpu / "cpu.cfs_quota_us"), "mark");
  EXPECT_EQ(trimmed(pids / "pids.max"), "mark");
  // setCpuQuota is remembered too; the proportional quota then differs and is written.
  ASSERT_TRUE((*group)->setCpuQuota((*group)->proportionalCpuQuota()));
  EXPECT_EQ(trimmed(cpu / "cpu.cfs_quota_us"), "100000");
  writeText(cpu / "cpu.cfs_quota_us", "mark\n");
  ASSERT_TRUE((*group)->setLimits(function));  // unthrottled again: -1 differs from 100000
  EXPECT_EQ(trimmed(cpu / "cpu.cfs_quota_us"), "-1");
}

TEST(CgroupV1, WithoutSwapAccountingSkipsMemsw) {
  FakeCgroupFs fake(false);
  fake.omit = {"memory.memsw.limit_in_bytes"};
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  auto group = (*manager)->create("env-1", {256, 16});
  ASSERT_TRUE(group) << group.error().message();
  EXPECT_FALSE(fs::exists(fake.root() / "memory/kd/env-1/memory.memsw.limit_in_bytes"));
  EXPECT_EQ(trimmed(fake.root() / "memory/kd/env-1/memory.limit_in_bytes"), "268435456");
  EXPECT_EQ(trimmed(fake.root() / "pids/kd/env-1/pids.max"), "16");
}

TEST(CgroupV1, ReadsPeakAndOomCounter) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  auto mem = fake.root() / "memory/kd/env-1";
  writeText(mem / "memory.max_usage_in_bytes", "52428800\n");
  writeText(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
  ASSERT_EQ((*group)->peakMemoryBytes().value(), 52428800u);
  ASSERT_EQ((*group)->oomKillCount().value(), 3u);
  // Re-read through the same descriptor.
  writeText(mem / "memory.max_usage_in_bytes", "1048576\n");
  EXPECT_EQ((*group)->peakMemoryBytes().value(), 1048576u);
  writeText(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  auto missing = (*group)->oomKillCount();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().context, "parse(" + (mem / "memory.oom_control").string() + "): no oom_kill");
}

size_t openFdCount() {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// Thousands of idle environments each own a group: on v1 a group keeps no fd open between
// operations (it held seven: four directories and three hot files).
TEST(CgroupV1, HoldsNoFileDescriptors) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  const size_t before = openFdCount();
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  EXPECT_EQ(openFdCount(), before);
  ASSERT_TRUE((*group)->peakMemoryBytes());
  ASSERT_TRUE((*group)->oomKillCount());
  ASSERT_TRUE((*group)->freeze());
  ASSERT_TRUE((*group)->thaw());
  ASSERT_TRUE((*group)->setCpuQuota(5000));
  EXPECT_EQ(openFdCount(), before);
  EXPECT_EQ((*group)->directoryFd(), -1);
}

TEST(CgroupV1, FreezeAndThawUseFreezerState) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  auto state = fake.root() / "freezer/kd/env-1/freezer.state";
  EXPECT_FALSE((*group)->frozen().value());
  ASSERT_TRUE((*group)->freeze());
  EXPECT_EQ(trimmed(state), "FROZEN");
  EXPECT_TRUE((*group)->frozen().value());
  ASSERT_TRUE((*group)->thaw());
  EXPECT_EQ(trimmed(state), "THAWED");
  EXPECT_FALSE((*group)->frozen().value());
}

TEST(CgroupV1, AddProcessWritesEveryController) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  // Above any pid_max, so nothing real could ever be signalled by this test.
  ASSERT_TRUE((*group)->addProcess(999999999));
  for (const auto& dir : (*group)->directories()) {
    EXPECT_EQ(readText(dir / "cgroup.procs"), "999999999") << dir;
    writeText(dir / "cgroup.procs", "");
  }
}

TEST(CgroupV1, DestroyRemovesEveryDirectoryButTheParent) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  auto dirs = (*group)->directories();
  for (const auto& d : dirs) ASSERT_TRUE(fs::is_directory(d));
  group->reset();
  for (const auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << d;
  for (const auto& d : (*manager)->parentDirectories()) EXPECT_TRUE(fs::is_directory(d)) << d;
}

TEST(CgroupV1, KillAllSignalsListedMembersWhileFrozen) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  auto dirs = (*group)->directories();
  for (const auto& d : dirs) writeText(d / "cgroup.procs", std::to_string(child) + "\n");
  // The fake kernel: once the child is dead, it leaves the group.
  std::atomic<int> status{-1};
  std::thread reaper([&] {
    int st = 0;
    ::waitpid(child, &st, 0);
    for (const auto& d : dirs) writeText(d / "cgroup.procs", "");
    status = st;
  });
  Status killed = (*group)->killAll();
  reaper.join();
  ASSERT_TRUE(killed) << killed.error().message();
  ASSERT_TRUE(WIFSIGNALED(status.load()));
  EXPECT_EQ(WTERMSIG(status.load()), SIGKILL);
  // Frozen while signalled, thawed afterwards (a frozen v1 task only dies once thawed).
  EXPECT_EQ(trimmed(fake.root() / "freezer/kd/env-1/freezer.state"), "THAWED");
}

TEST(CgroupV1, WriteErrorNamesFileAndErrnoAndRollsBack) {
  FakeCgroupFs fake(false);
  fake.symlinks = {{"memory.limit_in_bytes", "/dev/full"}};  // every write: ENOSPC
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  auto group = (*manager)->create("env-42", {});
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().context,
            "write(" + (fake.root() / "memory/kd/env-42/memory.limit_in_bytes").string() + ")");
  EXPECT_EQ(group.error().sys_errno, ENOSPC);
  for (const char* c : {"memory", "cpu", "freezer", "pids"}) {
    EXPECT_FALSE(fs::exists(fake.root() / c / "kd/env-42")) << c;
  }
}

TEST(CgroupV1, MissingFileNamesFileAndErrno) {
  FakeCgroupFs fake(false);
  fake.omit = {"pids.max"};
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-7", {});
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().context, "open(" + (fake.root() / "pids/kd/env-7/pids.max").string() + ")");
  EXPECT_EQ(group.error().sys_errno, ENOENT);
  EXPECT_FALSE(fs::exists(fake.root() / "memory/kd/env-7"));
}

TEST(CgroupV1, DuplicateNameAndBadNamesAreRefused) {
  FakeCgroupFs fake(false);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto first = (*manager)->create("env-1", {});
  ASSERT_TRUE(first);
  auto second = (*manager)->create("env-1", {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().context, "mkdir(" + (fake.root() / "memory/kd/env-1").string() + ")");
  EXPECT_EQ(second.error().sys_errno, EEXIST);
  EXPECT_TRUE(fs::exists(fake.root() / "memory/kd/env-1/memory.limit_in_bytes"));  // untouched
  for (const char* bad : {"", ".", "..", "a/b"}) {
    auto r = (*manager)->create(bad, {});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  }
  auto zero = (*manager)->create("env-0", {0, 1024});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(CgroupManager::open(fake.roots(), "../escape"));
}

TEST(CgroupV1, OpenRemovesLeftoversOfAPreviousRun) {
  FakeCgroupFs fake(false);
  std::vector<fs::path> old_dirs;
  {
    auto manager = CgroupManager::open(fake.roots(), "kd");
    ASSERT_TRUE(manager);
    auto group = (*manager)->create("env-old", {});
    ASSERT_TRUE(group);
    old_dirs = (*group)->directories();
    // A nested group under one leftover: removed first.
    fs::create_directories(old_dirs[0] / "nested");
    writeText(old_dirs[0] / "nested" / "cgroup.procs", "");
    // The daemon "crashes": the group object is never destroyed.
    (void)group->release();
  }
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  for (const auto& d : old_dirs) EXPECT_FALSE(fs::exists(d)) << d;
  for (const auto& d : (*manager)->parentDirectories()) EXPECT_TRUE(fs::is_directory(d)) << d;
}

TEST(CgroupV2, EnablesControllersAndWritesExactLimits) {
  FakeCgroupFs fake(true);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  EXPECT_TRUE((*manager)->isV2());
  EXPECT_EQ(trimmed(fake.root() / "cgroup.subtree_control"), "+memory +cpu +pids");
  EXPECT_EQ(trimmed(fake.root() / "kd/cgroup.subtree_control"), "+memory +cpu +pids");
  for (const V1Case& c : {V1Case{128, "134217728", "7236"}, V1Case{1769, "1854930944", "100000"},
                          V1Case{3008, "3154116608", "170040"},
                          V1Case{10240, "10737418240", "200000"}}) {
    SCOPED_TRACE(c.memory_mb);
    auto group = (*manager)->create("env-" + std::to_string(c.memory_mb), {c.memory_mb, 1024});
    ASSERT_TRUE(group) << group.error().message();
    auto dir = fake.root() / ("kd/env-" + std::to_string(c.memory_mb));
    EXPECT_EQ(trimmed(dir / "memory.max"), c.bytes);
    EXPECT_EQ(trimmed(dir / "memory.swap.max"), "0");
    EXPECT_EQ(trimmed(dir / "memory.oom.group"), "1");
    EXPECT_EQ(trimmed(dir / "cpu.max"), c.quota + " 100000");
    EXPECT_EQ(trimmed(dir / "pids.max"), "1024");
    EXPECT_GE((*group)->directoryFd(), 0);
    EXPECT_EQ((*group)->directories(), std::vector<fs::path>{dir});
  }
}

TEST(CgroupV2, ControllersAlreadyEnabledAreNotRewritten) {
  FakeCgroupFs fake(true);
  writeText(fake.root() / "cgroup.subtree_control", "cpu io memory pids\n");
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager) << manager.error().message();
  EXPECT_EQ(readText(fake.root() / "cgroup.subtree_control"), "cpu io memory pids\n");
}

TEST(CgroupV2, ReadsPeakOomAndFallsBackToCurrent) {
  FakeCgroupFs fake(true);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  auto dir = fake.root() / "kd/env-1";
  writeText(dir / "memory.peak", "7340032\n");
  writeText(dir / "memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 1\n");
  EXPECT_EQ((*group)->peakMemoryBytes().value(), 7340032u);
  EXPECT_EQ((*group)->oomKillCount().value(), 2u);

  fake.omit = {"memory.peak"};  // kernels before 5.19
  auto old_kernel = (*manager)->create("env-2", {});
  ASSERT_TRUE(old_kernel) << old_kernel.error().message();
  writeText(fake.root() / "kd/env-2/memory.current", "4096\n");
  EXPECT_EQ((*old_kernel)->peakMemoryBytes().value(), 4096u);
  writeText(fake.root() / "kd/env-2/memory.current", "garbage\n");
  auto bad = (*old_kernel)->peakMemoryBytes();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().context,
            "parse(" + (fake.root() / "kd/env-2/memory.current").string() + "): 'garbage'");
}

TEST(CgroupV2, FreezeWritesCgroupFreezeAndReadsEvents) {
  FakeCgroupFs fake(true);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  auto dir = fake.root() / "kd/env-1";
  EXPECT_FALSE((*group)->frozen().value());
  writeText(dir / "cgroup.events", "populated 1\nfrozen 1\n");  // what the kernel will report
  ASSERT_TRUE((*group)->freeze());
  EXPECT_EQ(trimmed(dir / "cgroup.freeze"), "1");
  EXPECT_TRUE((*group)->frozen().value());
  ASSERT_TRUE((*group)->thaw());
  EXPECT_EQ(trimmed(dir / "cgroup.freeze"), "0");
}

TEST(CgroupV2, KillAllUsesCgroupKill) {
  FakeCgroupFs fake(true);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  auto group = (*manager)->create("env-1", {});
  ASSERT_TRUE(group);
  ASSERT_TRUE((*group)->killAll());
  EXPECT_EQ(trimmed(fake.root() / "kd/env-1/cgroup.kill"), "1");
  auto dir = (*group)->directories()[0];
  group->reset();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(fs::is_directory(fake.root() / "kd"));
}

TEST(CgroupV2, MemoryMaxErrorNamesTheFileAndRollsBack) {
  FakeCgroupFs fake(true);
  auto manager = CgroupManager::open(fake.roots(), "kd");
  ASSERT_TRUE(manager);
  fake.symlinks = {{"memory.max", "/dev/full"}};
  auto group = (*manager)->create("env-9", {});
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().context, "write(" + (fake.root() / "kd/env-9/memory.max").string() + ")");
  EXPECT_EQ(group.error().sys_errno, ENOSPC);
  EXPECT_FALSE(fs::exists(fake.root() / "kd/env-9"));
}

}  // namespace
}  // namespace kindling::sandbox
