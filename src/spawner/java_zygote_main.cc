// kindling-java-zygote: the Java runtimes' zygote (fast start; docs/runtimes.md, "The JDK's
// zygote", and docs/design.md, "Fast start: zygotes").
//
// What and why: an exec'd Java environment spends ~10 ms before its JVM exists (measured in the
// sandbox: a JVM that fails at argument parsing reports an Init of 11.6 ms, a C++ hello 1.9 ms):
// the exec of the `java` launcher and its libjli, the dynamic loading of the 20 MB libjvm.so with
// its relocations (each a fresh page of the environment's own), and the launcher's own option
// handling. This program does the loading once per JDK: it dlopen()s the JDK's libjvm.so (all
// relocations resolved, RTLD_NOW) and then serves the spawner as the Python and Ruby zygotes do,
// through libkindling_zygote.so (the same facet code as every other environment). A stub's
// runtime is forked ahead (kd_zygote_fork_ahead): it waits, already holding the loaded libjvm
// (its text paged in ahead), for its environment's request; on it, it is isolated and confined
// like any environment and then does what the `java` launcher does for the request's command
// line: takes the environment's variables, expands the class path's wildcards, creates the JVM
// with JNI_CreateJavaVM on a new thread ("main") and runs the main class's main(String[]).
//
// No JVM exists in the zygote (a JVM cannot be forked: it runs threads from its first
// moment), no Java code and no user code runs in it: it is single-threaded, and
// kd_zygote_fork_ahead refuses to fork otherwise.
//
// Launch (by the spawner): kindling-java-zygote <jdk>/lib/server/libjvm.so, fd 3 =
// control socket (the spawner's SOCK_SEQPACKET end), KINDLING_ZYGOTE_LIB =
// libkindling_zygote.so, KINDLING_INIT = kindling-init.
#include <dlfcn.h>
#include <jni.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "spawner/java_launcher.h"

extern char** environ;  // NOLINT: POSIX

namespace {

using kindling::spawner::JavaLaunch;
using kindling::spawner::parseJavaCommandLine;

constexpr int kControlFd = 3;
constexpr int kStubFds = 6;

// spawner/protocol.h ZygoteReply: {pid, err, threads}, three little-endian int32s.
struct Reply {
  int32_t pid;
  int32_t err;
  int32_t threads;
};

// libkindling_zygote.so's C ABI (spawner/zygote_abi.cc).
struct ZygoteAbi {
  int (*init)();
  int (*threads)();
  long (*fork_ahead)(const char*, size_t, const int*, int);
  int (*await)();
  const char* (*field)(int, int);
};

using CreateJavaVm = jint (*)(JavaVM**, void**, void*);

CreateJavaVm g_create_vm = nullptr;

template <typename F>
bool bind(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (out == nullptr) std::fprintf(stderr, "kindling java zygote: %s: %s\n", name, ::dlerror());
  return out != nullptr;
}

// The signal state an exec'd program starts with: every disposition default (the spawner
// ignores SIGPIPE and passes that on across exec; its exec'd environments reset it), nothing
// blocked. The JVM installs its own handlers.
void defaultSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif

// In a runtime forked ahead: maps the zygote's file-backed read-only pages into this process
// now (page-table entries of the text and read-only data of libjvm, the JDK libraries loaded
// with it and the C/C++ libraries), which the JVM's start would otherwise fault in one at a
// time on the cold path (a fork copies no page table of a file mapping). The pages themselves
// are the page cache's, shared with every other process.
void populateLibraries() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uintptr_t start = 0, end = 0;
    char perms[5] = {};
    unsigned long long offset = 0, inode = 0;
    unsigned major = 0, minor = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %llx %x:%x %llu", &start, &end, perms, &offset,
                    &major, &minor, &inode) != 7) {
      continue;
    }
    if (inode == 0 || perms[0] != 'r' || perms[1] == 'w') continue;  // anonymous or written
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_READ);
  }
}

// What the launcher's error paths print (java.base's launcher.properties wording).
void launcherError(const char* what) {
  std::fprintf(stderr, "Error: %s\n", what);
  std::fflush(stderr);
}

struct MainRun {
  const JavaLaunch* launch = nullptr;
  int status = 1;
};

// The launcher's JavaMain: on the thread that becomes Java's "main".
void* javaMain(void* arg) {
  auto* run = static_cast<MainRun*>(arg);
  const JavaLaunch& launch = *run->launch;
  std::vector<JavaVMOption> options(launch.vm_options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    options[i].optionString = const_cast<char*>(launch.vm_options[i].c_str());
    options[i].extraInfo = nullptr;
  }
  JavaVMInitArgs args{};
  args.version = JNI_VERSION_1_8;
  args.nOptions = static_cast<jint>(options.size());
  args.options = options.data();
  args.ignoreUnrecognized = JNI_FALSE;
  JavaVM* vm = nullptr;
  JNIEnv* env = nullptr;
  if (g_create_vm(&vm, reinterpret_cast<void**>(&env), &args) != JNI_OK) {
    launcherError("Could not create the Java Virtual Machine.");
    launcherError("A fatal exception has occurred. Program will exit.");
    run->status = 1;
    return nullptr;
  }
  std::string internal = launch.main_class;
  for (char& c : internal) {
    if (c == '.') c = '/';
  }
  int status = 1;
  jclass main_class = env->FindClass(internal.c_str());
  jmethodID main_method =
      main_class ? env->GetStaticMethodID(main_class, "main", "([Ljava/lang/String;)V") : nullptr;
  if (main_method == nullptr) {
    env->ExceptionClear();
    const std::string message = main_class ? "Main method not found in class " + launch.main_class +
                                                 ", please define the main method as:\n"
                                                 "   public static void main(String[] args)"
                                           : "Could not find or load main class " + launch.main_class;
    launcherError(message.c_str());
  } else {
    jclass string_class = env->FindClass("java/lang/String");
    jobjectArray argv =
        env->NewObjectArray(static_cast<jsize>(launch.main_args.size()), string_class, nullptr);
    for (size_t i = 0; argv != nullptr && i < launch.main_args.size(); ++i) {
      jstring s = env->NewStringUTF(launch.main_args[i].c_str());
      env->SetObjectArrayElement(argv, static_cast<jsize>(i), s);
      env->DeleteLocalRef(s);
    }
    if (argv != nullptr && !env->ExceptionCheck()) {
      env->CallStaticVoidMethod(main_class, main_method, argv);
    }
    // As the launcher: non-zero when main threw (in the absence of System.exit); detaching the
    // thread hands a pending exception to its uncaught-exception handler ("Exception in thread
    // "main" ...").
    status = env->ExceptionCheck() ? 1 : 0;
  }
  if (vm->DetachCurrentThread() != JNI_OK) {
    launcherError("Could not detach main thread.");
    status = 1;
  }
  vm->DestroyJavaVM();  // waits for the other non-daemon threads, as the launcher's does
  run->status = status;
  return nullptr;
}

// The environment's runtime, after kd_zygote_await: its variables, then the launcher's work.
[[noreturn]] void runEnvironment(const ZygoteAbi& abi) {
  // Wholesale: nothing of the zygote's environment stays. The request's strings live as long as
  // the process (kd_zygote_field), so environ may point at them.
  std::vector<char*> env;
  for (int i = 0;; ++i) {
    const char* entry = abi.field(0, i);
    if (entry == nullptr) break;
    env.push_back(const_cast<char*>(entry));
  }
  env.push_back(nullptr);
  // Never freed: the JVM's threads may read the environment while exit() runs destructors.
  environ = (new std::vector<char*>(std::move(env)))->data();
  std::vector<std::string> argv;
  for (int i = 0;; ++i) {
    const char* arg = abi.field(1, i);
    if (arg == nullptr) break;
    argv.emplace_back(arg);
  }
  const char* classpath_env = ::getenv("CLASSPATH");
  auto launch = parseJavaCommandLine(argv, classpath_env ? classpath_env : "");
  if (!launch) {
    launcherError(launch.error().message().c_str());
    std::exit(1);
  }
  MainRun run;
  run.launch = &*launch;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, launch->stack_size);
  pthread_t thread;
  if (const int err = pthread_create(&thread, &attr, javaMain, &run); err != 0) {
    std::fprintf(stderr, "Error: could not start the main thread: %s\n", std::strerror(err));
    std::exit(1);
  }
  pthread_join(thread, nullptr);
  std::fflush(stdout);
  std::exit(run.status);
}

// Answers fork requests ('P' + an encoded PrepareRequest + the stub's six fds) until one returns
// here as a runtime forked ahead (returns then) or the spawner closes the socket (exits).
void serve(const ZygoteAbi& abi) {
  if (::send(kControlFd, "R", 1, 0) != 1) std::exit(1);
  std::vector<char> message(1 << 16);
  for (;;) {
    char control[CMSG_SPACE(sizeof(int) * 16)];
    iovec iov{message.data(), message.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(kControlFd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::exit(0);
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const auto* data = reinterpret_cast<const int*>(CMSG_DATA(c));
      fds.insert(fds.end(), data, data + count);
    }
    Reply reply{-1, EINVAL, 0};
    if (message[0] == 'P' && fds.size() == kStubFds) {
      reply.threads = abi.threads();
      const long pid = abi.fork_ahead(message.data() + 1, static_cast<size_t>(n - 1), fds.data(),
                                      kStubFds);
      if (pid == 0) {
        populateLibraries();
        abi.await();  // the request: isolated and confined from here
        return;
      }
      reply.pid = pid > 0 ? static_cast<int32_t>(pid) : -1;
      reply.err = pid > 0 ? 0 : static_cast<int32_t>(-pid);
    }
    for (int fd : fds) ::close(fd);
    if (::send(kControlFd, &reply, sizeof reply, 0) != static_cast<ssize_t>(sizeof reply)) {
      std::exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: kindling-java-zygote <libjvm.so> (started by kindling)\n");
    return 2;
  }
  // The name an exec'd JVM has (the stubs take it for their runtimes).
  ::prctl(PR_SET_NAME, "java");
  defaultSignals();
  // RTLD_NOW: every relocation and symbol binding done here, once, not in each environment.
  void* jvm = ::dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
  if (jvm == nullptr || !bind(jvm, "JNI_CreateJavaVM", g_create_vm)) {
    std::fprintf(stderr, "kindling java zygote: %s\n", jvm ? "no JNI_CreateJavaVM" : ::dlerror());
    return 1;
  }
  // The JDK libraries the JVM and kindling's runtime load before the first /next (-Xlog:os),
  // from <jdk>/lib beside <jdk>/lib/server/libjvm.so; the JVM's own dlopen of them then finds
  // them loaded. Only their ELF constructors run here; the JVM calls their JNI_OnLoad as it
  // loads them. A JDK without one simply lacks it.
  const std::string lib_dir = std::filesystem::path(argv[1]).parent_path().parent_path();
  for (const char* name : {"libjava.so", "libjimage.so", "libjsvml.so", "libzip.so", "libnio.so",
                           "libnet.so", "libextnet.so", "libverify.so"}) {
    const std::string path = lib_dir + "/" + name;
    if (::access(path.c_str(), R_OK) != 0) continue;
    if (::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      std::fprintf(stderr, "kindling java zygote: %s\n", ::dlerror());  // the JVM loads it later
    }
  }
  const char* lib_path = ::getenv("KINDLING_ZYGOTE_LIB");
  void* lib = lib_path ? ::dlopen(lib_path, RTLD_NOW) : nullptr;
  ZygoteAbi abi{};
  if (lib == nullptr || !bind(lib, "kd_zygote_init", abi.init) ||
      !bind(lib, "kd_zygote_threads", abi.threads) ||
      !bind(lib, "kd_zygote_fork_ahead", abi.fork_ahead) ||
      !bind(lib, "kd_zygote_await", abi.await) || !bind(lib, "kd_zygote_field", abi.field)) {
    std::fprintf(stderr, "kindling java zygote: %s\n",
                 lib_path ? "libkindling_zygote.so unusable" : "KINDLING_ZYGOTE_LIB unset");
    return 1;
  }
  if (const int err = abi.init(); err != 0) {
    std::fprintf(stderr, "kindling java zygote: seccomp program: %s\n", std::strerror(err));
    return 1;
  }
  serve(abi);
  runEnvironment(abi);
}
