// kindling-init: pid 1 of a forked environment's PID namespace (fast start), exec'd by the
// stub once it has forked the runtime. Why a separate binary: the stub is a fork of an
// interpreter zygote, and as init it would keep its copy of every page it and the runtime both
// wrote (~0.6 MiB per idle environment); exec'd, init is this small static program.
//
// Usage (by the stub only): kindling-init STATUS_FD RUNTIME_PID. Reaps every child (orphans
// re-parent to pid 1), writes the runtime's wait status (an int) to STATUS_FD when it exits,
// then exits, which ends the namespace.
//
// Why freestanding (no C library, its own _start and system calls) on x86-64 and arm64: a
// static glibc runs its start-up code before main, and on x86 that decodes the CPU's cache
// descriptors with dozens of CPUID instructions, each a VM exit under a hypervisor (~6 µs on
// the Firecracker VMs kindling is measured on: ~0.5 ms of CPU per cold start, spent beside the
// starting runtime). This program needs four system calls, so it makes them itself. Other
// architectures build the same logic on the C library (KD_INIT_HOSTED).
#include <linux/prctl.h>
#include <sys/syscall.h>

namespace {

#if defined(KD_INIT_HOSTED)
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0);
#elif defined(__x86_64__)
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
  register long x8 asm("x8") = n;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
#else
#error "kindling-init: freestanding build on x86-64 and arm64 only (define KD_INIT_HOSTED)"
#endif

constexpr long kEintr = 4;

[[noreturn]] void quit(int code) {
  while (true) sys(SYS_exit_group, code);
}

// A non-negative decimal, or -1.
long parse(const char* s) {
  if (s == nullptr || *s == '\0') return -1;
  long v = 0;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9' || v > 0x7fffffff / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

}  // namespace

extern "C" [[noreturn]] void kdInitMain(long argc, char** argv) {
  if (argc != 3) quit(127);
  const long status_fd = parse(argv[1]);
  const long runtime = parse(argv[2]);
  if (status_fd < 0 || runtime <= 0) quit(127);
  static const char kName[] = "init";
  sys(SYS_prctl, PR_SET_NAME, reinterpret_cast<long>(kName));
  while (true) {
    int status = 0;
    const long pid = sys(SYS_wait4, -1, reinterpret_cast<long>(&status), 0, 0);
    if (pid == -kEintr) continue;
    if (pid < 0) quit(0);
    if (pid == runtime) {
      const char* p = reinterpret_cast<const char*>(&status);
      long left = sizeof status;
      while (left > 0) {
        const long n = sys(SYS_write, status_fd, reinterpret_cast<long>(p), left);
        if (n == -kEintr) continue;
        if (n <= 0) break;
        p += n;
        left -= n;
      }
      quit(0);
    }
  }
}

#if defined(KD_INIT_HOSTED)
#include <unistd.h>

#include <cerrno>

namespace {
long sys(long n, long a, long b, long c, long d) {
  const long r = ::syscall(n, a, b, c, d);
  return r < 0 ? -errno : r;
}
}  // namespace

int main(int argc, char** argv) { kdInitMain(argc, argv); }
#elif defined(__x86_64__)
// The kernel starts a static program with argc at (%rsp) and argv after it.
asm(".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov (%rsp), %rdi\n"
    "  lea 8(%rsp), %rsi\n"
    "  and $-16, %rsp\n"
    "  call kdInitMain\n"
    "  hlt\n");
#elif defined(__aarch64__)
asm(".text\n"
    ".global _start\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  ldr x0, [sp]\n"
    "  add x1, sp, #8\n"
    "  bl kdInitMain\n"
    "  brk #0\n");
#endif
