// CgroupManager / Cgroup: see cgroup.h for the design. Kernel interfaces used:
//   v1: Documentation/admin-guide/cgroup-v1/{memory,freezer-subsystem,pids}.rst, sched-bwc.rst
//   v2: Documentation/admin-guide/cgroup-v2.rst (cgroup.kill since 5.14, memory.peak since 5.19)
#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "common/logging.h"

namespace kindling::sandbox {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Immutable after CgroupManager::open(); shared by the manager and every group it made, so a
// group may outlive its manager.
struct CgroupShared {
  CgroupLayout layout;
  std::string parent;
  int host_cores = 1;
  std::vector<fs::path> parent_dirs;  // v1: memory, cpu, freezer, pids; v2: one
  std::function<void(const fs::path&)> after_mkdir;
  std::function<void(const fs::path&)> before_rmdir;
};

namespace {

// v1 directory roles, in the order of CgroupShared::parent_dirs and Cgroup::dirs_.
constexpr size_t kMemory = 0, kCpu = 1, kFreezer = 2, kPids = 3;
constexpr std::array<std::string_view, 4> kV1Controllers = {"memory", "cpu", "freezer", "pids"};
constexpr std::array<std::string_view, 3> kV2Controllers = {"memory", "cpu", "pids"};

constexpr auto kKillTimeout = std::chrono::seconds(2);
constexpr auto kFreezeTimeout = std::chrono::seconds(1);
constexpr auto kFreezeBeforeKillTimeout = std::chrono::milliseconds(100);
constexpr auto kRmdirTimeout = std::chrono::seconds(1);

// Exponential backoff for the few kernel states that settle asynchronously (freezing, exiting).
class Backoff {
 public:
  void sleep() {
    std::this_thread::sleep_for(delay_);
    delay_ = std::min(delay_ * 2, std::chrono::microseconds(1000));
  }

 private:
  std::chrono::microseconds delay_{20};
};

std::string pathIn(const fs::path& dir, std::string_view file) {
  std::string s = dir.string();
  s += '/';
  s += file;
  return s;
}

struct Number {
  std::array<char, 24> buf;
  size_t len = 0;
  std::string_view view() const { return {buf.data(), len}; }
};
Number formatNumber(int64_t v) {
  Number n;
  auto r = std::to_chars(n.buf.data(), n.buf.data() + n.buf.size(), v);
  n.len = static_cast<size_t>(r.ptr - n.buf.data());
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::optional<uint64_t> parseUint(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// The value of a "key N" line of a flat-keyed cgroup file (memory.events, memory.oom_control).
std::optional<uint64_t> keyedValue(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return parseUint(line.substr(key.size() + 1));
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

bool hasToken(std::string_view text, std::string_view token) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of(" \n\t", pos);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(pos, end - pos) == token) return true;
    pos = end + 1;
  }
  return false;
}

// Writes value to dir/file (opened relative to dirfd, or by its absolute path when dirfd < 0:
// v1 groups keep no directory fds, see cgroup.h).
// missing_ok: an absent file (optional kernel feature) is not an error; *missing reports it.
Status writeFileAt(int dirfd, const fs::path& dir, std::string_view file, std::string_view value,
                   bool missing_ok = false, bool* missing = nullptr) {
  char name[64];
  if (file.size() >= sizeof(name)) return makeError(ErrorCode::Internal, "cgroup file name too long");
  std::memcpy(name, file.data(), file.size());
  name[file.size()] = '\0';
  int fd = dirfd < 0 ? ::open(pathIn(dir, file).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC)
                     : ::openat(dirfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    if (missing_ok && errno == ENOENT) {
      if (missing != nullptr) *missing = true;
      return {};
    }
    return errnoError("open(" + pathIn(dir, file) + ")");
  }
  if (missing != nullptr) *missing = false;
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return errnoError("write(" + pathIn(dir, file) + ")", err);
  if (static_cast<size_t>(n) != value.size()) {
    return errnoError("write(" + pathIn(dir, file) + "): short write", EIO);
  }
  return {};
}

// Reads a whole (small) cgroup file.
Result<std::string> readFileAt(int dirfd, const fs::path& dir, std::string_view file) {
  std::string name(file);
  int fd = dirfd < 0 ? ::open(pathIn(dir, file).c_str(), O_RDONLY | O_CLOEXEC)
                     : ::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoError("open(" + pathIn(dir, file) + ")");
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errnoError("read(" + pathIn(dir, file) + ")", err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// One pread from offset 0 of an open cgroup file into buf; returns the text read.
Result<std::string_view> preadSmall(int fd, char* buf, size_t size, const fs::path& dir,
                                    std::string_view file) {
  ssize_t n;
  do {
    n = ::pread(fd, buf, size, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("pread(" + pathIn(dir, file) + ")");
  return std::string_view(buf, static_cast<size_t>(n));
}

// Opens dir/file relative to dirfd, or by its absolute path when dirfd < 0.
Result<sys::UniqueFd> openAt(int dirfd, const fs::path& dir, const char* file, int flags) {
  int fd = dirfd < 0 ? ::open(pathIn(dir, file).c_str(), flags | O_CLOEXEC)
                     : ::openat(dirfd, file, flags | O_CLOEXEC);
  if (fd < 0) return errnoError("open(" + pathIn(dir, file) + ")");
  return sys::UniqueFd(fd);
}

// Reads a small cgroup file: open, one pread, close (no fd is kept between readings).
Result<std::string_view> readSmallAt(int dirfd, const fs::path& dir, const char* file, char* buf,
                                     size_t size) {
  auto fd = openAt(dirfd, dir, file, O_RDONLY);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  return preadSmall(fd->get(), buf, size, dir, file);
}

bool isSingleComponent(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountField(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t j) { return s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

int hostCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

// Creates a parent group directory unless it exists.
Status ensureDir(const CgroupShared& shared, const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) return {};
    return errnoError("mkdir(" + dir.string() + ")");
  }
  if (shared.after_mkdir) shared.after_mkdir(dir);
  return {};
}

// v2: makes sure dir's children get the memory, cpu and pids controllers.
Status enableSubtreeControllers(const fs::path& dir) {
  auto current = readFileAt(AT_FDCWD, dir, "cgroup.subtree_control");
  if (!current) return tl::unexpected(std::move(current.error()));
  std::string add;
  for (auto c : kV2Controllers) {
    if (hasToken(*current, c)) continue;
    if (!add.empty()) add += ' ';
    add += '+';
    add += c;
  }
  if (add.empty()) return {};
  return writeFileAt(AT_FDCWD, dir, "cgroup.subtree_control", add);
}

std::vector<std::string> subdirectoryNames(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
      names.push_back(it->path().filename().string());
    }
  }
  return names;
}

}  // namespace

int64_t cpuQuotaMicros(int memory_mb, int host_cores) {
  const int64_t cores = std::max(host_cores, 1);
  const int64_t mb = std::max(memory_mb, 0);
  // round-half-up of mb * period / 1769, in integers.
  int64_t quota = (2 * mb * kCpuPeriodMicros + kMemoryMbPerVcpu) / (2 * kMemoryMbPerVcpu);
  quota = std::min(quota, cores * kCpuPeriodMicros);
  return std::max<int64_t>(quota, 1000);  // the kernel rejects quotas below 1 ms
}

Result<CgroupLayout> detectCgroupLayout(const CgroupRoots& roots) {
  std::ifstream in(roots.mountinfo);
  if (!in) return errnoError("open(" + roots.mountinfo.string() + ")");
  const fs::path root = roots.root.lexically_normal();
  std::optional<fs::path> v2_root;
  std::array<fs::path, 4> v1;
  std::string line;
  while (std::getline(in, line)) {
    // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    std::vector<std::string_view> f;
    std::string_view rest(line);
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      f.push_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    auto sep = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 6 || sep == f.end() || f.end() - sep < 4) continue;
    std::string_view fstype = sep[1];
    std::string_view super_options = sep[3];
    fs::path mount_point = fs::path(unescapeMountField(f[4])).lexically_normal();
    if (fstype == "cgroup2") {
      if (mount_point == root) v2_root = mount_point;
      continue;
    }
    if (fstype != "cgroup") continue;
    fs::path rel = mount_point.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") continue;  // not under roots.root
    std::string opts(super_options);
    for (char& c : opts) if (c == ',') c = ' ';
    for (size_t i = 0; i < kV1Controllers.size(); ++i) {
      if (hasToken(opts, kV1Controllers[i])) v1[i] = mount_point;  // later mounts win
    }
  }
  CgroupLayout layout;
  if (v2_root) {
    auto controllers = readFileAt(AT_FDCWD, *v2_root, "cgroup.controllers");
    if (!controllers) return tl::unexpected(std::move(controllers.error()));
    std::string missing;
    for (auto c : kV2Controllers) {
      if (!hasToken(*controllers, c)) missing += (missing.empty() ? "" : ", ") + std::string(c);
    }
    if (!missing.empty()) {
      return makeError(ErrorCode::Unsupported, "cgroup2 at " + v2_root->string() +
                                                   " lacks controllers: " + missing);
    }
    layout.v2 = true;
    layout.unified = *v2_root;
    return layout;
  }
  std::string missing;
  for (size_t i = 0; i < v1.size(); ++i) {
    if (v1[i].empty()) missing += (missing.empty() ? "" : ", ") + std::string(kV1Controllers[i]);
  }
  if (!missing.empty()) {
    return makeError(ErrorCode::Unsupported,
                     "no usable cgroup hierarchy under " + root.string() +
                         ": not cgroup2 and cgroup v1 controllers not mounted: " + missing);
  }
  layout.memory = v1[kMemory];
  layout.cpu = v1[kCpu];
  layout.freezer = v1[kFreezer];
  layout.pids = v1[kPids];
  return layout;
}

// ---------------------------------------------------------------------------------------------
// CgroupManager

// Removes every group below dirs (the same group in each v1 controller, or one v2 dir),
// deepest first: leftovers of a previous run. Failures are logged; the caller carries on.
void CgroupManager::removeChildren(const std::shared_ptr<const CgroupShared>& shared,
                    const std::vector<fs::path>& dirs) {
  std::set<std::string> names;
  for (const auto& d : dirs) {
    if (d.empty()) continue;
    for (auto& n : subdirectoryNames(d)) names.insert(std::move(n));
  }
  for (const auto& name : names) {
    std::vector<fs::path> child(dirs.size());
    for (size_t i = 0; i < dirs.size(); ++i) {
      std::error_code ec;
      if (!dirs[i].empty() && fs::is_directory(dirs[i] / name, ec)) child[i] = dirs[i] / name;
    }
    removeChildren(shared, child);
    spdlog::info("cgroup: removing leftover group {}", name);
    // adopt()'s destructor kills the members and removes the directories.
    (void)Cgroup::adopt(shared, child);
  }
}


CgroupManager::CgroupManager(std::shared_ptr<const CgroupShared> shared)
    : shared_(std::move(shared)) {}

CgroupManager::~CgroupManager() {
  for (const auto& dir : parentDirectories()) {
    if (dir.empty()) continue;
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("rmdir({}): {}", dir.string(), std::strerror(errno));
    }
  }
}

Result<std::unique_ptr<CgroupManager>> CgroupManager::open(const CgroupRoots& roots,
                                                           std::string parent) {
  if (!isSingleComponent(parent)) {
    return makeError(ErrorCode::InvalidArgument, "cgroup parent must be one path component: '" +
                                                     parent + "'");
  }
  auto layout = detectCgroupLayout(roots);
  if (!layout) return tl::unexpected(std::move(layout.error()));
  auto shared = std::make_shared<CgroupShared>();
  shared->layout = std::move(*layout);
  shared->parent = std::move(parent);
  shared->host_cores = roots.host_cores > 0 ? roots.host_cores : hostCores();
  shared->after_mkdir = roots.after_mkdir;
  shared->before_rmdir = roots.before_rmdir;
  const CgroupLayout& l = shared->layout;
  if (l.v2) {
    shared->parent_dirs = {l.unified / shared->parent};
    KD_TRY_STATUS(enableSubtreeControllers(l.unified));
  } else {
    shared->parent_dirs = {l.memory / shared->parent, l.cpu / shared->parent,
                           l.freezer / shared->parent, l.pids / shared->parent};
  }
  for (size_t i = 0; i < shared->parent_dirs.size(); ++i) {
    if (auto st = ensureDir(*shared, shared->parent_dirs[i]); !st) {
      // Do not leave the parents already made in the other controllers behind.
      for (size_t j = 0; j < i; ++j) ::rmdir(shared->parent_dirs[j].c_str());
      return tl::unexpected(std::move(st.error()));
    }
  }
  removeChildren(shared, shared->parent_dirs);
  // After the cleanup: v2 refuses subtree_control while the parent itself has members.
  if (l.v2) KD_TRY_STATUS(enableSubtreeControllers(shared->parent_dirs[0]));
  return std::unique_ptr<CgroupManager>(new CgroupManager(std::move(shared)));
}

bool CgroupManager::isV2() const { return shared_->layout.v2; }

const CgroupLayout& CgroupManager::layout() const { return shared_->layout; }

std::vector<fs::path> CgroupManager::parentDirectories() const { return shared_->parent_dirs; }

Result<std::unique_ptr<Cgroup>> CgroupManager::create(const std::string& name,
                                                      const CgroupLimits& limits) {
  if (!isSingleComponent(name)) {
    return makeError(ErrorCode::InvalidArgument, "cgroup name must be one path component: '" +
                                                     name + "'");
  }
  if (limits.memory_mb <= 0 || limits.pids_max <= 0) {
    return makeError(ErrorCode::InvalidArgument,
                     "cgroup limits must be positive: memory_mb=" +
                         std::to_string(limits.memory_mb) +
                         " pids_max=" + std::to_string(limits.pids_max));
  }
  // On any failure below, the half-built group's destructor removes what was made.
  std::unique_ptr<Cgroup> group(new Cgroup(shared_));
  for (const auto& parent_dir : shared_->parent_dirs) {
    KD_TRY_STATUS(group->makeDir(parent_dir / name));
  }
  KD_TRY_STATUS(group->writeLimits(limits));
  KD_TRY_STATUS(group->checkHotFiles());
  return group;
}

// ---------------------------------------------------------------------------------------------
// Cgroup

Cgroup::Cgroup(std::shared_ptr<const CgroupShared> shared) : shared_(std::move(shared)) {}

std::unique_ptr<Cgroup> Cgroup::adopt(std::shared_ptr<const CgroupShared> shared,
                                      const std::vector<fs::path>& dirs) {
  std::unique_ptr<Cgroup> group(new Cgroup(std::move(shared)));
  const bool v2 = group->shared_->layout.v2;
  for (size_t i = 0; i < dirs.size(); ++i) {
    if (dirs[i].empty()) continue;
    struct stat st {};
    const bool present = ::stat(dirs[i].c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    group->dirs_.push_back(Dir{dirs[i], sys::UniqueFd(), present});
    if (!present) continue;
    if (v2) {
      group->dirs_.back().fd.reset(::open(dirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      group->can_freeze_ = ::access(pathIn(dirs[i], "cgroup.freeze").c_str(), W_OK) == 0;
    } else if (i == kFreezer && group->dirs_.size() == kFreezer + 1) {
      group->can_freeze_ = ::access(pathIn(dirs[i], "freezer.state").c_str(), W_OK) == 0;
    }
  }
  return group;
}

Status Cgroup::makeDir(const fs::path& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return errnoError("mkdir(" + path.string() + ")");
  dirs_.push_back(Dir{path, sys::UniqueFd(), true});
  if (shared_->after_mkdir) shared_->after_mkdir(path);
  // v1 keeps no fd per controller directory (four per environment add up with thousands of
  // environments); files are opened by path when used. v2 keeps its one directory fd.
  if (!shared_->layout.v2) return {};
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoError("open(" + path.string() + ", O_DIRECTORY)");
  dirs_.back().fd.reset(fd);
  return {};
}

Status Cgroup::writeLimits(const CgroupLimits& limits) {
  const int64_t memory_bytes = int64_t{limits.memory_mb} << 20;
  const int64_t quota_us =
      limits.unthrottled_cpu ? -1 : cpuQuotaMicros(limits.memory_mb, shared_->host_cores);
  const Number memory = formatNumber(memory_bytes);
  const Number pids = formatNumber(limits.pids_max);
  const Number quota = formatNumber(quota_us);
  const Number period = formatNumber(kCpuPeriodMicros);
  std::lock_guard lock(limits_mu_);
  memory_mb_ = limits.memory_mb;
  Written& w = written_;
  auto changed = [](const std::optional<int64_t>& last, int64_t value) {
    return !last || *last != value;
  };
  // A value is remembered only once written: a failure leaves it unknown (written next time).
  if (shared_->layout.v2) {
    const Dir& d = dirs_[0];
    if (changed(w.memory_bytes, memory_bytes)) {
      w.memory_bytes.reset();
      KD_TRY_STATUS(writeFileAt(d.fd.get(), d.path, "memory.max", memory.view()));
      w.memory_bytes = memory_bytes;
    }
    if (!w.constants) {
      // No swap, as on Lambda; the file is absent without swap accounting.
      KD_TRY_STATUS(writeFileAt(d.fd.get(), d.path, "memory.swap.max", "0", true));
      // An OOM kills the whole environment at once, not one process of it.
      KD_TRY_STATUS(writeFileAt(d.fd.get(), d.path, "memory.oom.group", "1", true));
      w.constants = true;
    }
    if (changed(w.cpu_quota, quota_us) || changed(w.cpu_period, kCpuPeriodMicros)) {
      w.cpu_quota.reset();
      std::string cpu_max(limits.unthrottled_cpu ? std::string_view("max") : quota.view());
      cpu_max += ' ';
      cpu_max += period.view();
      KD_TRY_STATUS(writeFileAt(d.fd.get(), d.path, "cpu.max", cpu_max));
      w.cpu_quota = quota_us;
      w.cpu_period = kCpuPeriodMicros;
    }
    if (changed(w.pids, limits.pids_max)) {
      w.pids.reset();
      KD_TRY_STATUS(writeFileAt(d.fd.get(), d.path, "pids.max", pids.view()));
      w.pids = limits.pids_max;
    }
    return {};
  }
  const Dir& m = dirs_[kMemory];
  if (changed(w.memory_bytes, memory_bytes)) {
    w.memory_bytes.reset();
    // memsw may never be below memory.limit_in_bytes: lift it first (a group taken from a pool
    // may grow), then set memory, then memsw.
    KD_TRY_STATUS(writeFileAt(m.fd.get(), m.path, "memory.memsw.limit_in_bytes", "-1", true));
    KD_TRY_STATUS(writeFileAt(m.fd.get(), m.path, "memory.limit_in_bytes", memory.view()));
    KD_TRY_STATUS(
        writeFileAt(m.fd.get(), m.path, "memory.memsw.limit_in_bytes", memory.view(), true));
    w.memory_bytes = memory_bytes;
  }
  const Dir& c = dirs_[kCpu];
  if (changed(w.cpu_period, kCpuPeriodMicros)) {
    w.cpu_period.reset();
    KD_TRY_STATUS(writeFileAt(c.fd.get(), c.path, "cpu.cfs_period_us", period.view()));
    w.cpu_period = kCpuPeriodMicros;
  }
  if (changed(w.cpu_quota, quota_us)) {
    w.cpu_quota.reset();
    KD_TRY_STATUS(writeFileAt(c.fd.get(), c.path, "cpu.cfs_quota_us", quota.view()));
    w.cpu_quota = quota_us;
  }
  const Dir& p = dirs_[kPids];
  if (changed(w.pids, limits.pids_max)) {
    w.pids.reset();
    KD_TRY_STATUS(writeFileAt(p.fd.get(), p.path, "pids.max", pids.view()));
    w.pids = limits.pids_max;
  }
  return {};
}

int64_t Cgroup::proportionalCpuQuota() const {
  std::lock_guard lock(limits_mu_);
  return cpuQuotaMicros(memory_mb_, shared_->host_cores);
}

Status Cgroup::setCpuQuota(int64_t quota_us) {
  const int64_t value = quota_us < 0 ? -1 : quota_us;
  const Number quota = formatNumber(value);
  std::lock_guard lock(limits_mu_);
  written_.cpu_quota.reset();
  if (shared_->layout.v2) {
    std::string cpu_max(value < 0 ? std::string_view("max") : quota.view());
    cpu_max += ' ';
    cpu_max += formatNumber(kCpuPeriodMicros).view();
    KD_TRY_STATUS(writeFileAt(dirs_[0].fd.get(), dirs_[0].path, "cpu.max", cpu_max));
    written_.cpu_period = kCpuPeriodMicros;
  } else {
    KD_TRY_STATUS(
        writeFileAt(dirs_[kCpu].fd.get(), dirs_[kCpu].path, "cpu.cfs_quota_us", quota.view()));
  }
  written_.cpu_quota = value;
  return {};
}

Status Cgroup::checkHotFiles() {
  // The files are opened when used (one open + pread + close): an idle environment holds no
  // cgroup fd. Checked here once so that a group missing one fails at create(), as before.
  if (shared_->layout.v2) {
    const Dir& d = dirs_[0];
    peak_name_ = "memory.peak";
    if (::faccessat(d.fd.get(), "memory.peak", R_OK, 0) != 0 && errno == ENOENT) {
      peak_name_ = "memory.current";  // kernels before 5.19
    }
    for (const char* file : {peak_name_, "memory.events", "cgroup.events"}) {
      if (::faccessat(d.fd.get(), file, R_OK, 0) != 0) {
        return errnoError("open(" + pathIn(d.path, file) + ")");
      }
    }
    if (::faccessat(d.fd.get(), "cgroup.freeze", W_OK, 0) != 0) {
      return errnoError("open(" + pathIn(d.path, "cgroup.freeze") + ")");
    }
    can_freeze_ = true;
    return {};
  }
  peak_name_ = "memory.max_usage_in_bytes";
  for (const char* file : {peak_name_, "memory.oom_control"}) {
    const std::string path = pathIn(dirs_[kMemory].path, file);
    if (::access(path.c_str(), R_OK) != 0) return errnoError("open(" + path + ")");
  }
  const std::string freezer = pathIn(dirs_[kFreezer].path, "freezer.state");
  if (::access(freezer.c_str(), R_OK | W_OK) != 0) return errnoError("open(" + freezer + ")");
  can_freeze_ = true;
  return {};
}

Cgroup::~Cgroup() {
  std::lock_guard lock(mu_);
  if (auto st = killAllLocked(); !st) spdlog::warn("cgroup: {}", st.error().message());
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    it->fd.reset();
    if (shared_->before_rmdir) shared_->before_rmdir(it->path);
    // rmdir can briefly fail with EBUSY while killed members finish exiting.
    const auto deadline = Clock::now() + kRmdirTimeout;
    Backoff backoff;
    while (::rmdir(it->path.c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || Clock::now() > deadline) {
        spdlog::warn("cgroup: rmdir({}): {}", it->path.string(), std::strerror(errno));
        break;
      }
      backoff.sleep();
    }
  }
}

Status Cgroup::addProcess(pid_t pid) {
  const Number value = formatNumber(pid);
  for (const Dir& d : dirs_) {
    KD_TRY_STATUS(writeFileAt(d.fd.get(), d.path, "cgroup.procs", value.view()));
  }
  return {};
}

Result<uint64_t> Cgroup::peakMemoryBytes() const {
  char buf[64];
  auto text = readSmallAt(dirs_[0].fd.get(), dirs_[0].path, peak_name_, buf, sizeof(buf));
  if (!text) return tl::unexpected(std::move(text.error()));
  auto v = parseUint(*text);
  if (!v) {
    return makeError(ErrorCode::Io, "parse(" + pathIn(dirs_[0].path, peak_name_) + "): '" +
                                        std::string(trim(*text)) + "'");
  }
  return *v;
}

Result<uint64_t> Cgroup::currentMemoryBytes() const {
  if (dirs_.empty()) return makeError(ErrorCode::Internal, "cgroup has no memory directory");
  const char* file = shared_->layout.v2 ? "memory.current" : "memory.usage_in_bytes";
  auto fd = openAt(dirs_[0].fd.get(), dirs_[0].path, file, O_RDONLY);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  char buf[64];
  auto text = preadSmall(fd->get(), buf, sizeof(buf), dirs_[0].path, file);
  if (!text) return tl::unexpected(std::move(text.error()));
  auto v = parseUint(*text);
  if (!v) return makeError(ErrorCode::Io, "parse(" + pathIn(dirs_[0].path, file) + ")");
  return *v;
}

Result<uint64_t> Cgroup::oomKillCount() const {
  const char* file = shared_->layout.v2 ? "memory.events" : "memory.oom_control";
  char buf[512];
  auto text = readSmallAt(dirs_[0].fd.get(), dirs_[0].path, file, buf, sizeof(buf));
  if (!text) return tl::unexpected(std::move(text.error()));
  auto v = keyedValue(*text, "oom_kill");
  if (!v) {
    return makeError(ErrorCode::Io, "parse(" + pathIn(dirs_[0].path, file) + "): no oom_kill");
  }
  return *v;
}

Result<bool> Cgroup::frozen() const {
  char buf[256];
  if (shared_->layout.v2) {
    auto text = readSmallAt(dirs_[0].fd.get(), dirs_[0].path, "cgroup.events", buf, sizeof(buf));
    if (!text) return tl::unexpected(std::move(text.error()));
    auto v = keyedValue(*text, "frozen");
    if (!v) {
      return makeError(ErrorCode::Io,
                       "parse(" + pathIn(dirs_[0].path, "cgroup.events") + "): no frozen");
    }
    return *v == 1;
  }
  const Dir& d = dirs_.size() > kFreezer ? dirs_[kFreezer] : dirs_[0];
  auto text = readSmallAt(d.fd.get(), d.path, "freezer.state", buf, sizeof(buf));
  if (!text) return tl::unexpected(std::move(text.error()));
  return trim(*text) == "FROZEN";
}

Status Cgroup::setFrozenLocked(bool frozen_wanted) {
  const bool v2 = shared_->layout.v2;
  const Dir& d = v2 || dirs_.size() <= kFreezer ? dirs_[0] : dirs_[kFreezer];
  const char* file = v2 ? "cgroup.freeze" : "freezer.state";
  std::string_view value = v2 ? (frozen_wanted ? "1" : "0") : (frozen_wanted ? "FROZEN" : "THAWED");
  return writeFileAt(d.fd.get(), d.path, file, value);
}

Status Cgroup::freeze() {
  std::lock_guard lock(mu_);
  KD_TRY_STATUS(setFrozenLocked(true));
  // Freezing completes asynchronously (v1: FREEZING until every task stopped; v2: the
  // "frozen 1" line of cgroup.events).
  const auto deadline = Clock::now() + kFreezeTimeout;
  Backoff backoff;
  for (;;) {
    auto is_frozen = frozen();
    if (!is_frozen) return tl::unexpected(std::move(is_frozen.error()));
    if (*is_frozen) return {};
    if (Clock::now() > deadline) {
      return errnoError("freeze(" + dirs_[0].path.string() + "): not frozen after 1 s", ETIMEDOUT);
    }
    backoff.sleep();
  }
}

Status Cgroup::thaw() {
  std::lock_guard lock(mu_);
  return setFrozenLocked(false);
}

Status Cgroup::killAll() {
  std::lock_guard lock(mu_);
  return killAllLocked();
}

Status Cgroup::killAllLocked() {
  if (dirs_.empty()) return {};
  bool used_kill_file = false;
  if (shared_->layout.v2 && dirs_[0].present) {
    bool missing = false;  // cgroup.kill arrived in 5.14
    KD_TRY_STATUS(writeFileAt(dirs_[0].fd.get(), dirs_[0].path, "cgroup.kill", "1", true, &missing));
    used_kill_file = !missing;
  }
  const auto deadline = Clock::now() + kKillTimeout;
  Backoff backoff;
  std::vector<pid_t> pids;
  for (;;) {
    pids.clear();
    for (const Dir& d : dirs_) {
      if (!d.present) continue;
      auto text = readFileAt(d.fd.get(), d.path, "cgroup.procs");
      if (!text) return tl::unexpected(std::move(text.error()));
      std::string_view rest(*text);
      while (!rest.empty()) {
        size_t nl = rest.find('\n');
        if (auto v = parseUint(rest.substr(0, nl)); v && *v > 0) pids.push_back(static_cast<pid_t>(*v));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
      }
    }
    if (pids.empty()) return {};
    if (Clock::now() > deadline) {
      return errnoError("killAll(" + dirs_[0].path.string() + "): " + std::to_string(pids.size()) +
                            " processes left after 2 s",
                        EBUSY);
    }
    if (!used_kill_file) {
      std::sort(pids.begin(), pids.end());
      pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
      // Frozen members cannot exit, so their pids cannot be recycled between the read of
      // cgroup.procs and kill(). v1: a frozen task only dies once thawed, hence the thaw.
      bool froze = false;
      if (can_freeze_ && setFrozenLocked(true)) {
        froze = true;
        const auto freeze_deadline = Clock::now() + kFreezeBeforeKillTimeout;
        Backoff freeze_backoff;
        for (;;) {
          auto f = frozen();
          if (!f || *f || Clock::now() > freeze_deadline) break;
          freeze_backoff.sleep();
        }
      }
      for (pid_t pid : pids) ::kill(pid, SIGKILL);
      if (froze) (void)setFrozenLocked(false);
    }
    backoff.sleep();
  }
}

std::vector<fs::path> Cgroup::directories() const {
  std::vector<fs::path> out;
  out.reserve(dirs_.size());
  for (const Dir& d : dirs_) out.push_back(d.path);
  return out;
}

int Cgroup::directoryFd() const { return shared_->layout.v2 && !dirs_.empty() ? dirs_[0].fd.get() : -1; }

}  // namespace kindling::sandbox
