// The filesystem facet: what a function sees of the filesystem, as on Lambda.
//
// The environment gets a root of its own: a small tmpfs holding only mount points, onto which
// the system directories the runtimes need (/usr, /lib*, /bin, /etc, ...), the function code
// (/var/task), kindling's bootstraps (/var/runtime), interpreters (/var/lang) and layers (/opt)
// are bind mounted read-only; a private /tmp; a minimal /dev; a fresh /proc that hides other
// users' processes. The process then pivot_root()s into it and detaches the host's tree, so
// nothing else of the host (/root, /home, /work, other environments' files) is reachable.
//
// Why a precomputed plan: the steps run in the single-threaded spawner's child between clone
// and exec, where nothing may allocate (see privileges.h). MountPlan::build() validates the spec
// and turns it into a flat list of steps whose strings are all prepared up front; apply() is a
// loop of raw system calls over that list, returning {step index, errno} on the first failure.
//
// Order of apply() (each step depends on the ones before):
//   check own mount namespace   refuse to touch the host's propagation if the caller forgot
//                               unshare(CLONE_NEWNS)
//   make / private (recursive)  nothing below propagates back to the host (mount_namespaces(7))
//   tmpfs on staging            the new root; mkdir/symlink/touch the skeleton in it
//   read-only binds             bind (recursive), then mount_setattr(AT_RECURSIVE) ro,nosuid,nodev
//                               (falls back to a bind remount of the top mount before Linux 5.12)
//   /tmp                        bind rw,nosuid,nodev of tmp_dir, or a small tmpfs
//   /dev                        tmpfs; null zero full random urandom tty bound from the host;
//                               fd/stdin/stdout/stderr symlinks; shm tmpfs; then /dev read-only
//   /proc                       fresh procfs, hidepid=invisible (per-mount since Linux 5.8)
//   root read-only              the skeleton tmpfs is remounted ro,nosuid,nodev,noexec
//   pivot_root(".", ".")        then umount2(".", MNT_DETACH) drops the host tree; chdir("/")
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kindling::sandbox {

// What the environment's root is made of. Host paths must be absolute; inside paths (the second
// member of extra_read_only) are absolute paths in the new root.
struct RootfsSpec {
  std::filesystem::path staging;      // existing empty host dir: mount point of the new root
  std::filesystem::path task_root;    // -> /var/task   (read-only)
  std::filesystem::path runtime_dir;  // -> /var/runtime (read-only), may be empty
  std::filesystem::path lang_dir;     // -> /var/lang   (read-only), may be empty
  // -> /opt (read-only): the function's layers merged in order, may be empty (then /opt is an
  // empty directory, as on Lambda without layers). Extra binds may not then land under /opt.
  std::filesystem::path opt_dir;
  // -> /tmp (read-write, nosuid, nodev; must be writable by the sandbox uid), may be empty (then
  // a small tmpfs of kDefaultTmpSize, charged to the memory cgroup).
  std::filesystem::path tmp_dir;
  // Or a block device holding an ext4 filesystem (a loop device over a sized image) mounted
  // rw,nosuid,nodev on /tmp: disk-backed and size-limited, outside the memory limit as on
  // Lambda. Takes precedence over tmp_dir.
  std::filesystem::path tmp_device;
  // Or that volume already mounted, detached (fsmount; its fd, owned by the caller): moved onto
  // /tmp, so the cold start does not pay the ext4 mount. Takes precedence over tmp_device.
  int tmp_mount_fd = -1;
  // Other read-only binds, host path -> path inside (e.g. /opt/kindling -> /opt/kindling). A
  // source may be a directory or a file.
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> extra_read_only;
  // One writable bind, host directory -> path inside (rw,nosuid,nodev, not recursive); empty
  // first member: none. Same placement rules as extra_read_only.
  std::pair<std::filesystem::path, std::filesystem::path> read_write;
  // System directories bound read-only at the same path when they exist on the host
  // (symlinks such as /bin -> usr/bin on merged-/usr hosts are recreated as symlinks):
  std::vector<std::filesystem::path> system_dirs = {"/usr", "/lib",  "/lib64", "/lib32",
                                                    "/bin", "/sbin", "/etc"};
  std::string hostname;    // applied by the caller (UTS ns), not here
  bool mount_proc = true;  // fresh procfs, hidepid=invisible (per-mount, Linux 5.8+)
};

// Size of the tmpfs used for /tmp when RootfsSpec::tmp_dir is empty.
inline constexpr const char* kDefaultTmpSize = "64m";

// The mount option of an environment's ext4 /tmp volume (besides nosuid, nodev): no write
// barriers. A volume lives as long as its environment and is never read again, so nothing needs
// its writes ordered on the host's disk; with barriers each mount and unmount sent cache flushes
// through the loop device to the host's disk (an fsync of the image each), which under a burst
// of cold starts queued behind one another.
inline constexpr const char* kTmpVolumeOption = "nobarrier";

// The prepared steps that build a RootfsSpec's root. Immutable after build(): one plan may be
// applied by many children (each in its own mount namespace). Movable value type.
class MountPlan {
 public:
  // Validates the spec (absolute paths, sources exist, mount points neither nested nor
  // duplicated nor reserved) and precomputes every string and step. Reads the host filesystem
  // (stat, readlink) and records the caller's mount namespace; needs no privileges. Errors:
  // InvalidArgument (with the errno of the failed stat when a source is missing), Io when
  // /proc/self/ns/mnt cannot be read. Thread-safe (no shared state).
  static Result<MountPlan> build(const RootfsSpec& spec);

  // The same root in two halves, for stubs that wait for their environment: buildBase() is
  // what every environment's root shares (the tmpfs root, the skeleton, the system directories,
  // /dev, /proc) -- only spec.staging, system_dirs and mount_proc are read -- and is applied
  // while the stub waits; buildFunction() is the rest for one spec (its /var/task,
  // /var/runtime, /var/lang, /opt, extra and writable binds, /tmp, the read-only remount of the
  // root, pivot_root), applied after `base` in the same mount namespace (built there: it takes
  // its namespace check from `base`). buildFunction validates the whole spec as build() does.
  // Base then function give the root build() gives, in another step order. Thread-safe.
  static Result<MountPlan> buildBase(const RootfsSpec& spec);
  static Result<MountPlan> buildFunction(const RootfsSpec& spec, const MountPlan& base);

  // In the child, inside a fresh mount namespace: makes / private (MS_REC|MS_PRIVATE), mounts a
  // tmpfs on staging (mode 0755), creates the skeleton (var/task, var/runtime, var/lang, tmp,
  // opt, proc, dev, ...), bind mounts each source then remounts it read-only with
  // MS_NOSUID|MS_NODEV (keep exec), builds a minimal /dev, mounts proc (hidepid=invisible),
  // pivot_root(staging) and detaches the old root, chdir("/"). Returns 0 or errno and sets
  // *failed_step (if not null) to the index of the failing step (EINVAL at step 0 if the caller
  // is still in the mount namespace build() ran in). Needs CAP_SYS_ADMIN. No allocation,
  // async-signal-safe system calls only. Thread-safe for concurrent calls on one const plan.
  int apply(int* failed_step) const noexcept;

  // Human-readable description of step i ("bind /usr -> /usr (ro)"), for error messages.
  // Thread-safe.
  std::string describe(int step) const;

  // Number of steps apply() runs (for tests and benchmarks). Thread-safe.
  int stepCount() const noexcept { return static_cast<int>(steps_.size()); }

 private:
  enum class Op : uint8_t {
    CheckNamespace,  // stat(path): fails with EINVAL if st_dev/st_ino equal the recorded ones
    Mount,           // mount(source, target, fstype, flags, data)
    ReadOnlyTree,    // mount_setattr(target, AT_RECURSIVE, ro|nosuid|nodev), remount fallback
    Mkdir,           // mkdir(target, mode)
    Touch,           // open(target, O_CREAT) + close: mount point for a file bind
    Symlink,         // symlink(source, target)
    Chdir,           // chdir(target)
    PivotRoot,       // pivot_root(".", ".") from the new root
    DetachOldRoot,   // umount2(".", MNT_DETACH)
    MoveMount,       // move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)
  };

  struct Step {
    Op op = Op::Mount;
    unsigned long flags = 0;  // mount flags (Mount)
    uint32_t mode = 0;        // Mkdir/Touch mode
    dev_t dev = 0;            // CheckNamespace
    ino_t ino = 0;            // CheckNamespace
    int fd = -1;              // MoveMount: a detached mount
    std::string source;       // Mount source / Symlink text
    std::string target;       // host path operated on (under staging before the pivot)
    std::string fstype;       // Mount filesystem type, empty for none
    std::string data;         // Mount data, empty for none
    std::string label;        // describe()
  };

  class Builder;
  MountPlan() = default;
  // Runs `builder` on `spec` into a plan (exceptions of std::filesystem and allocation become
  // Internal errors).
  static Result<MountPlan> fromBuilder(Builder& builder, const RootfsSpec& spec, bool base);
  static int run(const Step& step) noexcept;

  // Immutable after build(); read concurrently by apply().
  std::vector<Step> steps_;
  bool base_ = false;  // made by buildBase()
};

}  // namespace kindling::sandbox
