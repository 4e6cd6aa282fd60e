#include "behaviours.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

extern char** environ;

namespace kindling::payloads {
namespace {

using Json = nlohmann::json;
using lambda::iequalsAscii;
using lambda::kGoDeclaredTrailers;
using lambda::kHeaderPrefix;

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kReadLimit = 4 * kMiB;  // read:<path> returns at most this much
constexpr int kConnectTimeoutMs = 3000;
constexpr std::size_t kThreadStack = 64 * 1024;
constexpr std::size_t kMaxChunk = 32 * 1024;  // chunked_echo chunk size cap

enum class Arg { None, Unsigned, Signed, Text, OptionalUnsigned };

struct Entry {
  std::string_view name;
  BehaviourKind kind;
  Arg arg;
  std::int64_t max = INT64_MAX;  // upper bound of a numeric argument
};

constexpr Entry kEntries[] = {
    {"echo", BehaviourKind::Echo, Arg::None},
    {"noop", BehaviourKind::Noop, Arg::None},
    {"sleep", BehaviourKind::Sleep, Arg::Unsigned},
    {"crash", BehaviourKind::Crash, Arg::None},
    {"segv", BehaviourKind::Segv, Arg::None},
    {"exit", BehaviourKind::Exit, Arg::Unsigned, 255},
    {"memhog", BehaviourKind::MemHog, Arg::Unsigned, 1 << 24},
    {"forkbomb", BehaviourKind::ForkBomb, Arg::OptionalUnsigned},
    {"stdout_flood", BehaviourKind::StdoutFlood, Arg::Unsigned, 1 << 24},
    {"stderr", BehaviourKind::Stderr, Arg::Text},
    {"log", BehaviourKind::Log, Arg::Text},
    {"fill_tmp", BehaviourKind::FillTmp, Arg::Unsigned, 1 << 24},
    {"print_env", BehaviourKind::PrintEnv, Arg::None},
    {"read", BehaviourKind::Read, Arg::Text},
    {"kill", BehaviourKind::Kill, Arg::Signed, INT32_MAX},
    {"net", BehaviourKind::Net, Arg::Text},
    {"threads", BehaviourKind::Threads, Arg::Unsigned, 1 << 20},
    {"setuid", BehaviourKind::Setuid, Arg::None},
    {"mount", BehaviourKind::Mount, Arg::None},
    {"slow_init", BehaviourKind::SlowInit, Arg::Unsigned},
    {"init_error", BehaviourKind::InitError, Arg::None},
    {"init_exit", BehaviourKind::InitExit, Arg::Unsigned, 255},
    {"error", BehaviourKind::Error, Arg::None},
    {"big_response", BehaviourKind::BigResponse, Arg::Unsigned, 1ll << 32},
    {"double_response", BehaviourKind::DoubleResponse, Arg::None},
    {"chunked_echo", BehaviourKind::ChunkedEcho, Arg::None},
    {"deadline", BehaviourKind::Deadline, Arg::None},
    {"cpu", BehaviourKind::Cpu, Arg::Unsigned},
};

std::int64_t epochMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void sleepMillis(std::int64_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
  }
}

// Writes everything (waits if the fd is non-blocking and full). Returns 0 or the errno.
int writeAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return errno;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

void writeLine(int fd, std::string_view text) {
  std::string line;
  line.reserve(text.size() + 1);
  line.append(text).push_back('\n');
  (void)writeAll(fd, line.data(), line.size());
}

// Adds {"errno": n, "error": "ENAME", "message": "strerror text"} (errno 0: error "").
void addErrno(Json& j, int err) {
  j["errno"] = err;
  const char* name = err != 0 ? strerrorname_np(err) : nullptr;
  j["error"] = name != nullptr ? name : "";
  j["message"] = err != 0 ? std::strerror(err) : "";
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string memHog(std::int64_t mib, std::vector<void*>& chunks) {
  chunks.reserve(static_cast<std::size_t>(mib));
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  int err = 0;
  for (std::int64_t i = 0; i < mib; ++i) {
    void* p = ::mmap(nullptr, kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      err = errno;
      break;
    }
    chunks.push_back(p);
    // Touch every page so the memory is really charged (an untouched mapping costs nothing).
    auto* bytes = static_cast<volatile char*>(p);
    for (std::size_t off = 0; off < kMiB; off += page) bytes[off] = 1;
  }
  Json j{{"requested_mib", mib}, {"allocated_mib", chunks.size()}};
  addErrno(j, err);
  return dump(j);
}

std::string forkBomb(std::int64_t cap) {
  std::vector<pid_t> children;
  children.reserve(4096);
  const pid_t parent = ::getpid();
  int err = 0;
  bool capped = false;
  for (;;) {
    if (cap > 0 && static_cast<std::int64_t>(children.size()) >= cap) {
      capped = true;
      break;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      err = errno;
      break;
    }
    if (pid == 0) {
      // Child: die with the parent, otherwise wait to be killed.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(0);
      for (;;) ::pause();
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) ::kill(pid, SIGKILL);
  std::size_t reaped = 0;
  for (pid_t pid : children) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    ++reaped;
  }
  Json j{{"forked", children.size()}, {"reaped", reaped}, {"capped", capped}};
  addErrno(j, err);
  return dump(j);
}

std::string stdoutFlood(std::int64_t mib) {
  static char block[64 * 1024];
  if (block[0] == 0) {
    constexpr std::string_view kLine =
        "kindling stdout flood 0123456789abcdefghijklmnopqrstuvwxyz\n";
    for (std::size_t i = 0; i < sizeof block; ++i) block[i] = kLine[i % kLine.size()];
  }
  const std::uint64_t total = static_cast<std::uint64_t>(mib) * kMiB;
  std::uint64_t written = 0;
  int err = 0;
  while (written < total) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof block, total - written));
    err = writeAll(STDOUT_FILENO, block, n);
    if (err != 0) break;
    written += n;
  }
  Json j{{"requested_mib", mib}, {"written_bytes", written}};
  addErrno(j, err);
  return dump(j);
}

std::string fillTmp(std::int64_t mib) {
  static const char kPath[] = "/tmp/fill";
  static char block[64 * 1024];
  std::memset(block, 'k', sizeof block);
  const std::uint64_t total = static_cast<std::uint64_t>(mib) * kMiB;
  std::uint64_t written = 0;
  int err = 0;
  std::string stage = "open";
  int fd = ::open(kPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = errno;
  } else {
    stage = "write";
    while (written < total) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof block, total - written));
      ssize_t n = ::write(fd, block, want);
      if (n < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      written += static_cast<std::uint64_t>(n);  // a short write: the next one reports why
    }
    // Delayed allocation can report ENOSPC only when the data is flushed.
    if (err == 0 && ::fsync(fd) != 0) {
      err = errno;
      stage = "fsync";
    }
    ::close(fd);
  }
  Json j{{"path", kPath}, {"requested_mib", mib}, {"written_bytes", written}};
  j["stage"] = err != 0 ? stage : "";
  addErrno(j, err);
  return dump(j);
}

std::string printEnv() {
  Json j = Json::object();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    j[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  return dump(j);
}

std::string readFile(const std::string& path) {
  Json j{{"path", path}};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    addErrno(j, errno);
    return dump(j);
  }
  std::string content;
  int err = 0;
  bool truncated = false;
  char block[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, block, sizeof block);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    std::size_t take = std::min(static_cast<std::size_t>(n), kReadLimit - content.size());
    content.append(block, take);
    if (content.size() == kReadLimit) {
      truncated = true;
      break;
    }
  }
  ::close(fd);
  if (err != 0) {
    addErrno(j, err);
    return dump(j);
  }
  j["bytes"] = content.size();
  j["truncated"] = truncated;
  j["content"] = std::move(content);
  return dump(j);
}

std::string killPid(std::int64_t pid) {
  int rc = ::kill(static_cast<pid_t>(pid), SIGKILL);
  Json j{{"pid", pid}, {"signal", "SIGKILL"}, {"ok", rc == 0}};
  addErrno(j, rc == 0 ? 0 : errno);
  return dump(j);
}

std::string netConnect(const std::string& target) {
  Json j{{"target", target}, {"connected", false}};
  std::size_t colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    j["gai_error"] = "target is not host:port";
    return dump(j);
  }
  std::string host = target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string port = target.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    j["gai_error"] = ::gai_strerror(rc);
    return dump(j);
  }
  char numeric[INET6_ADDRSTRLEN + 8] = "";
  ::getnameinfo(result->ai_addr, result->ai_addrlen, numeric, sizeof numeric, nullptr, 0,
                NI_NUMERICHOST);
  j["address"] = numeric;
  int err = 0;
  int fd = ::socket(result->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
  } else if (::connect(fd, result->ai_addr, result->ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int ready;
      while ((ready = ::poll(&p, 1, kConnectTimeoutMs)) < 0 && errno == EINTR) {
      }
      if (ready == 0) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
  }
  j["connected"] = err == 0;
  if (err == 0) {
    // Then one HTTP request: a listener may accept the TCP connection and still refuse the
    // peer (kindling closes connections from other sandboxes at accept).
    static constexpr char kRequest[] =
        "GET / HTTP/1.1\r\nHost: payload\r\nConnection: close\r\n\r\n";
    std::string answer;
    if (::send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) == sizeof kRequest - 1) {
      char buf[512];
      while (answer.find("\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kConnectTimeoutMs) <= 0) break;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        answer.append(buf, static_cast<std::size_t>(n));
      }
    }
    const std::size_t eol = answer.find("\r\n");
    j["http_answered"] = eol != std::string::npos;
    if (eol != std::string::npos) j["http_status_line"] = answer.substr(0, eol);
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(result);
  addErrno(j, err);
  return dump(j);
}

void* threadMain(void* counter) {
  static_cast<std::atomic<std::uint64_t>*>(counter)->fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

std::string startThreads(std::int64_t count) {
  std::atomic<std::uint64_t> ran{0};
  std::vector<pthread_t> threads;
  threads.reserve(static_cast<std::size_t>(count));
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kThreadStack);
  int err = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    pthread_t t;
    int rc = pthread_create(&t, &attr, threadMain, &ran);
    if (rc != 0) {
      err = rc;
      break;
    }
    threads.push_back(t);
  }
  pthread_attr_destroy(&attr);
  std::size_t joined = 0;
  for (pthread_t t : threads) {
    if (pthread_join(t, nullptr) == 0) ++joined;
  }
  Json j{{"requested", count}, {"started", threads.size()}, {"joined", joined},
         {"ran", ran.load()}};
  addErrno(j, err);
  return dump(j);
}

std::string trySetuid() {
  Json j{{"uid_before", ::getuid()}, {"euid_before", ::geteuid()}};
  int rc = ::setuid(0);
  j["ok"] = rc == 0;
  addErrno(j, rc == 0 ? 0 : errno);
  j["uid_after"] = ::getuid();
  j["euid_after"] = ::geteuid();
  return dump(j);
}

std::string tryMount() {
  // Mount a tiny tmpfs on a fresh directory (never over anything that exists), then undo it.
  char dir[] = "/tmp/kd-payload-mount-XXXXXX";
  Json j;
  if (::mkdtemp(dir) == nullptr) {
    j["target"] = "/tmp";
    j["stage"] = "mkdtemp";
    j["ok"] = false;
    addErrno(j, errno);
    return dump(j);
  }
  j["target"] = dir;
  int rc = ::mount("kindling-payload", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k");
  int err = rc == 0 ? 0 : errno;
  j["stage"] = rc == 0 ? "" : "mount";
  j["ok"] = rc == 0;
  addErrno(j, err);
  if (rc == 0) j["unmounted"] = ::umount2(dir, MNT_DETACH) == 0;
  ::rmdir(dir);
  return dump(j);
}

std::string deadlineReport(const Invocation& invocation) {
  Json headers = Json::object();
  for (const HttpHeader& h : invocation.response->headers) {
    if (h.name.size() >= kHeaderPrefix.size() &&
        iequalsAscii(h.name.substr(0, kHeaderPrefix.size()), kHeaderPrefix)) {
      headers[std::string(h.name)] = std::string(h.value);
    }
  }
  Json j{{"request_id", invocation.request_id}, {"headers", std::move(headers)}};
  if (invocation.deadline_ms != 0) {
    j["deadline_ms"] = invocation.deadline_ms;
    j["remaining_ms"] = invocation.deadline_ms - epochMillis();
  } else {
    j["deadline_ms"] = nullptr;
    j["remaining_ms"] = nullptr;
  }
  return dump(j);
}

std::string cpuSum(std::int64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(n); ++i) {
    sum += i * i;
    // Opaque to the optimiser: no closed form, no vectorisation, one real add per step.
    asm volatile("" : "+r"(sum));
  }
  return dump(Json{{"n", n}, {"sum", std::to_string(sum)}});
}

}  // namespace

bool parseHandler(std::string_view handler, Behaviour& out, HandlerError& error) {
  std::size_t colon = handler.find(':');
  std::string_view name = handler.substr(0, colon);
  bool has_arg = colon != std::string_view::npos;
  std::string_view arg = has_arg ? handler.substr(colon + 1) : std::string_view();
  const Entry* entry = nullptr;
  for (const Entry& e : kEntries) {
    if (e.name == name) entry = &e;
  }
  if (entry == nullptr) {
    error = {"Runtime.HandlerNotFound",
             "Handler '" + std::string(handler) + "' is not a kindling test payload behaviour"};
    return false;
  }
  auto malformed = [&](std::string_view why) {
    error = {"Runtime.MalformedHandlerName",
             "Handler '" + std::string(handler) + "': " + std::string(why)};
    return false;
  };
  out = Behaviour{entry->kind, 0, {}};
  switch (entry->arg) {
    case Arg::None:
      if (has_arg) return malformed("takes no argument");
      return true;
    case Arg::Text:
      if (!has_arg || arg.empty()) return malformed("needs a text argument");
      out.text = std::string(arg);
      return true;
    case Arg::OptionalUnsigned:
      if (!has_arg) return true;
      [[fallthrough]];
    case Arg::Unsigned:
    case Arg::Signed: {
      if (!has_arg) return malformed("needs a numeric argument");
      std::int64_t value = 0;
      auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), value, 10);
      if (ec != std::errc() || ptr != arg.data() + arg.size() || arg.empty()) {
        return malformed("argument is not an integer");
      }
      std::int64_t min = entry->arg == Arg::Signed ? -entry->max : 0;
      if (value < min || value > entry->max) return malformed("argument out of range");
      out.number = value;
      return true;
    }
  }
  return malformed("unsupported argument");
}

Payload::Payload(Behaviour behaviour, RuntimeClient& api)
    : behaviour_(std::move(behaviour)), api_(api) {
  result_.reserve(256);
}

Payload::~Payload() { releaseMemory(); }

void Payload::releaseMemory() {
  for (void* p : held_chunks_) ::munmap(p, kMiB);
  held_chunks_.clear();
}

void Payload::runInit() {
  switch (behaviour_.kind) {
    case BehaviourKind::SlowInit:
      sleepMillis(behaviour_.number);
      return;
    case BehaviourKind::InitError: {
      int status = api_.postInitError(kInitErrorType, kInitErrorBody);
      if (status != 202) {
        writeLine(STDERR_FILENO, "kindling-test-payload: " + api_.failureMessage());
      }
      std::exit(1);
    }
    case BehaviourKind::InitExit:
      std::exit(static_cast<int>(behaviour_.number));
    default:
      return;
  }
}

bool Payload::checkPost(int status) {
  if (status == 202) return true;
  writeLine(STDERR_FILENO, "kindling-test-payload: " + api_.failureMessage());
  return status >= 0;  // an unexpected status is survivable, a dead connection is not
}

bool Payload::handle(const Invocation& invocation) {
  switch (behaviour_.kind) {
    case BehaviourKind::Crash:
      std::abort();
    case BehaviourKind::Segv: {
      ::signal(SIGSEGV, SIG_DFL);
      // A volatile store through a pointer the compiler cannot prove null: a real fault.
      volatile int* volatile target = nullptr;
      *target = 1;
      std::abort();  // not reached
    }
    case BehaviourKind::Exit:
      ::_exit(static_cast<int>(behaviour_.number));
    case BehaviourKind::Error:
      return checkPost(api_.postError(invocation.request_id, kFunctionErrorType,
                                      kFunctionErrorBody));
    case BehaviourKind::ChunkedEcho: {
      std::size_t chunk = std::clamp<std::size_t>((invocation.event.size() + 2) / 3, 1, kMaxChunk);
      return checkPost(
          api_.postResponse(invocation.request_id, invocation.event, chunk, kGoDeclaredTrailers));
    }
    case BehaviourKind::DoubleResponse: {
      int first = api_.postResponse(invocation.request_id, R"({"response":"first"})");
      if (first < 0) return checkPost(first);
      int second = api_.postResponse(invocation.request_id, R"({"response":"second"})");
      if (second < 0) return checkPost(second);
      writeLine(STDOUT_FILENO, "double_response: first_status=" + std::to_string(first) +
                                   " second_status=" + std::to_string(second));
      return true;
    }
    default:
      break;
  }
  computeResult(invocation);
  bool ok = checkPost(api_.postResponse(invocation.request_id, result_view_));
  releaseMemory();
  return ok;
}

void Payload::computeResult(const Invocation& invocation) {
  const std::int64_t n = behaviour_.number;
  switch (behaviour_.kind) {
    case BehaviourKind::Echo:
    case BehaviourKind::SlowInit:
      result_view_ = invocation.event;  // zero-copy: posted straight from the receive buffer
      return;
    case BehaviourKind::Noop:
      result_view_ = "{}";
      return;
    case BehaviourKind::Sleep:
      sleepMillis(n);
      result_ = dump(Json{{"slept_ms", n}});
      break;
    case BehaviourKind::MemHog:
      result_ = memHog(n, held_chunks_);
      break;
    case BehaviourKind::ForkBomb:
      result_ = forkBomb(n);
      break;
    case BehaviourKind::StdoutFlood:
      result_ = stdoutFlood(n);
      break;
    case BehaviourKind::Stderr:
      writeLine(STDERR_FILENO, behaviour_.text);
      result_ = dump(Json{{"stderr", behaviour_.text}});
      break;
    case BehaviourKind::Log:
      writeLine(STDOUT_FILENO, behaviour_.text);
      result_ = dump(Json{{"stdout", behaviour_.text}});
      break;
    case BehaviourKind::FillTmp:
      result_ = fillTmp(n);
      break;
    case BehaviourKind::PrintEnv:
      result_ = printEnv();
      break;
    case BehaviourKind::Read:
      result_ = readFile(behaviour_.text);
      break;
    case BehaviourKind::Kill:
      result_ = killPid(n);
      break;
    case BehaviourKind::Net:
      result_ = netConnect(behaviour_.text);
      break;
    case BehaviourKind::Threads:
      result_ = startThreads(n);
      break;
    case BehaviourKind::Setuid:
      result_ = trySetuid();
      break;
    case BehaviourKind::Mount:
      result_ = tryMount();
      break;
    case BehaviourKind::BigResponse:
      // A JSON string whose encoding is exactly n bytes (quotes included); built once.
      if (result_.size() != static_cast<std::size_t>(std::max<std::int64_t>(n, 2))) {
        result_.assign(static_cast<std::size_t>(std::max<std::int64_t>(n, 2)), 'x');
        result_.front() = '"';
        result_.back() = '"';
      }
      break;
    case BehaviourKind::Deadline:
      result_ = deadlineReport(invocation);
      break;
    case BehaviourKind::Cpu:
      result_ = cpuSum(n);
      break;
    default:  // handled in handle() or in runInit()
      result_ = "{}";
      break;
  }
  result_view_ = result_;
}

}  // namespace kindling::payloads
