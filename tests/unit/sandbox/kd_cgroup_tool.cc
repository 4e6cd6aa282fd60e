// kd_cgroup_tool: drives CgroupManager/Cgroup on the real host for
// tests/integration/test_cgroups.py (needs root). Each subcommand prints one JSON object on
// stdout and removes its parent group afterwards; exit status 0 unless the tool itself failed.
//   oom <parent> <limit_mb> <alloc_mb>   child allocates alloc_mb in a limit_mb group
//   forkloop <parent> <pids_max>         child forks until the pids limit stops it
//   freeze <parent>                      busy child: CPU time running / frozen / thawed
//   destroy <parent>                     group with a child and grandchild, then destroyed
//   cycles <parent> <n> [with_process]   n create/destroy cycles, timings in µs
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/cgroup.h"

namespace {

using kindling::sandbox::Cgroup;
using kindling::sandbox::CgroupLimits;
using kindling::sandbox::CgroupManager;
using kindling::sandbox::CgroupRoots;
using nlohmann::json;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "kd_cgroup_tool: %s\n", what.c_str());
  std::exit(2);
}

template <typename T>
T check(kindling::Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message());
  return std::move(*r);
}
void check(kindling::Status s, const char* what) {
  if (!s) die(std::string(what) + ": " + s.error().message());
}

// A child that blocks until the parent has put it into the group, then runs body().
template <typename Body>
pid_t spawnInto(Cgroup& group, Body body) {
  int go[2];
  if (::pipe(go) != 0) die("pipe");
  pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ::close(go[1]);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(100);
    ::close(go[0]);
    body();
    ::_exit(0);
  }
  ::close(go[0]);
  check(group.addProcess(pid), "addProcess");
  if (::write(go[1], "x", 1) != 1) die("write(go)");
  ::close(go[1]);
  return pid;
}

int64_t cpuNanos(pid_t pid) {
  clockid_t cid;
  if (::clock_getcpuclockid(pid, &cid) != 0) die("clock_getcpuclockid");
  timespec ts{};
  if (::clock_gettime(cid, &ts) != 0) die("clock_gettime(cpu clock)");
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

double cpuMsOver(pid_t pid, std::chrono::milliseconds window) {
  int64_t before = cpuNanos(pid);
  std::this_thread::sleep_for(window);
  return static_cast<double>(cpuNanos(pid) - before) / 1e6;
}

bool anyExists(const std::vector<fs::path>& dirs) {
  for (const auto& d : dirs) {
    if (fs::exists(d)) return true;
  }
  return false;
}

int cmdOom(CgroupManager& m, int limit_mb, int alloc_mb) {
  auto group = check(m.create("oom", {limit_mb, 64}), "create");
  pid_t pid = spawnInto(*group, [alloc_mb] {
    const size_t chunk = 1 << 20;
    for (int i = 0; i < alloc_mb; ++i) {
      char* p = static_cast<char*>(std::malloc(chunk));
      if (p == nullptr) ::_exit(3);
      std::memset(p, 1, chunk);
    }
    ::_exit(0);  // not reached when the limit holds
  });
  int status = 0;
  ::waitpid(pid, &status, 0);
  json out{{"signaled", WIFSIGNALED(status) != 0},
           {"signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0},
           {"exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1},
           {"oom_kills", check(group->oomKillCount(), "oomKillCount")},
           {"peak_bytes", check(group->peakMemoryBytes(), "peakMemoryBytes")},
           {"limit_bytes", int64_t{limit_mb} << 20}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int cmdForkloop(CgroupManager& m, int pids_max) {
  auto group = check(m.create("forkloop", {128, pids_max}), "create");
  int report[2];
  if (::pipe(report) != 0) die("pipe");
  pid_t pid = spawnInto(*group, [&] {
    ::close(report[0]);
    int forked = 0;
    int err = 0;
    for (int i = 0; i < 10000; ++i) {
      pid_t c = ::fork();
      if (c < 0) {
        err = errno;
        break;
      }
      if (c == 0) {
        for (;;) ::pause();
      }
      ++forked;
    }
    int msg[2] = {forked, err};
    if (::write(report[1], msg, sizeof(msg)) != sizeof(msg)) ::_exit(4);
    for (;;) ::pause();
  });
  ::close(report[1]);
  int msg[2] = {-1, 0};
  if (::read(report[0], msg, sizeof(msg)) != sizeof(msg)) die("read(report)");
  auto dirs = group->directories();
  auto t0 = std::chrono::steady_clock::now();
  group.reset();  // kills the forker and its 15 children
  auto destroy_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0).count();
  int status = 0;
  ::waitpid(pid, &status, 0);
  json out{{"forked", msg[0]},
           {"errno", msg[1] != 0 ? strerrorname_np(msg[1]) : ""},
           {"forker_killed", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL},
           {"destroy_us", destroy_us},
           {"dirs_left", anyExists(dirs)}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int cmdFreeze(CgroupManager& m) {
  // 1,769 MB = one full vCPU, so the busy loop is not throttled by the quota.
  auto group = check(m.create("freeze", {1769, 64}), "create");
  pid_t pid = spawnInto(*group, [] {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  });
  const auto window = std::chrono::milliseconds(300);
  double running = cpuMsOver(pid, window);
  auto t0 = std::chrono::steady_clock::now();
  check(group->freeze(), "freeze");
  auto freeze_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - t0).count();
  bool frozen_state = check(group->frozen(), "frozen");
  double frozen = cpuMsOver(pid, window);
  t0 = std::chrono::steady_clock::now();
  check(group->thaw(), "thaw");
  auto thaw_us = std::chrono::duration_cast<std::chrono::microseconds>(
                     std::chrono::steady_clock::now() - t0).count();
  bool thawed_state = !check(group->frozen(), "frozen");
  double thawed = cpuMsOver(pid, window);
  group.reset();
  int status = 0;
  ::waitpid(pid, &status, 0);
  json out{{"cpu_ms_running", running}, {"cpu_ms_frozen", frozen}, {"cpu_ms_thawed", thawed},
           {"frozen_state", frozen_state}, {"thawed_state", thawed_state},
           {"freeze_us", freeze_us}, {"thaw_us", thaw_us},
           {"child_killed", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int cmdDestroy(CgroupManager& m) {
  auto group = check(m.create("destroy", {128, 64}), "create");
  int ready[2];
  if (::pipe(ready) != 0) die("pipe");
  pid_t pid = spawnInto(*group, [&] {
    ::close(ready[0]);
    pid_t grandchild = ::fork();  // lands in the same group
    if (grandchild == 0) {
      for (;;) ::pause();
    }
    if (::write(ready[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild)) ::_exit(4);
    for (;;) ::pause();
  });
  ::close(ready[1]);
  pid_t grandchild = 0;
  if (::read(ready[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild)) die("read(ready)");
  auto dirs = group->directories();
  bool existed = !dirs.empty();
  for (const auto& d : dirs) existed = existed && fs::is_directory(d);
  group.reset();
  int status = 0;
  ::waitpid(pid, &status, 0);
  // The grandchild was reparented to this tool (a child subreaper, see main): reap it too.
  int grandchild_status = 0;
  bool grandchild_killed = ::waitpid(grandchild, &grandchild_status, 0) == grandchild &&
                           WIFSIGNALED(grandchild_status) &&
                           WTERMSIG(grandchild_status) == SIGKILL;
  json out{{"dirs_existed", existed}, {"dirs_left", anyExists(dirs)},
           {"child_killed", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL},
           {"grandchild_killed", grandchild_killed}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int cmdCycles(CgroupManager& m, int n, bool with_process) {
  using Us = std::chrono::duration<double, std::micro>;
  double create_us = 0, destroy_us = 0, add_us = 0;
  std::vector<fs::path> all_dirs;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto group = check(m.create("cycle-" + std::to_string(i), {128, 1024}), "create");
    auto t1 = std::chrono::steady_clock::now();
    create_us += Us(t1 - t0).count();
    pid_t pid = -1;
    if (with_process) {
      auto t2 = std::chrono::steady_clock::now();
      pid = spawnInto(*group, [] {
        for (;;) ::pause();
      });
      add_us += Us(std::chrono::steady_clock::now() - t2).count();
    }
    for (auto& d : group->directories()) all_dirs.push_back(d);
    auto t3 = std::chrono::steady_clock::now();
    group.reset();
    destroy_us += Us(std::chrono::steady_clock::now() - t3).count();
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
  size_t left = 0;
  for (const auto& d : all_dirs) left += fs::exists(d) ? 1 : 0;
  json out{{"cycles", n}, {"create_us", create_us / n}, {"destroy_us", destroy_us / n},
           {"spawn_add_us", with_process ? add_us / n : 0.0}, {"dirs_left", left}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) die("usage: kd_cgroup_tool <oom|forkloop|freeze|destroy|cycles> <parent> ...");
  std::string cmd = argv[1];
  // Orphans of the test children come back to this tool, so it can check how they ended.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("prctl(PR_SET_CHILD_SUBREAPER)");
  auto manager = check(CgroupManager::open(CgroupRoots{}, argv[2]), "CgroupManager::open");
  std::fprintf(stderr, "kd_cgroup_tool: cgroup %s\n", manager->isV2() ? "v2" : "v1");
  int rc = 2;
  if (cmd == "oom" && argc == 5) {
    rc = cmdOom(*manager, std::atoi(argv[3]), std::atoi(argv[4]));
  } else if (cmd == "forkloop" && argc == 4) {
    rc = cmdForkloop(*manager, std::atoi(argv[3]));
  } else if (cmd == "freeze" && argc == 3) {
    rc = cmdFreeze(*manager);
  } else if (cmd == "destroy" && argc == 3) {
    rc = cmdDestroy(*manager);
  } else if (cmd == "cycles" && (argc == 4 || argc == 5)) {
    rc = cmdCycles(*manager, std::atoi(argv[3]), argc == 5 && std::string(argv[4]) == "with_process");
  } else {
    die("bad arguments for " + cmd);
  }
  // The test's parent group goes too (a daemon keeps its own).
  for (const auto& d : manager->parentDirectories()) {
    if (::rmdir(d.c_str()) != 0) std::fprintf(stderr, "rmdir(%s): %s\n", d.c_str(), std::strerror(errno));
  }
  return rc;
}
