// The filesystem facet (see mounts.h). build() does all the thinking, allocating and host
// inspection; apply() only walks the prepared steps with raw system calls.
#include "sandbox/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <set>
#include <string_view>

namespace kindling::sandbox {

namespace {

namespace fs = std::filesystem;

// Options of the tmpfs mounts the plan creates. The root and /dev hold only mount points,
// directories and symlinks (no data), so they are tiny.
constexpr const char* kRootTmpfsData = "mode=0755,size=1m";
constexpr const char* kDevTmpfsData = "mode=0755,size=64k";
// /dev/shm: no size of its own, its pages are charged to (and bounded by) the memory cgroup.
constexpr const char* kShmTmpfsData = "mode=1777";

// Mount points that the plan always creates itself; user binds may not land on or under them.
constexpr std::array<std::string_view, 6> kReservedInside = {
    "/var/task", "/var/runtime", "/var/lang", "/tmp", "/proc", "/dev"};

struct Device {
  const char* name;
  bool required;
};
// The host devices bound into the minimal /dev (what Lambda's /dev offers to a function).
constexpr std::array<Device, 6> kDevices = {{{"null", true},
                                             {"zero", true},
                                             {"full", false},
                                             {"random", true},
                                             {"urandom", true},
                                             {"tty", false}}};
constexpr std::array<std::pair<const char*, const char*>, 4> kDevSymlinks = {{
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
}};

// True if `path` is `base` or lies below it (both normalised absolute paths, base != "/").
bool sameOrUnder(std::string_view path, std::string_view base) {
  return path == base ||
         (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
          path[base.size()] == '/');
}

tl::unexpected<Error> invalid(std::string context, int err = 0) {
  return tl::unexpected<Error>(Error{ErrorCode::InvalidArgument, err, std::move(context)});
}

// An absolute, lexically normal path without a trailing slash ("/" stays "/").
Result<std::string> normalAbsolute(const fs::path& path, std::string_view what) {
  if (path.empty()) return invalid(std::string(what) + ": empty path");
  if (!path.is_absolute()) {
    return invalid(std::string(what) + ": path \"" + path.string() + "\" is not absolute");
  }
  std::string normal = path.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

// stat() of a host source; InvalidArgument carrying the errno when it does not exist.
Result<struct stat> statSource(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return invalid(std::string(what) + ": stat(\"" + path + "\")", err);
  }
  return st;
}

}  // namespace

// Collects mount points and steps while validating the spec.
class MountPlan::Builder {
 public:
  enum class Phase { All, Base, Function };
  explicit Builder(Phase phase = Phase::All) : phase_(phase) {}

  Status run(const RootfsSpec& spec) {
    auto staging = normalAbsolute(spec.staging, "rootfs staging");
    if (!staging) return tl::unexpected(std::move(staging.error()));
    if (*staging == "/") return invalid("rootfs staging: must not be \"/\"");
    auto staging_st = statSource(*staging, "rootfs staging");
    if (!staging_st) return tl::unexpected(std::move(staging_st.error()));
    if (!S_ISDIR(staging_st->st_mode)) {
      return invalid("rootfs staging: \"" + *staging + "\" is not a directory", ENOTDIR);
    }
    staging_ = std::move(*staging);
    // The namespace apply() must not run in: ours (the host's, for the spawner).
    struct stat ns {};
    if (::stat("/proc/self/ns/mnt", &ns) != 0) {
      const int err = errno;
      return errnoError("rootfs: stat(\"/proc/self/ns/mnt\")", err);
    }
    namespace_dev_ = ns.st_dev;
    namespace_ino_ = ns.st_ino;
    // Mount points of the plan's own; /var/task, /var/runtime and /var/lang are claimed by
    // their binds below.
    claimed_ = {"/tmp", "/proc", "/dev"};

    // Sources, in bind order: system directories, then the Lambda paths, then extras.
    for (const auto& dir : spec.system_dirs) KD_TRY_STATUS(addSystemDir(dir));
    for (const Device& device : kDevices) {
      const std::string host = std::string("/dev/") + device.name;
      struct stat st {};
      const int err = ::stat(host.c_str(), &st) == 0 ? (S_ISCHR(st.st_mode) ? 0 : ENODEV) : errno;
      if (err == 0) {
        devices_.push_back(host);
      } else if (device.required) {
        return invalid(
            "rootfs /dev: host device \"" + host + "\" missing or not a character device", err);
      }
    }
    // The skeleton: the fixed Lambda directories (mount points' parents are added with them).
    for (std::string_view dir :
         {"/var/task", "/var/runtime", "/var/lang", "/tmp", "/opt", "/proc", "/dev"}) {
      addDirWithParents(std::string(dir));
    }
    // What every environment's root shares (buildBase); the rest depends on the function.
    base_dirs_ = dirs_;
    base_files_ = files_.size();
    base_binds_ = binds_.size();
    if (phase_ == Phase::Base) {
      emitBase(spec);
      return {};
    }
    if (spec.task_root.empty()) return invalid("rootfs task_root: empty path");
    KD_TRY_STATUS(addReadOnly(spec.task_root, "/var/task", "rootfs task_root", true));
    if (!spec.runtime_dir.empty()) {
      KD_TRY_STATUS(addReadOnly(spec.runtime_dir, "/var/runtime", "rootfs runtime_dir", true));
    }
    if (!spec.lang_dir.empty()) {
      KD_TRY_STATUS(addReadOnly(spec.lang_dir, "/var/lang", "rootfs lang_dir", true));
    }
    if (!spec.opt_dir.empty()) {
      KD_TRY_STATUS(addReadOnly(spec.opt_dir, "/opt", "rootfs opt_dir", true));
    }
    for (const auto& [source, inside] : spec.extra_read_only) {
      auto target =
          extraTarget(inside, "rootfs extra_read_only target", "rootfs extra_read_only");
      if (!target) return tl::unexpected(std::move(target.error()));
      KD_TRY_STATUS(addReadOnly(source, *target, "rootfs extra_read_only", false));
    }
    if (!spec.read_write.first.empty()) KD_TRY_STATUS(addReadWrite(spec.read_write));
    std::string tmp_source;
    if (!spec.tmp_device.empty()) {
      auto dev = normalAbsolute(spec.tmp_device, "rootfs tmp_device");
      if (!dev) return tl::unexpected(std::move(dev.error()));
      auto st = statSource(*dev, "rootfs tmp_device");
      if (!st) return tl::unexpected(std::move(st.error()));
      if (!S_ISBLK(st->st_mode)) {
        return invalid("rootfs tmp_device: \"" + *dev + "\" is not a block device", ENOTBLK);
      }
      tmp_device_ = std::move(*dev);
    } else if (!spec.tmp_dir.empty()) {
      auto tmp = normalAbsolute(spec.tmp_dir, "rootfs tmp_dir");
      if (!tmp) return tl::unexpected(std::move(tmp.error()));
      auto st = statSource(*tmp, "rootfs tmp_dir");
      if (!st) return tl::unexpected(std::move(st.error()));
      if (!S_ISDIR(st->st_mode)) {
        return invalid("rootfs tmp_dir: \"" + *tmp + "\" is not a directory", ENOTDIR);
      }
      tmp_source = std::move(*tmp);
    }
    if (phase_ == Phase::Function) {
      emitFunction(spec, tmp_source);
    } else {
      emitSteps(spec, tmp_source);
    }
    return {};
  }

  std::vector<Step> takeSteps() { return std::move(steps_); }
  // buildFunction: the namespace check comes from the base plan (built before the unshare).
  void useNamespaceCheck(const Step& check) { base_check_ = check; }

 private:
  struct Bind {
    std::string source;
    std::string inside;
  };

  // Records a mount point after checking it collides with none recorded so far.
  Status claim(const std::string& inside, std::string_view what) {
    for (const auto& other : claimed_) {
      if (sameOrUnder(inside, other) || sameOrUnder(other, inside)) {
        return invalid(std::string(what) + ": mount point \"" + inside + "\" overlaps \"" + other +
                       "\"");
      }
    }
    claimed_.push_back(inside);
    return {};
  }

  static Status checkNotReserved(const std::string& inside, std::string_view what) {
    for (std::string_view reserved : kReservedInside) {
      if (sameOrUnder(inside, reserved) || sameOrUnder(reserved, inside)) {
        return invalid(std::string(what) + ": \"" + inside + "\" overlaps reserved \"" +
                       std::string(reserved) + "\"");
      }
    }
    return {};
  }

  void addDirWithParents(const std::string& dir) {
    for (size_t slash = dir.find('/', 1); slash != std::string::npos;
         slash = dir.find('/', slash + 1)) {
      dirs_.insert(dir.substr(0, slash));
    }
    dirs_.insert(dir);
  }

  void addParents(const std::string& path) {
    const size_t last = path.rfind('/');
    if (last > 0) addDirWithParents(path.substr(0, last));
  }

  Status addSystemDir(const fs::path& dir) {
    auto path = normalAbsolute(dir, "rootfs system_dirs");
    if (!path) return tl::unexpected(std::move(path.error()));
    if (*path == "/") return invalid("rootfs system_dirs: cannot bind \"/\"");
    KD_TRY_STATUS(checkNotReserved(*path, "rootfs system_dirs"));
    struct stat st {};
    if (::lstat(path->c_str(), &st) != 0) {
      if (errno == ENOENT) return {};  // not on this host: skipped
      const int err = errno;
      return invalid("rootfs system_dirs: lstat(\"" + *path + "\")", err);
    }
    KD_TRY_STATUS(claim(*path, "rootfs system_dirs"));
    if (S_ISLNK(st.st_mode)) {
      std::string text(PATH_MAX, '\0');
      const ssize_t n = ::readlink(path->c_str(), text.data(), text.size());
      if (n < 0) {
        const int err = errno;
        return invalid("rootfs system_dirs: readlink(\"" + *path + "\")", err);
      }
      text.resize(static_cast<size_t>(n));
      addParents(*path);
      symlinks_.push_back({std::move(text), *path});
      return {};
    }
    if (S_ISDIR(st.st_mode)) {
      addDirWithParents(*path);
    } else {
      addParents(*path);
      files_.push_back(*path);
    }
    binds_.push_back({*path, *path});
    return {};
  }

  // The target of an extra bind (read-only or writable): absolute, not "/", not reserved.
  static Result<std::string> extraTarget(const fs::path& inside, std::string_view normal_what,
                                         std::string_view what) {
    auto target = normalAbsolute(inside, normal_what);
    if (!target) return target;
    if (*target == "/") return invalid(std::string(what) + ": cannot bind over \"/\"");
    KD_TRY_STATUS(checkNotReserved(*target, what));
    return target;
  }

  // A bind's host source (absolute, existing, a directory when `need_dir`), its mount point
  // `inside` claimed and put in the skeleton. Returns the normalised source.
  Result<std::string> placeBind(const fs::path& source, const std::string& inside,
                                std::string_view what, bool need_dir) {
    auto src = normalAbsolute(source, what);
    if (!src) return src;
    auto st = statSource(*src, what);
    if (!st) return tl::unexpected(std::move(st.error()));
    if (need_dir && !S_ISDIR(st->st_mode)) {
      return invalid(std::string(what) + ": \"" + *src + "\" is not a directory", ENOTDIR);
    }
    KD_TRY_STATUS(claim(inside, what));
    if (S_ISDIR(st->st_mode)) {
      addDirWithParents(inside);
    } else {
      addParents(inside);
      files_.push_back(inside);
    }
    return src;
  }

  Status addReadOnly(const fs::path& source, const std::string& inside, std::string_view what,
                     bool need_dir) {
    auto src = placeBind(source, inside, what, need_dir);
    if (!src) return tl::unexpected(std::move(src.error()));
    binds_.push_back({std::move(*src), inside});
    return {};
  }

  // The one writable bind: a host directory, placed like an extra read-only bind.
  Status addReadWrite(const std::pair<fs::path, fs::path>& bind) {
    constexpr std::string_view kWhat = "rootfs read_write";
    auto target = extraTarget(bind.second, kWhat, kWhat);
    if (!target) return tl::unexpected(std::move(target.error()));
    auto src = placeBind(bind.first, *target, kWhat, true);
    if (!src) return tl::unexpected(std::move(src.error()));
    read_write_ = Bind{std::move(*src), std::move(*target)};
    return {};
  }

  std::string at(std::string_view inside) const { return staging_ + std::string(inside); }

  void push(Step step) { steps_.push_back(std::move(step)); }

  void mountStep(std::string source, std::string target, std::string fstype, unsigned long flags,
                 std::string data, std::string label) {
    Step s;
    s.op = Op::Mount;
    s.source = std::move(source);
    s.target = std::move(target);
    s.fstype = std::move(fstype);
    s.flags = flags;
    s.data = std::move(data);
    s.label = std::move(label);
    push(std::move(s));
  }

  void pathStep(Op op, std::string target, uint32_t mode, std::string label,
                std::string source = {}) {
    Step s;
    s.op = op;
    s.target = std::move(target);
    s.mode = mode;
    s.source = std::move(source);
    s.label = std::move(label);
    push(std::move(s));
  }

  void emitSteps(const RootfsSpec& spec, const std::string& tmp_source) {
    emitRootStart();
    // std::set orders every parent before its children.
    for (const auto& dir : dirs_) pathStep(Op::Mkdir, at(dir), 0755, "mkdir " + dir);
    emitFilesAndSymlinks(0, true);
    emitBinds(0);
    emitReadWrite();
    emitTmp(spec, tmp_source);
    emitDevAndProc(spec);
    emitRootEnd();
  }

  // buildBase: the tmpfs root, the skeleton, the system directories, /dev and /proc.
  void emitBase(const RootfsSpec& spec) {
    emitRootStart();
    for (const auto& dir : dirs_) pathStep(Op::Mkdir, at(dir), 0755, "mkdir " + dir);
    emitFilesAndSymlinks(0, true);
    emitBinds(0);
    emitDevAndProc(spec);
  }

  // buildFunction: what the base lacks, on top of it in the same namespace, then the pivot.
  void emitFunction(const RootfsSpec& spec, const std::string& tmp_source) {
    push(base_check_);
    for (const auto& dir : dirs_) {
      if (!base_dirs_.count(dir)) pathStep(Op::Mkdir, at(dir), 0755, "mkdir " + dir);
    }
    emitFilesAndSymlinks(base_files_, false);
    emitBinds(base_binds_);
    emitReadWrite();
    emitTmp(spec, tmp_source);
    emitRootEnd();
  }

  void emitRootStart() {
    // Refuse to run in the namespace we were built in: making "/" private there would change
    // the host's mount propagation.
    Step check;
    check.op = Op::CheckNamespace;
    check.target = "/proc/self/ns/mnt";
    check.dev = namespace_dev_;
    check.ino = namespace_ino_;
    check.label = "check for a mount namespace of its own (unshare(CLONE_NEWNS) before apply)";
    push(std::move(check));
    mountStep({}, "/", {}, MS_REC | MS_PRIVATE, {}, "make / private (MS_REC|MS_PRIVATE)");
    mountStep("tmpfs", staging_, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, kRootTmpfsData,
              "tmpfs on " + staging_ + " (new root, " + kRootTmpfsData + ")");
  }

  void emitFilesAndSymlinks(size_t first_file, bool symlinks) {
    for (size_t i = first_file; i < files_.size(); ++i) {
      pathStep(Op::Touch, at(files_[i]), 0644, "create mount point " + files_[i]);
    }
    if (!symlinks) return;  // they come from system directories: the base's
    for (const auto& [text, inside] : symlinks_) {
      pathStep(Op::Symlink, at(inside), 0, "symlink " + inside + " -> " + text, text);
    }
  }

  void emitBinds(size_t first) {
    for (size_t i = first; i < binds_.size(); ++i) {
      const Bind& bind = binds_[i];
      mountStep(bind.source, at(bind.inside), {}, MS_BIND | MS_REC, {},
                "bind " + bind.source + " -> " + bind.inside + " (ro)");
      pathStep(Op::ReadOnlyTree, at(bind.inside), 0,
               "make " + bind.inside + " read-only (ro,nosuid,nodev, recursive)");
    }
  }

  void emitReadWrite() {
    if (read_write_.source.empty()) return;
    const std::string& inside = read_write_.inside;
    mountStep(read_write_.source, at(inside), {}, MS_BIND, {},
              "bind " + read_write_.source + " -> " + inside + " (rw)");
    mountStep({}, at(inside), {}, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, {},
              "remount " + inside + " rw,nosuid,nodev");
  }

  void emitTmp(const RootfsSpec& spec, const std::string& tmp_source) {
    if (spec.tmp_mount_fd >= 0) {
      Step s;
      s.op = Op::MoveMount;
      s.fd = spec.tmp_mount_fd;
      s.target = at("/tmp");
      s.label = "move the prepared /tmp volume (ext4, rw,nosuid,nodev) onto /tmp";
      steps_.push_back(std::move(s));
    } else if (!tmp_device_.empty()) {
      mountStep(tmp_device_, at("/tmp"), "ext4", MS_NOSUID | MS_NODEV, kTmpVolumeOption,
                "mount " + tmp_device_ + " (ext4) on /tmp (rw,nosuid,nodev," + kTmpVolumeOption +
                    ")");
    } else if (!tmp_source.empty()) {
      mountStep(tmp_source, at("/tmp"), {}, MS_BIND, {}, "bind " + tmp_source + " -> /tmp (rw)");
      mountStep({}, at("/tmp"), {}, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, {},
                "remount /tmp rw,nosuid,nodev");
    } else {
      const std::string data = std::string("mode=1777,size=") + kDefaultTmpSize;
      mountStep("tmpfs", at("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV, data,
                "tmpfs on /tmp (" + data + ")");
    }
  }

  void emitDevAndProc(const RootfsSpec& spec) {
    // /dev: the tmpfs itself is nodev; the device binds are mounts of their own and keep the
    // host devtmpfs' flags.
    mountStep("tmpfs", at("/dev"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, kDevTmpfsData,
              std::string("tmpfs on /dev (") + kDevTmpfsData + ")");
    for (const auto& host : devices_) {
      pathStep(Op::Touch, at(host), 0644, "create mount point " + host);
      mountStep(host, at(host), {}, MS_BIND, {}, "bind " + host + " -> " + host);
    }
    for (const auto& [name, text] : kDevSymlinks) {
      const std::string inside = std::string("/dev/") + name;
      pathStep(Op::Symlink, at(inside), 0, "symlink " + inside + " -> " + text, text);
    }
    pathStep(Op::Mkdir, at("/dev/shm"), 0755, "mkdir /dev/shm");
    mountStep("tmpfs", at("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, kShmTmpfsData,
              std::string("tmpfs on /dev/shm (") + kShmTmpfsData + ")");
    mountStep({}, at("/dev"), {},
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, {},
              "remount /dev read-only");
    if (spec.mount_proc) {
      mountStep("proc", at("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible",
                "mount proc on /proc (hidepid=invisible)");
    }
  }

  void emitRootEnd() {
    mountStep({}, staging_, {}, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              {}, "remount the new root read-only");
    pathStep(Op::Chdir, staging_, 0, "chdir " + staging_);
    pathStep(Op::PivotRoot, ".", 0, "pivot_root(\".\", \".\") into " + staging_);
    pathStep(Op::DetachOldRoot, ".", 0, "umount2(old root, MNT_DETACH)");
    pathStep(Op::Chdir, "/", 0, "chdir /");
  }

  std::string staging_;
  std::string tmp_device_;
  dev_t namespace_dev_ = 0;
  ino_t namespace_ino_ = 0;
  std::vector<std::string> claimed_;  // inside mount points of binds and symlinks
  std::set<std::string> dirs_;        // inside directories to create
  std::vector<std::string> files_;    // inside files to create (mount points of file binds)
  std::vector<std::pair<std::string, std::string>> symlinks_;  // {text, inside}
  std::vector<Bind> binds_;
  Bind read_write_;                   // RootfsSpec::read_write (empty source: none)
  Phase phase_;
  std::set<std::string> base_dirs_;   // dirs_ of the base (system dirs and the skeleton)
  size_t base_files_ = 0;             // files_ / binds_ of the base: a prefix of each
  size_t base_binds_ = 0;
  Step base_check_;                   // buildFunction: the base plan's namespace check
  std::vector<std::string> devices_;  // host device paths, bound at the same path
  std::vector<Step> steps_;
};

Result<MountPlan> MountPlan::fromBuilder(Builder& builder, const RootfsSpec& spec, bool base) {
  try {
    KD_TRY_STATUS(builder.run(spec));
    MountPlan plan;
    plan.steps_ = builder.takeSteps();
    plan.base_ = base;
    return plan;
  } catch (const std::exception& e) {
    // std::filesystem and allocation failures.
    return makeError(ErrorCode::Internal, std::string("rootfs plan: ") + e.what());
  }
}

Result<MountPlan> MountPlan::build(const RootfsSpec& spec) {
  Builder builder;
  return fromBuilder(builder, spec, false);
}

Result<MountPlan> MountPlan::buildBase(const RootfsSpec& spec) {
  Builder builder(Builder::Phase::Base);
  return fromBuilder(builder, spec, true);
}

Result<MountPlan> MountPlan::buildFunction(const RootfsSpec& spec, const MountPlan& base) {
  if (!base.base_ || base.steps_.empty() || base.steps_.front().op != Op::CheckNamespace) {
    return makeError(ErrorCode::InvalidArgument, "rootfs plan: not a base plan");
  }
  Builder builder(Builder::Phase::Function);
  builder.useNamespaceCheck(base.steps_.front());
  return fromBuilder(builder, spec, false);
}

int MountPlan::run(const Step& step) noexcept {
  auto cstr = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
  switch (step.op) {
    case Op::CheckNamespace: {
      struct stat st {};
      if (::stat(step.target.c_str(), &st) != 0) return errno;
      return st.st_dev == step.dev && st.st_ino == step.ino ? EINVAL : 0;
    }
    case Op::Mount:
      return ::mount(cstr(step.source), step.target.c_str(), cstr(step.fstype), step.flags,
                     cstr(step.data)) == 0
                 ? 0
                 : errno;
    case Op::ReadOnlyTree: {
      mount_attr attr{};
      attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      if (::syscall(SYS_mount_setattr, AT_FDCWD, step.target.c_str(), AT_RECURSIVE, &attr,
                    sizeof attr) == 0) {
        return 0;
      }
      if (errno != ENOSYS) return errno;
      // Before Linux 5.12: only the top mount of the bound tree becomes read-only.
      return ::mount(nullptr, step.target.c_str(), nullptr,
                     MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) == 0
                 ? 0
                 : errno;
    }
    case Op::Mkdir:
      return ::mkdir(step.target.c_str(), step.mode) == 0 ? 0 : errno;
    case Op::Touch: {
      const int fd =
          ::open(step.target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, step.mode);
      if (fd < 0) return errno;
      ::close(fd);
      return 0;
    }
    case Op::Symlink:
      return ::symlink(step.source.c_str(), step.target.c_str()) == 0 ? 0 : errno;
    case Op::Chdir:
      return ::chdir(step.target.c_str()) == 0 ? 0 : errno;
    case Op::PivotRoot:
      // pivot_root(2): with new_root == put_old the old root is stacked on top of the new one
      // at "/", and the umount2(".") that follows removes exactly that top mount.
      return ::syscall(SYS_pivot_root, ".", ".") == 0 ? 0 : errno;
    case Op::DetachOldRoot:
      return ::umount2(".", MNT_DETACH) == 0 ? 0 : errno;
    case Op::MoveMount:
      return ::syscall(SYS_move_mount, step.fd, "", AT_FDCWD, step.target.c_str(),
                       MOVE_MOUNT_F_EMPTY_PATH) == 0
                 ? 0
                 : errno;
  }
  return EINVAL;
}

int MountPlan::apply(int* failed_step) const noexcept {
  // The skeleton's modes must not depend on the caller's umask.
  const mode_t old_umask = ::umask(0);
  int err = 0;
  int index = 0;
  for (const Step& step : steps_) {
    if ((err = run(step)) != 0) break;
    ++index;
  }
  ::umask(old_umask);
  if (failed_step) *failed_step = err != 0 ? index : -1;
  return err;
}

std::string MountPlan::describe(int step) const {
  if (step < 0 || step >= stepCount()) {
    return "rootfs step " + std::to_string(step) + " (out of range)";
  }
  return steps_[static_cast<size_t>(step)].label;
}

}  // namespace kindling::sandbox
