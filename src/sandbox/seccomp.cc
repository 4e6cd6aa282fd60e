// The seccomp facet (see seccomp.h): the deny list, compiled once with libseccomp and kept as raw
// classic BPF so the child can install it without allocating.
#include "sandbox/seccomp.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "sys/unique_fd.h"

namespace kindling::sandbox {
namespace {

struct DeniedSyscall {
  int number;        // libseccomp's number (negative pseudo-number where the ABI lacks it)
  const char* name;  // for error messages
};

#define KD_SYSCALL(name) DeniedSyscall{SCMP_SYS(name), #name}

// Denied with EPERM ("operation not permitted" is what an unprivileged process gets from most
// of these anyway, so well-behaved programs already handle it). Grouped by why a function never
// needs them; a syscall that does not exist on an ABI (i386-only ones on x86_64, ...) is
// skipped there by libseccomp.
constexpr DeniedSyscall kDeniedWithEperm[] = {
    // Changing the filesystem view: the sandbox builds the mount tree before exec; a function
    // rearranging it could uncover host paths. Classic and new (fsopen family) mount APIs.
    KD_SYSCALL(mount), KD_SYSCALL(umount), KD_SYSCALL(umount2), KD_SYSCALL(pivot_root),
    KD_SYSCALL(chroot), KD_SYSCALL(mount_setattr), KD_SYSCALL(move_mount),
    KD_SYSCALL(open_tree), KD_SYSCALL(fsopen), KD_SYSCALL(fsconfig), KD_SYSCALL(fsmount),
    KD_SYSCALL(fspick),
    // Namespaces: entering or creating one (user namespaces in particular) hands an
    // unprivileged process capabilities over new kernel objects, the usual first step of a
    // container escape. clone's CLONE_NEW* flags are filtered below.
    KD_SYSCALL(unshare), KD_SYSCALL(setns),
    // Reaching into another process: tracing, reading/writing its memory, comparing or stealing
    // its kernel objects, advising its memory.
    KD_SYSCALL(ptrace), KD_SYSCALL(process_vm_readv), KD_SYSCALL(process_vm_writev),
    KD_SYSCALL(kcmp), KD_SYSCALL(pidfd_getfd), KD_SYSCALL(process_madvise),
    // Replacing or extending the kernel, rebooting the host.
    KD_SYSCALL(kexec_load), KD_SYSCALL(kexec_file_load), KD_SYSCALL(init_module),
    KD_SYSCALL(finit_module), KD_SYSCALL(delete_module), KD_SYSCALL(reboot),
    // Large kernel attack surface with no use in a function: eBPF programs, perf events (also a
    // side channel), userfaultfd (widens race windows in kernel exploits), the kernel keyrings
    // (not namespaced: shared with the host), a.out loading, the i386 LDT and vm86 mode.
    KD_SYSCALL(bpf), KD_SYSCALL(perf_event_open), KD_SYSCALL(userfaultfd), KD_SYSCALL(keyctl),
    KD_SYSCALL(add_key), KD_SYSCALL(request_key), KD_SYSCALL(uselib), KD_SYSCALL(modify_ldt),
    KD_SYSCALL(vm86), KD_SYSCALL(vm86old),
    // Host administration: swap, process accounting, disk quotas, the kernel log, the
    // controlling terminal of others.
    KD_SYSCALL(swapon), KD_SYSCALL(swapoff), KD_SYSCALL(acct), KD_SYSCALL(quotactl),
    KD_SYSCALL(quotactl_fd), KD_SYSCALL(syslog), KD_SYSCALL(vhangup),
    // The host clock is shared by every environment and the daemon (timeouts, Duration).
    KD_SYSCALL(settimeofday), KD_SYSCALL(clock_settime), KD_SYSCALL(clock_adjtime),
    KD_SYSCALL(adjtimex), KD_SYSCALL(stime),
    // File handles bypass the mount tree: open_by_handle_at opened host files from containers
    // ("shocker", 2014); name_to_handle_at is its reconnaissance half.
    KD_SYSCALL(open_by_handle_at), KD_SYSCALL(name_to_handle_at),
    // Raw I/O port access.
    KD_SYSCALL(iopl), KD_SYSCALL(ioperm),
    // Profiling hook (removed in Linux 5.10; denied for older hosts).
    KD_SYSCALL(lookup_dcookie),
    // Filesystem-wide event monitoring (sees other processes' file activity on a mount).
    KD_SYSCALL(fanotify_init),
};

// Denied with ENOSYS: callers must take their "kernel too old" fallback, not fail.
constexpr DeniedSyscall kDeniedWithEnosys[] = {
    // clone3 passes its flags in memory, which classic BPF cannot read, so CLONE_NEW* could not
    // be refused; glibc (2.34+) falls back to clone on ENOSYS, never on EPERM.
    KD_SYSCALL(clone3),
    // io_uring: a large, frequently exploited kernel surface (disabled by default in Docker and
    // ChromeOS); libuv and the other users fall back to epoll/threads on ENOSYS.
    KD_SYSCALL(io_uring_setup), KD_SYSCALL(io_uring_enter), KD_SYSCALL(io_uring_register),
};

#undef KD_SYSCALL

// clone() flags that create a namespace. CLONE_NEWTIME (0x80) is absent on purpose: with clone()
// that bit belongs to the exit-signal byte (CSIGNAL), so only clone3/unshare can create a time
// namespace, and both are refused above.
constexpr uint64_t kCloneNamespaceFlags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS,
                                             CLONE_NEWIPC,  CLONE_NEWUSER,   CLONE_NEWPID,
                                             CLONE_NEWNET};

struct FilterContextDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterContext = std::unique_ptr<void, FilterContextDeleter>;

// libseccomp returns negative errnos; a failure here is a bug or a libseccomp too old for a
// listed syscall, not bad input.
tl::unexpected<Error> seccompError(const std::string& context, int rc) {
  return tl::unexpected<Error>(Error{ErrorCode::Internal, -rc, "libseccomp " + context});
}

Status addArchitectures(scmp_filter_ctx ctx) {
  // On x86_64 a 64-bit process can still enter the kernel through the i386 (`int 0x80`) and
  // x32 ABIs; without them in the filter such calls would hit the bad-arch action instead of
  // the rules. Adding them makes 32-bit programs work under the same rules.
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) return {};
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    int rc = seccomp_arch_add(ctx, arch);
    if (rc != 0 && rc != -EEXIST) {
      return seccompError("seccomp_arch_add(" + std::to_string(arch) + ")", rc);
    }
  }
  return {};
}

// What a snapshot host may still do (SeccompProfile::SnapshotHost): build a forked
// environment's namespaces from inside a user namespace of its own.
bool allowedToSnapshotHost(const char* name) {
  for (const char* allowed : {"mount", "move_mount", "unshare"}) {
    if (std::strcmp(name, allowed) == 0) return true;
  }
  return false;
}

Status addRules(scmp_filter_ctx ctx, SeccompProfile profile) {
  const bool snapshot_host = profile == SeccompProfile::SnapshotHost;
  for (const DeniedSyscall& syscall : kDeniedWithEperm) {
    if (snapshot_host && allowedToSnapshotHost(syscall.name)) continue;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), syscall.number, 0);
    if (rc != 0) return seccompError(std::string("seccomp_rule_add(") + syscall.name + ")", rc);
  }
  for (const DeniedSyscall& syscall : kDeniedWithEnosys) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), syscall.number, 0);
    if (rc != 0) return seccompError(std::string("seccomp_rule_add(") + syscall.name + ")", rc);
  }
  // One rule per flag: libseccomp ORs rules of one syscall, and "any of these bits set" is not
  // expressible as a single masked comparison. The flags are argument 0 of clone on every
  // supported ABI (x86_64, i386, x32, aarch64).
  for (uint64_t flag : kCloneNamespaceFlags) {
    if (snapshot_host) break;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc != 0) {
      return seccompError("seccomp_rule_add(clone, flags & " + std::to_string(flag) + ")", rc);
    }
  }
  return {};
}

// libseccomp 2.5 exports only to a file descriptor: export into a memfd and read it back.
Result<std::vector<sock_filter>> exportProgram(scmp_filter_ctx ctx) {
  sys::UniqueFd fd(::memfd_create("kindling-seccomp", MFD_CLOEXEC));
  if (!fd) return errnoError("memfd_create(kindling-seccomp)");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0) {
    return seccompError("seccomp_export_bpf", rc);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errnoError("fstat(memfd kindling-seccomp)");
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0 || size / sizeof(sock_filter) > BPF_MAXINSNS) {
    return makeError(ErrorCode::Internal,
                     "seccomp_export_bpf produced " + std::to_string(size) + " bytes");
  }
  std::vector<sock_filter> instructions(size / sizeof(sock_filter));
  auto* out = reinterpret_cast<char*>(instructions.data());
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd.get(), out + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("pread(memfd kindling-seccomp)");
    if (n == 0) return makeError(ErrorCode::Internal, "short read of the exported seccomp filter");
    done += static_cast<size_t>(n);
  }
  return instructions;
}

}  // namespace

Result<SeccompProgram> SeccompProgram::build(SeccompProfile profile) {
  FilterContext ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return makeError(ErrorCode::Internal, "seccomp_init(SCMP_ACT_ALLOW) failed");
  // A binary tree of syscall numbers instead of a linear chain: a denied-or-allowed decision
  // costs ~log2(rules) comparisons on every system call the function makes.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return seccompError("seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE, 2)", rc);
  }
  // Any ABI not added below (none on x86_64) is not a way around the rules: kill the process.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return seccompError("seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)", rc);
  }
  KD_TRY_STATUS(addArchitectures(ctx.get()));
  KD_TRY_STATUS(addRules(ctx.get(), profile));
  auto instructions = exportProgram(ctx.get());
  if (!instructions) return tl::unexpected(std::move(instructions.error()));
  return SeccompProgram(std::move(*instructions));
}

int SeccompProgram::install() const noexcept {
  if (instructions_.empty()) return EINVAL;
  // Required for an unprivileged filter, and what keeps setuid binaries from running under a
  // filter they do not expect (seccomp(2)).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  sock_fprog program{};
  program.len = static_cast<unsigned short>(instructions_.size());
  // The kernel copies the program and never writes through this pointer.
  program.filter = const_cast<sock_filter*>(instructions_.data());
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program);
  if (rc < 0) return errno;
  // With TSYNC a positive result is the id of a thread that could not be synchronised.
  if (rc > 0) return EAGAIN;
  return 0;
}

}  // namespace kindling::sandbox
