// kindling-platform-bench: kindling side by side with its peers, in one run on one host, so the
// ratios (kindling / peer) hold across machines even where the absolute figures do not.
// scripts/bench-platform.sh starts everything it talks to; it only measures and prints figures
// (it never asserts a time).
//
// Peers: (a) AWS's runtime interface emulator (aws-lambda-rie) running the SAME function, the
// test payload's `noop` handler (`bootstrap`, provided.al2023; _HANDLER=noop), invoked with the
// SAME request bytes (POST /2015-03-31/functions/function/invocations, body "{}"); (b) the floor:
// nginx answering a static 200 on loopback (HTTP), and the bare start of the runtimes
// (fork+exec+wait of /bin/true, python3 -c pass, node -e 0, ruby -e 0, a JVM hello).
//
// Sections and methods:
//  1. warm: for each client count C (1/8/64) and each side (kindling, RIE, nginx): C threads,
//     each with one keep-alive connection (bench_client.h: the request is serialised once),
//     first warm up for --warmup-s; kindling's warm-up goes on (up to 10 s more) until the
//     daemon's cold-start counter of the function reaches C, i.e. one environment per client,
//     so the measured window holds no cold start (the counter is read again after the row and
//     any cold start in the window is printed). Then all start together and invoke back to back
//     for --warm-s. Latency = client-observed round trip of each successful invoke (nearest-rank
//     p50/p99/p999, µs); ok/s = successes / the row's window. RIE serves one invocation at a
//     time by design; each row gets a fresh emulator, and with more than one client whatever it
//     does is shown, never hidden: error replies are counted (err/s, the first one's text), and
//     if the process dies its log's panic line is printed; a client whose connection is refused
//     (server gone) stops. Latency covers only successes. kindling's function has MemorySize
//     --memory (1,769 MB = one full vCPU of CPU quota, the nearest to RIE's unlimited CPU; the
//     script runs the daemon with --memory-budget-mb 0 so 64 such environments are admitted).
//  2. cold: kindling: N distinct functions created beforehand (not timed), then each invoked
//     once (a fresh function has no environment: every invoke is a cold start) by 1 client and
//     by --cold-clients concurrent clients taking the next function; cold starts/s = invokes /
//     wall time of the row; latency = client side, and Init Duration from the REPORT line of the
//     X-Amz-Log-Result tail. Runtimes beyond provided (python/node/ruby hello examples, java
//     hello if built) 1 client --runtime-samples times; Python also --cold-functions times with
//     --cold-clients (its cold-start rate, issue 7). RIE: one cold start = spawn `aws-lambda-rie <bootstrap>` on fresh
//     loopback ports, connect as soon as it listens (polled every 200 µs), first invoke
//     answered: time from spawn to response (its init happens on the first invoke), 1 at a time
//     and --cold-clients at once on distinct ports; processes are stopped after the row (not
//     timed). Floor: fork+exec+wait (posix_spawn) of each bare command, same two client counts.
//  3. memory (a second, fresh daemon, so sections 1-2 leave nothing in it): the daemon's VmRSS
//     before, after deploying --memory-functions no-op functions (MemorySize 128), and after
//     invoking each once (one idle environment each, frozen after the daemon's --freeze-after),
//     measured after --settle-s. An environment = the processes of one env-* cgroup of the
//     daemon (kindling-<daemon pid> under the memory controller on v1, the unified tree on v2:
//     init + runtime); groups whose only processes are not-yet-used stubs ("kindling-spawn")
//     are not environments. Without cgroups the daemon's process tree is used instead (a child
//     of the daemon, or of its spawner, plus its descendants). Per environment: PSS = sum of
//     /proc/<pid>/smaps_rollup Pss over its processes (shared pages divided among sharers, so
//     N environments of one binary sum to what they really cost), RSS the same way (as if alone),
//     and the cgroup's own charge; also the daemon's open descriptors per idle environment.
//     The same for --memory-python-functions python hello environments (the groups that appear
//     with that set), on the sections 1-2 daemon when --kindling-daemon-pid is given (its
//     functions are deleted by then; the no-op set leaves the memory daemon few descriptors).
//     Peer: one RIE process and its runtime process, idle after one invoke, same settle time.
// Every figure carries its unit. The client shares the host's cores with what it measures.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/bench_client.h"
#include "bench/bench_util.h"
#include "bench/stats.h"
#include "common/strings.h"
#include "store/zip.h"

extern char** environ;

namespace kindling::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The invoke path RIE serves; kindling's own path for a function called "function" is the same.
constexpr std::string_view kRieFunctionName = "function";
constexpr std::string_view kNoopPayload = "{}";
constexpr int kMinWarmupInvokes = 3;  // per client, even when --warmup-s is 0
constexpr auto kListenPoll = std::chrono::microseconds(200);
constexpr auto kStartTimeout = std::chrono::seconds(20);

struct Options {
  std::vector<std::string> sections = {"warm", "cold", "memory"};
  std::string kindling;         // daemon for sections 1-2 (and the python set of section 3)
  int kindling_daemon_pid = 0;
  std::string memory_kindling;  // fresh daemon for section 3
  int memory_daemon_pid = 0;
  std::string rie_bin;
  std::string bootstrap;  // the test payload binary (zipped as `bootstrap` for kindling)
  std::string nginx;
  std::string work_dir;   // RIE logs; a temp dir when empty
  std::string examples_dir = "examples";
  std::string built_examples_dir;
  // 1
  std::vector<int> clients = {1, 8, 64};
  double warm_s = 5;
  double warmup_s = 1;
  int memory_mb = 1769;
  // 2
  int cold_clients = 8;
  size_t cold_functions = 60;  // per kindling provided row (and per RIE row)
  size_t runtime_samples = 20;
  std::vector<std::string> cold_runtimes = {"python3.11", "nodejs20.x", "ruby3.1", "java17"};
  size_t floor_samples = 40;
  size_t jvm_samples = 10;
  std::string python3 = "/usr/bin/python3";
  std::string node = "/usr/bin/node";
  std::string ruby = "/usr/bin/ruby";
  std::string java = "/usr/bin/java";
  std::string java_hello_dir;  // holds Hello.class
  // 3
  size_t memory_functions = 1000;
  size_t memory_python_functions = 100;
  std::string memory_python_runtime = "python3.11";  // runtime of that set
  int memory_clients = 8;
  double settle_s = 2.5;
  std::string json_out;
};

json summaryJson(const Summary& s) {
  return {{"count", s.count}, {"min", s.min},   {"p50", s.p50},  {"p90", s.p90},
          {"p99", s.p99},     {"p999", s.p999}, {"max", s.max},  {"mean", s.mean}};
}

bool wants(const Options& opts, std::string_view section) {
  return std::find(opts.sections.begin(), opts.sections.end(), section) != opts.sections.end();
}

// ---- small OS helpers ----

// A /proc or /sys file (st_size 0, so read until EOF); nullopt when it cannot be opened.
std::optional<std::string> readSmall(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// The number after "<key>" on its line of a /proc key/value file ("VmRSS:", "Pss:"), in kB.
std::optional<uint64_t> procFieldKb(const std::string& text, std::string_view key) {
  size_t at = 0;
  while ((at = text.find(key, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      return std::strtoull(text.c_str() + at + key.size(), nullptr, 10);
    }
    at += key.size();
  }
  return std::nullopt;
}

std::optional<uint64_t> vmRssKb(pid_t pid) {
  auto text = readSmall("/proc/" + std::to_string(pid) + "/status");
  return text ? procFieldKb(*text, "VmRSS:") : std::nullopt;
}

std::optional<uint64_t> pssKb(pid_t pid) {
  auto text = readSmall("/proc/" + std::to_string(pid) + "/smaps_rollup");
  return text ? procFieldKb(*text, "Pss:") : std::nullopt;
}

std::string commOf(pid_t pid) {
  auto text = readSmall("/proc/" + std::to_string(pid) + "/comm");
  if (!text) return {};
  while (!text->empty() && text->back() == '\n') text->pop_back();
  return *text;
}

// pid -> parent pid of every process, from /proc/<pid>/stat (the field after the ")" of comm).
std::map<pid_t, pid_t> processParents() {
  std::map<pid_t, pid_t> parents;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    auto stat = readSmall("/proc/" + name + "/stat");
    if (!stat) continue;
    const size_t close = stat->rfind(')');
    if (close == std::string::npos || close + 4 >= stat->size()) continue;
    // ") S <ppid> ..."
    const pid_t ppid = static_cast<pid_t>(std::strtol(stat->c_str() + close + 4, nullptr, 10));
    parents[static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10))] = ppid;
  }
  return parents;
}

std::vector<pid_t> childrenOf(const std::map<pid_t, pid_t>& parents, pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& [pid, ppid] : parents) {
    if (ppid == parent) out.push_back(pid);
  }
  return out;
}

// root and all its descendants.
std::vector<pid_t> processTree(const std::map<pid_t, pid_t>& parents, pid_t root) {
  std::vector<pid_t> out{root};
  for (size_t i = 0; i < out.size(); ++i) {
    for (pid_t child : childrenOf(parents, out[i])) out.push_back(child);
  }
  return out;
}

// A loopback TCP port that was free a moment ago. Ports handed out in this run are not handed
// out again (the kernel may reuse a port as soon as the probe socket is closed).
Result<uint16_t> freePort() {
  static std::mutex mu;
  static std::set<uint16_t> given;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errnoError("socket(AF_INET)");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      auto err = errnoError("bind(127.0.0.1:0)");
      ::close(fd);
      return err;
    }
    ::close(fd);
    const uint16_t port = ntohs(addr.sin_port);
    std::lock_guard lock(mu);
    if (given.insert(port).second) return port;
  }
  return makeError(ErrorCode::Io, "no free loopback port after 50 attempts");
}

// Starts argv[0] (a path) with `env` (inherited when empty), in `cwd` when not empty, stdout and
// stderr to `out_path` (appended; /dev/null when empty); in its own process group when
// `own_group` (so the group can be signalled with the processes it starts).
Result<pid_t> spawnProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                           const std::string& cwd, const std::string& out_path, bool own_group) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  const std::string out = out_path.empty() ? "/dev/null" : out_path;
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  if (own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(),
                               env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return errnoError("posix_spawn(" + argv[0] + ")", rc);
  return pid;
}

// waitpid() that retries on EINTR; the raw wait status.
Result<int> waitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errnoError("waitpid(" + std::to_string(pid) + ")");
  }
  return status;
}

// Stops process groups led by `pids` (SIGTERM, up to 3 s, then SIGKILL) and reaps the leaders.
void stopGroups(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (pid > 0) ::kill(-pid, SIGTERM);
  }
  const auto deadline = SteadyClock::now() + std::chrono::seconds(3);
  for (pid_t pid : pids) {
    if (pid <= 0) continue;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (SteadyClock::now() > deadline) {
        ::kill(-pid, SIGKILL);
        (void)waitFor(pid);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(-pid, SIGKILL);  // the runtime the emulator started, if it outlived it
  }
}

// ---- packaging ----

// A function to deploy: runtime, handler, code, and the event its invokes send.
struct Deployable {
  std::string runtime;
  std::string handler;
  std::string zip_base64;
  std::string payload;
};

Result<Deployable> deployableFor(const std::string& runtime, const Options& opts) {
  const fs::path examples = opts.examples_dir;
  fs::path code;
  Deployable d{runtime, {}, {}, R"({"name":"bench"})"};
  if (runtime.rfind("provided", 0) == 0) {
    d.handler = "noop";
    d.payload = std::string(kNoopPayload);
    code = opts.bootstrap;
  } else if (runtime.rfind("python", 0) == 0) {
    d.handler = "app.handler";
    code = examples / "python" / "hello";
  } else if (runtime.rfind("nodejs", 0) == 0) {
    d.handler = "index.handler";
    code = examples / "node" / "hello";
  } else if (runtime.rfind("ruby", 0) == 0) {
    d.handler = "function.handler";
    code = examples / "ruby" / "hello";
  } else if (runtime.rfind("java", 0) == 0) {
    d.handler = "example.Hello";
    code = fs::path(opts.built_examples_dir) / "java" / "hello.zip";
    std::error_code ec;
    if (opts.built_examples_dir.empty() || !fs::is_regular_file(code, ec)) {
      return makeError(ErrorCode::NotFound, "no built Java example (" + code.string() +
                                                "; examples/java/build.sh <dir>/java and "
                                                "--built-examples-dir <dir>)");
    }
  } else {
    return makeError(ErrorCode::InvalidArgument, "no benchmark function for runtime " + runtime);
  }
  auto zip = packageBase64(code);
  if (!zip) return tl::unexpected(std::move(zip.error()));
  d.zip_base64 = std::move(*zip);
  return d;
}

// Creates functions names[i] (all alike) over `threads` connections at once; the first error.
Status createFunctions(const Endpoint& endpoint, const Deployable& d, int memory_mb,
                       const std::vector<std::string>& names, int threads) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first = {};
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, threads); ++t) {
    workers.emplace_back([&] {
      auto conn = Connection::open(endpoint);
      FunctionSpec spec;
      spec.runtime = d.runtime;
      spec.handler = d.handler;
      spec.memory_mb = memory_mb;
      spec.timeout_s = 30;
      spec.zip_base64 = d.zip_base64;
      for (size_t i = next++; i < names.size(); i = next++) {
        Status st = conn ? Status{} : Status(tl::unexpected(conn.error()));
        if (st) {
          spec.name = names[i];
          st = createFunction(**conn, endpoint, spec);
        }
        if (!st) {
          std::lock_guard lock(mu);
          if (first) first = std::move(st);
          next = names.size();  // stop everyone
          return;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return first;
}

void deleteFunctions(Connection& mgmt, const Endpoint& endpoint,
                     const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (auto st = deleteFunction(mgmt, endpoint, name); !st) {
      fmt::print(stderr, "kindling-platform-bench: cleanup: {}\n", st.error().message());
      return;
    }
  }
}

std::vector<std::string> functionNames(const std::string& prefix, size_t count) {
  std::vector<std::string> names;
  names.reserve(count);
  for (size_t i = 0; i < count; ++i) names.push_back(prefix + std::to_string(i));
  return names;
}

// ---- invoking ----

// "" when the reply is a success (HTTP 200 without X-Amz-Function-Error), else what it was.
std::string replyProblem(const Reply& reply) {
  if (reply.status == 200 && reply.function_error.empty()) return {};
  return "HTTP " + std::to_string(reply.status) +
         (reply.function_error.empty() ? "" : " X-Amz-Function-Error " + reply.function_error) +
         ": " + reply.body.substr(0, 160);
}

// One round trip; "" on success, else what went wrong.
std::string invokeOnce(Connection& conn, std::string_view request, Reply& reply) {
  if (auto st = conn.roundTrip(request, reply); !st) return st.error().message();
  return replyProblem(reply);
}

// ---- the emulator ----

struct Rie {
  std::string bin;
  std::string bootstrap;
  std::string log_dir;
  int memory_mb = 1769;
};

struct RieProcess {
  pid_t pid = -1;
  Endpoint endpoint;
};

// Why an emulator failed, from its log: a Go panic line, else the first error line (the
// runtime's own message or RIE's [ERROR]), else the last line.
std::string rieLogReason(const std::string& log_path) {
  auto text = readSmall(log_path);
  if (!text) return {};
  std::string first_error, last;
  size_t at = 0;
  while (at < text->size()) {
    size_t nl = text->find('\n', at);
    if (nl == std::string::npos) nl = text->size();
    std::string line = text->substr(at, nl - at);
    at = nl + 1;
    if (line.rfind("panic:", 0) == 0 || line.rfind("fatal error:", 0) == 0) return line;
    if (first_error.empty() && (line.find("[ERROR]") != std::string::npos ||
                                line.rfind("kindling-test-payload:", 0) == 0)) {
      first_error = line;
    }
    if (!line.empty()) last = std::move(line);
  }
  return first_error.empty() ? last : first_error;
}

std::string rieLogPath(const Rie& rie, const std::string& tag) {
  return rie.log_dir.empty() ? std::string() : rie.log_dir + "/" + tag + ".log";
}

// Spawns one emulator running the no-op function on fresh loopback ports (log: <log_dir>/<tag>.log).
Result<RieProcess> spawnRie(const Rie& rie, const std::string& tag) {
  auto port = freePort();
  if (!port) return tl::unexpected(std::move(port.error()));
  auto api_port = freePort();
  if (!api_port) return tl::unexpected(std::move(api_port.error()));
  RieProcess p;
  p.endpoint = Endpoint{"127.0.0.1", *port};
  const std::vector<std::string> argv = {
      rie.bin,
      "--runtime-interface-emulator-address",
      "127.0.0.1:" + std::to_string(*port),
      "--runtime-api-address",
      "127.0.0.1:" + std::to_string(*api_port),
      rie.bootstrap};
  const std::vector<std::string> env = {
      "PATH=/usr/bin:/bin", "_HANDLER=noop",
      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(rie.memory_mb),
      "AWS_LAMBDA_FUNCTION_TIMEOUT=10"};
  auto pid = spawnProcess(argv, env, fs::path(rie.bootstrap).parent_path().string(),
                          rieLogPath(rie, tag), true);
  if (!pid) return tl::unexpected(std::move(pid.error()).wrap("aws-lambda-rie"));
  p.pid = *pid;
  return p;
}

// Connects to a just-spawned emulator as soon as it listens. `exited` is set when the process
// ended (it was reaped here).
Result<std::unique_ptr<Connection>> connectWhenListening(const RieProcess& p, bool& exited) {
  exited = false;
  const auto deadline = SteadyClock::now() + kStartTimeout;
  while (true) {
    auto conn = Connection::open(p.endpoint);
    if (conn) return conn;
    int status = 0;
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
      exited = true;
      return makeError(ErrorCode::Io, "aws-lambda-rie exited before listening (" +
                                          std::to_string(status) + "); see its log");
    }
    if (SteadyClock::now() > deadline) {
      return makeError(ErrorCode::Io, "aws-lambda-rie did not listen within 20 s");
    }
    std::this_thread::sleep_for(kListenPoll);
  }
}

// ---- section 1: warm latency and throughput ----

struct WarmSide {
  std::string label;
  Endpoint endpoint;
  std::string request;
  // kindling only: the function whose kindling_cold_starts_total is read (empty for peers).
  std::string kindling_function;
};

struct WarmRow {
  std::string side;
  int clients = 0;
  size_t ok = 0;
  size_t errors = 0;
  size_t warmup_errors = 0;
  std::string first_error;         // of the measured window
  std::string first_warmup_error;
  Summary latency_us;
  double wall_s = 0;
  double ok_per_s = 0;
  double errors_per_s = 0;
  std::optional<double> environments;      // kindling: cold starts so far, after the warm-up
  std::optional<double> colds_during_row;  // kindling: cold starts during the measured window
};

struct ClientOutcome {
  std::vector<double> latency_us;
  size_t errors = 0;
  size_t warmup_errors = 0;
  std::string first_error;         // of the measured window
  std::string first_warmup_error;
};

std::optional<double> coldStarts(const Endpoint& endpoint, const std::string& function) {
  auto conn = Connection::open(endpoint);
  if (!conn) return std::nullopt;
  auto text = scrapeMetrics(**conn, endpoint);
  if (!text) return std::nullopt;
  return functionMetric(*text, "kindling_cold_starts_total", function);
}

// A refused connection: the server is not there (any more); the client stops instead of spinning.
bool serverGone(std::string_view problem) {
  return problem.rfind("connect(", 0) == 0 && problem.find("refused") != std::string_view::npos;
}

// Extra warm-up allowed for kindling to reach one environment per client.
constexpr auto kMaxExtraWarmup = std::chrono::seconds(10);

WarmRow runWarmRow(const WarmSide& side, int clients, const Options& opts) {
  std::vector<ClientOutcome> outcomes(clients);
  std::atomic<bool> warm_done{false};
  std::latch ready(clients + 1);
  std::latch go(1);
  SteadyClock::time_point end;  // written before go opens, read after
  const size_t reserve = static_cast<size_t>(std::min(2e6, 60000.0 * opts.warm_s) / clients) + 16;
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ClientOutcome& out = outcomes[c];
      out.latency_us.reserve(reserve);
      auto conn = Connection::open(side.endpoint);
      Reply reply;
      if (conn) {
        for (int n = 0; n < kMinWarmupInvokes || !warm_done.load(std::memory_order_relaxed);
             ++n) {
          std::string problem = invokeOnce(**conn, side.request, reply);
          if (!problem.empty()) {
            ++out.warmup_errors;
            const bool gone = serverGone(problem);
            if (out.first_warmup_error.empty()) out.first_warmup_error = std::move(problem);
            if (gone) break;
          }
        }
      }
      ready.count_down();
      go.wait();
      if (!conn) {
        out.errors = 1;
        out.first_error = conn.error().message();
        return;
      }
      while (true) {
        const auto t0 = SteadyClock::now();
        if (t0 >= end) break;
        std::string problem = invokeOnce(**conn, side.request, reply);
        const auto t1 = SteadyClock::now();
        if (problem.empty()) {
          out.latency_us.push_back(elapsedUs(t0, t1));
        } else {
          ++out.errors;
          const bool gone = serverGone(problem);
          if (out.first_error.empty()) out.first_error = std::move(problem);
          if (gone) break;
        }
      }
    });
  }
  // Warm-up: --warmup-s; kindling then goes on (up to kMaxExtraWarmup) until it has started one
  // environment per client, so the measured window holds no cold start.
  std::this_thread::sleep_for(std::chrono::duration<double>(opts.warmup_s));
  WarmRow row;
  row.side = side.label;
  row.clients = clients;
  if (!side.kindling_function.empty()) {
    const auto give_up = SteadyClock::now() + kMaxExtraWarmup;
    while (true) {
      row.environments = coldStarts(side.endpoint, side.kindling_function);
      if (!row.environments || *row.environments >= clients || SteadyClock::now() > give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  warm_done = true;
  ready.arrive_and_wait();
  if (!side.kindling_function.empty()) {
    row.environments = coldStarts(side.endpoint, side.kindling_function);
  }
  const auto start = SteadyClock::now();
  end = start + std::chrono::duration_cast<SteadyClock::duration>(
                    std::chrono::duration<double>(opts.warm_s));
  go.count_down();
  for (auto& t : threads) t.join();
  // Clients that found the server gone stop early: the row still spans the planned window.
  const auto stop = std::max(SteadyClock::now(), end);
  if (!side.kindling_function.empty() && row.environments) {
    if (auto after = coldStarts(side.endpoint, side.kindling_function)) {
      row.colds_during_row = *after - *row.environments;
    }
  }
  std::vector<double> all;
  size_t total = 0;
  for (const auto& out : outcomes) total += out.latency_us.size();
  all.reserve(total);
  for (auto& out : outcomes) {
    all.insert(all.end(), out.latency_us.begin(), out.latency_us.end());
    row.errors += out.errors;
    row.warmup_errors += out.warmup_errors;
    // The most telling error: one that is not a refused connection (the server already gone).
    auto keep = [](std::string& kept, const std::string& seen) {
      if (!seen.empty() && (kept.empty() || (serverGone(kept) && !serverGone(seen)))) kept = seen;
    };
    keep(row.first_error, out.first_error);
    keep(row.first_warmup_error, out.first_warmup_error);
  }
  row.ok = all.size();
  row.wall_s = elapsedUs(start, stop) / 1e6;
  if (row.wall_s > 0) {
    row.ok_per_s = static_cast<double>(row.ok) / row.wall_s;
    row.errors_per_s = static_cast<double>(row.errors) / row.wall_s;
  }
  row.latency_us = summarize(all);
  return row;
}

json warmRowJson(const WarmRow& r) {
  json j = {{"side", r.side},
            {"clients", r.clients},
            {"ok", r.ok},
            {"errors", r.errors},
            {"warmup_errors", r.warmup_errors},
            {"latency_us", summaryJson(r.latency_us)},
            {"wall_s", r.wall_s},
            {"ok_per_s", r.ok_per_s},
            {"errors_per_s", r.errors_per_s}};
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  if (!r.first_warmup_error.empty()) j["first_warmup_error"] = r.first_warmup_error;
  if (r.environments) j["environments_after_warmup"] = *r.environments;
  if (r.colds_during_row) j["cold_starts_during_row"] = *r.colds_during_row;
  return j;
}

// Results kept for the ratio table, by name.
struct Figures {
  std::map<std::string, WarmRow> warm;  // "<side>/<clients>"
  std::map<std::string, Summary> cold_ms;
  std::map<std::string, double> cold_per_s;
  std::map<std::string, double> memory_kb;
};

std::string warmKey(const std::string& side, int clients) {
  return side + "/" + std::to_string(clients);
}

bool runWarmSection(const Options& opts, const std::string& run_id, Figures& figures,
                    json& report) {
  bool ok = true;
  std::optional<WarmSide> kindling;
  if (!opts.kindling.empty()) {
    auto endpoint = parseEndpoint(opts.kindling);
    auto d = deployableFor("provided.al2023", opts);
    if (!endpoint || !d) {
      fmt::print(stderr, "kindling-platform-bench: warm: {}\n",
                 !endpoint ? endpoint.error().message() : d.error().message());
      return false;
    }
    const std::string function = "kdp-warm-" + run_id;
    if (auto st = createFunctions(*endpoint, *d, opts.memory_mb, {function}, 1); !st) {
      fmt::print(stderr, "kindling-platform-bench: warm: {}\n", st.error().message());
      return false;
    }
    kindling = WarmSide{"kindling", *endpoint,
                        invokeRequestBytes(*endpoint, function, kNoopPayload, false), function};
  }
  std::optional<WarmSide> nginx;
  if (!opts.nginx.empty()) {
    if (auto endpoint = parseEndpoint(opts.nginx)) {
      // The same bytes as an invoke (POST of "{}" to the invocation path); nginx returns 200 "{}".
      nginx = WarmSide{"nginx", *endpoint,
                       invokeRequestBytes(*endpoint, kRieFunctionName, kNoopPayload, false), ""};
    } else {
      fmt::print(stderr, "kindling-platform-bench: --nginx: {}\n", endpoint.error().message());
      ok = false;
    }
  }

  fmt::print("\n== 1. Warm invoke: no-op function, payload {{}}, {:.1f} s per row after >= {:.1f} s "
             "warm-up; kindling MemorySize {}; a fresh RIE per row ==\n",
             opts.warm_s, opts.warmup_s, opts.memory_mb);
  fmt::print("{:<9} {:>7} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5}\n", "side",
             "clients", "ok", "errors", "p50 us", "p99 us", "p999 us", "max us", "ok/s", "err/s",
             "envs");
  json rows = json::array();
  auto print = [&](WarmRow r, const std::string& extra_note) {
    const Summary& s = r.latency_us;
    fmt::print("{:<9} {:>7} {:>8} {:>8} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.0f} {:>9.0f} "
               "{:>5}\n",
               r.side, r.clients, r.ok, r.errors, s.p50, s.p99, s.p999, s.max, r.ok_per_s,
               r.errors_per_s,
               r.environments ? fmt::format("{:.0f}", *r.environments) : std::string("-"));
    if (!r.first_warmup_error.empty()) {
      fmt::print("{:<9} warm-up: {} error(s), the first: {}\n", "", r.warmup_errors,
                 r.first_warmup_error);
    }
    if (!r.first_error.empty()) fmt::print("{:<9} first error: {}\n", "", r.first_error);
    if (!extra_note.empty()) fmt::print("{:<9} {}\n", "", extra_note);
    if (r.colds_during_row && *r.colds_during_row > 0) {
      fmt::print("{:<9} {:.0f} cold start(s) during the measured window\n", "",
                 *r.colds_during_row);
    }
    // The emulator failing with concurrent clients is its documented design, not a failure of
    // this run; kindling or nginx (or RIE with one client) without a success is.
    if (r.ok == 0 && (r.side != "RIE" || r.clients == 1)) ok = false;
    json j = warmRowJson(r);
    if (!extra_note.empty()) j["note"] = extra_note;
    rows.push_back(std::move(j));
    figures.warm[warmKey(r.side, r.clients)] = std::move(r);
  };
  const Rie rie{opts.rie_bin, opts.bootstrap, opts.work_dir, opts.memory_mb};
  for (int clients : opts.clients) {
    if (clients < 1) continue;
    if (kindling) print(runWarmRow(*kindling, clients, opts), "");
    if (!opts.rie_bin.empty()) {
      // A fresh emulator per row: what one row does to it does not carry into the next.
      const std::string tag = "rie-warm-" + std::to_string(clients);
      auto p = spawnRie(rie, tag);
      bool exited = false;
      Result<std::unique_ptr<Connection>> conn =
          p ? connectWhenListening(*p, exited)
            : Result<std::unique_ptr<Connection>>(tl::unexpected(p.error()));
      if (!conn) {
        WarmRow failed;
        failed.side = "RIE";
        failed.clients = clients;
        failed.errors = 1;
        failed.first_error = conn.error().message();
        print(std::move(failed), "");
      } else {
        conn->reset();  // the probe; the row's clients open their own
        WarmRow r = runWarmRow({"RIE", p->endpoint,
                                invokeRequestBytes(p->endpoint, kRieFunctionName, kNoopPayload,
                                                   false),
                                ""},
                               clients, opts);
        int status = 0;
        std::string note;
        if (::waitpid(p->pid, &status, WNOHANG) == p->pid) {
          exited = true;
          note = "aws-lambda-rie exited during the row: " + rieLogReason(rieLogPath(rie, tag));
        }
        print(std::move(r), note);
      }
      if (p && !exited) stopGroups({p->pid});
    }
    if (nginx) print(runWarmRow(*nginx, clients, opts), "");
  }
  fmt::print("(latency: client-observed round trip of successful invokes; p999 is the largest "
             "sample below 1,000 samples; envs: kindling's cold starts of the function after the "
             "row's warm-up = environments it has; RIE runs one invocation at a time)\n");
  report["warm"] = {{"memory_mb", opts.memory_mb},
                    {"warm_s", opts.warm_s},
                    {"warmup_s", opts.warmup_s},
                    {"rows", std::move(rows)}};
  if (kindling) {
    if (auto conn = Connection::open(kindling->endpoint)) {
      deleteFunctions(**conn, kindling->endpoint, {kindling->kindling_function});
    }
  }
  return ok;
}

// ---- section 2: cold starts ----

struct SampleOut {
  double ms = 0;
  std::optional<double> init_ms;
};

// One sample: (thread index, sample index, out); an error is counted, not fatal.
using SampleFn = std::function<Status(int, size_t, SampleOut&)>;

struct ColdRow {
  std::string label;
  std::string group;  // "kindling", "RIE", "floor"
  int clients = 0;
  size_t ok = 0;
  size_t errors = 0;
  std::string first_error;
  std::string skipped;
  Summary ms;
  Summary init_ms;
  double wall_s = 0;
  double per_s = 0;
};

// Runs `count` samples on `clients` threads (each takes the next index); stops taking new ones
// after max(5, count / 4) errors.
ColdRow runColdRow(const std::string& label, const std::string& group, int clients, size_t count,
                   const SampleFn& sample) {
  ColdRow row;
  row.label = label;
  row.group = group;
  row.clients = clients;
  std::atomic<size_t> next{0};
  std::atomic<size_t> errors{0};
  std::mutex mu;
  std::vector<double> ms;
  std::vector<double> init;
  ms.reserve(count);
  init.reserve(count);
  std::latch go(1);
  const size_t max_errors = std::max<size_t>(5, count / 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      go.wait();
      for (size_t i = next++; i < count && errors < max_errors; i = next++) {
        SampleOut out;
        Status st = sample(t, i, out);
        std::lock_guard lock(mu);
        if (!st) {
          ++errors;
          if (row.first_error.empty()) row.first_error = st.error().message();
          continue;
        }
        ms.push_back(out.ms);
        if (out.init_ms) init.push_back(*out.init_ms);
      }
    });
  }
  const auto start = SteadyClock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  row.wall_s = elapsedUs(start, SteadyClock::now()) / 1e6;
  row.errors = errors;
  row.ok = ms.size();
  row.per_s = row.wall_s > 0 ? static_cast<double>(row.ok) / row.wall_s : 0;
  row.ms = summarize(ms);
  row.init_ms = summarize(init);
  return row;
}

// Per-thread connections to kindling and the prepared invoke requests of fresh functions.
struct KindlingColdSet {
  Endpoint endpoint;
  std::vector<std::string> names;
  std::vector<std::string> requests;  // with X-Amz-Log-Type: Tail
  std::vector<std::unique_ptr<Connection>> conns;
};

Result<KindlingColdSet> prepareKindlingCold(const Endpoint& endpoint, const Deployable& d,
                                            int memory_mb, const std::string& prefix,
                                            size_t count, int clients) {
  KindlingColdSet set;
  set.endpoint = endpoint;
  set.names = functionNames(prefix, count);
  if (auto st = createFunctions(endpoint, d, memory_mb, set.names, 4); !st) {
    return tl::unexpected(std::move(st.error()));
  }
  for (const auto& name : set.names) {
    set.requests.push_back(invokeRequestBytes(endpoint, name, d.payload, true));
  }
  for (int t = 0; t < clients; ++t) {
    auto conn = Connection::open(endpoint);
    if (!conn) return tl::unexpected(std::move(conn.error()));
    set.conns.push_back(std::move(*conn));
  }
  return set;
}

SampleFn kindlingColdSample(KindlingColdSet& set) {
  return [&set](int t, size_t i, SampleOut& out) -> Status {
    Reply reply;
    const auto t0 = SteadyClock::now();
    std::string problem = invokeOnce(*set.conns[t], set.requests[i], reply);
    out.ms = elapsedUs(t0, SteadyClock::now()) / 1000;
    if (!problem.empty()) return makeError(ErrorCode::Internal, set.names[i] + ": " + problem);
    auto log = base64Decode(reply.log_result);
    auto figures = log ? parseReportLine(*log) : std::nullopt;
    if (!figures || !figures->init_duration_ms) {
      return makeError(ErrorCode::Internal,
                       set.names[i] + ": no Init Duration in the REPORT line (not a cold start?)");
    }
    out.init_ms = figures->init_duration_ms;
    return {};
  };
}

// The emulator's cold start: spawn to first response. Started processes go to `started`.
SampleFn rieColdSample(const Rie& rie, const std::string& tag, std::vector<pid_t>& started) {
  return [&rie, tag, &started](int, size_t i, SampleOut& out) -> Status {
    const std::string name = tag + "-" + std::to_string(i);
    const auto t0 = SteadyClock::now();
    auto p = spawnRie(rie, name);
    if (!p) return tl::unexpected(std::move(p.error()));
    started[i] = p->pid;
    bool exited = false;
    auto conn = connectWhenListening(*p, exited);
    if (!conn) {
      if (exited) started[i] = -1;
      return tl::unexpected(std::move(conn.error()));
    }
    Reply reply;
    std::string problem = invokeOnce(
        **conn, invokeRequestBytes(p->endpoint, kRieFunctionName, kNoopPayload, false), reply);
    out.ms = elapsedUs(t0, SteadyClock::now()) / 1000;
    if (!problem.empty()) {
      return makeError(ErrorCode::Internal,
                       "RIE: " + problem + "; its log: " + rieLogReason(rieLogPath(rie, name)));
    }
    return {};
  };
}

// fork+exec+wait of a bare command; a non-zero exit is an error.
SampleFn floorSample(std::vector<std::string> argv) {
  return [argv = std::move(argv)](int, size_t, SampleOut& out) -> Status {
    const auto t0 = SteadyClock::now();
    auto pid = spawnProcess(argv, {}, "", "", false);
    if (!pid) return tl::unexpected(std::move(pid.error()));
    auto status = waitFor(*pid);
    out.ms = elapsedUs(t0, SteadyClock::now()) / 1000;
    if (!status) return tl::unexpected(std::move(status.error()));
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      return makeError(ErrorCode::Internal, argv[0] + " ended with wait status " +
                                                std::to_string(*status));
    }
    return {};
  };
}

json coldRowJson(const ColdRow& r) {
  json j = {{"label", r.label}, {"group", r.group}, {"clients", r.clients}};
  if (!r.skipped.empty()) {
    j["skipped"] = r.skipped;
    return j;
  }
  j.update({{"ok", r.ok},
            {"errors", r.errors},
            {"latency_ms", summaryJson(r.ms)},
            {"wall_s", r.wall_s},
            {"per_s", r.per_s}});
  if (r.init_ms.count > 0) j["init_duration_ms"] = summaryJson(r.init_ms);
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

void printColdRow(const ColdRow& r) {
  if (!r.skipped.empty()) {
    fmt::print("{:<34} {:>3}  skipped: {}\n", r.label, r.clients, r.skipped);
    return;
  }
  auto init = [&](double v) {
    return r.init_ms.count > 0 ? fmt::format("{:.2f}", v) : std::string("-");
  };
  fmt::print("{:<34} {:>3} {:>4} {:>4} {:>9.2f} {:>9.2f} {:>9.2f} {:>9} {:>9} {:>9.1f}\n",
             r.label, r.clients, r.ok, r.errors, r.ms.p50, r.ms.p99, r.ms.max,
             init(r.init_ms.p50), init(r.init_ms.p99), r.per_s);
  if (!r.first_error.empty()) fmt::print("{:<34} first error: {}\n", "", r.first_error);
}

// The floor rows a kindling runtime's cold start is compared with: the bare command, then the
// same interpreter started with the flags kindling's runtime uses (runtime_catalog.cc).
std::vector<std::string> floorsFor(const std::string& runtime) {
  if (runtime.rfind("provided", 0) == 0) return {"/bin/true"};
  if (runtime.rfind("python", 0) == 0) return {"python3 -c pass", "python3 -S -s -c pass"};
  if (runtime.rfind("nodejs", 0) == 0) return {"node -e 0"};
  if (runtime.rfind("ruby", 0) == 0) return {"ruby -e 0", "ruby --disable-gems -e 0"};
  if (runtime.rfind("java", 0) == 0) return {"java Hello", "java <kindling flags> Hello"};
  return {};
}

std::string coldKey(const std::string& label, int clients) {
  return label + "/" + std::to_string(clients);
}

bool runColdSection(const Options& opts, const std::string& run_id, Figures& figures,
                    json& report) {
  bool ok = true;
  std::vector<ColdRow> rows;
  fmt::print("\n== 2. Cold starts: times in ms; rate = cold starts / wall time of the row ==\n");
  fmt::print("{:<34} {:>3} {:>4} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "what", "cl",
             "ok", "err", "p50 ms", "p99 ms", "max ms", "init p50", "init p99", "starts/s");
  auto record = [&](ColdRow r) {
    printColdRow(r);
    if (r.skipped.empty()) {
      // The emulator's failures are its behaviour, shown in the row; ours or the floor's are not.
      if (r.ok == 0 || (r.group != "RIE" && r.errors > 0)) ok = false;
      figures.cold_ms[coldKey(r.label, r.clients)] = r.ms;
      figures.cold_per_s[coldKey(r.label, r.clients)] = r.per_s;
    }
    rows.push_back(std::move(r));
  };
  const std::vector<int> client_counts = {1, std::max(1, opts.cold_clients)};

  // kindling
  if (!opts.kindling.empty()) {
    auto endpoint = parseEndpoint(opts.kindling);
    if (!endpoint) {
      fmt::print(stderr, "kindling-platform-bench: cold: {}\n", endpoint.error().message());
      return false;
    }
    auto mgmt = Connection::open(*endpoint);
    std::vector<std::string> runtimes = {"provided.al2023"};
    runtimes.insert(runtimes.end(), opts.cold_runtimes.begin(), opts.cold_runtimes.end());
    for (const auto& runtime : runtimes) {
      const bool provided = runtime == "provided.al2023";
      // Python also gets the parallel row: its cold-start rate is issue 7's density figure.
      const bool rate = provided || runtime.rfind("python", 0) == 0;
      const std::string label = "kindling " + runtime;
      auto d = deployableFor(runtime, opts);
      for (int clients : rate ? client_counts : std::vector<int>{1}) {
        if (!d) {
          ColdRow skipped;
          skipped.label = label;
          skipped.clients = clients;
          skipped.skipped = d.error().message();
          record(std::move(skipped));
          continue;
        }
        const size_t count = provided || (rate && clients > 1) ? opts.cold_functions
                                                                : opts.runtime_samples;
        if (count == 0) continue;
        std::string tag;
        for (char ch : runtime) tag += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-';
        const std::string prefix =
            "kdp-cold-" + tag + "-" + std::to_string(clients) + "-" + run_id + "-";
        auto set = prepareKindlingCold(*endpoint, *d, opts.memory_mb, prefix, count, clients);
        if (!set) {
          ColdRow failed;
          failed.label = label;
          failed.clients = clients;
          failed.skipped = set.error().message();
          if (set.error().code != ErrorCode::InvalidRuntime) ok = false;
          record(std::move(failed));
          continue;
        }
        record(runColdRow(label, "kindling", clients, count, kindlingColdSample(*set)));
        if (mgmt) deleteFunctions(**mgmt, *endpoint, set->names);
      }
    }
  }

  // the emulator
  if (!opts.rie_bin.empty() && opts.cold_functions > 0) {
    const Rie rie{opts.rie_bin, opts.bootstrap, opts.work_dir, opts.memory_mb};
    for (int clients : client_counts) {
      std::vector<pid_t> started(opts.cold_functions, -1);
      record(runColdRow("RIE provided (spawn->answer)", "RIE", clients, opts.cold_functions,
                        rieColdSample(rie, "rie-cold-" + std::to_string(clients), started)));
      stopGroups(started);
    }
  }

  // the floor
  struct FloorCommand {
    std::string label;
    std::vector<std::string> argv;
    size_t samples;
    std::string missing;
  };
  std::vector<FloorCommand> floors;
  auto executable = [](const std::string& path) { return ::access(path.c_str(), X_OK) == 0; };
  auto add = [&](std::string label, std::vector<std::string> argv, size_t samples) {
    std::string missing = executable(argv[0]) ? "" : argv[0] + " not found";
    floors.push_back({std::move(label), std::move(argv), samples, std::move(missing)});
  };
  add("/bin/true", {"/bin/true"}, opts.floor_samples);
  add("python3 -c pass", {opts.python3, "-c", "pass"}, opts.floor_samples);
  add("python3 -S -s -c pass", {opts.python3, "-S", "-s", "-c", "pass"}, opts.floor_samples);
  add("node -e 0", {opts.node, "-e", "0"}, opts.floor_samples);
  add("ruby -e 0", {opts.ruby, "-e", "0"}, opts.floor_samples);
  add("ruby --disable-gems -e 0", {opts.ruby, "--disable-gems", "-e", "0"}, opts.floor_samples);
  add("java Hello", {opts.java, "-cp", opts.java_hello_dir, "Hello"}, opts.jvm_samples);
  // The flags kindling's Java runtime starts the JVM with (runtime_catalog.cc), heap as for
  // 1,769 MB.
  add("java <kindling flags> Hello",
      {opts.java, "-XX:MaxHeapSize=1539686k", "-XX:+UseSerialGC", "-XX:+TieredCompilation",
       "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:-UsePerfData", "-cp", opts.java_hello_dir,
       "Hello"},
      opts.jvm_samples);
  for (auto& f : floors) {
    if (f.samples == 0) continue;
    if (f.label.rfind("java", 0) == 0 && opts.java_hello_dir.empty()) {
      f.missing = "no --java-hello-dir (Hello.class)";
    }
    for (int clients : client_counts) {
      if (!f.missing.empty()) {
        ColdRow skipped;
        skipped.label = "floor " + f.label;
        skipped.clients = clients;
        skipped.skipped = f.missing;
        record(std::move(skipped));
        continue;
      }
      record(runColdRow("floor " + f.label, "floor", clients, f.samples, floorSample(f.argv)));
    }
  }
  fmt::print("(kindling: a fresh function per invoke, client latency, init = REPORT Init "
             "Duration; kindling runtimes other than provided use their hello example, 1 client; "
             "RIE: spawn of aws-lambda-rie to the first answer; floor: fork+exec+wait; with n "
             "samples, p99 is the largest below 100)\n");
  json out = json::array();
  for (const auto& r : rows) out.push_back(coldRowJson(r));
  report["cold"] = std::move(out);
  return ok;
}

// ---- section 3: memory ----

struct EnvMemory {
  std::string key;  // cgroup name, or "pid-<root>"
  uint64_t pss_kb = 0;
  uint64_t rss_kb = 0;
  std::optional<uint64_t> charged_kb;  // the cgroup's own usage
  size_t processes = 0;
  std::map<std::string, uint64_t> pss_kb_by_comm;  // which process costs what
};

struct EnvScan {
  std::string method;  // "cgroup v1 <dir>", "cgroup v2 <dir>", "process tree"
  std::vector<EnvMemory> envs;
  uint64_t spawner_pss_kb = 0;
  size_t stubs = 0;
};

std::vector<pid_t> readPids(const fs::path& procs) {
  std::vector<pid_t> pids;
  auto text = readSmall(procs.string());
  if (!text) return pids;
  const char* p = text->c_str();
  while (*p) {
    char* end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p) break;
    if (v > 0) pids.push_back(static_cast<pid_t>(v));
    p = end;
    while (*p == '\n') ++p;
  }
  return pids;
}

void addProcess(EnvMemory& env, pid_t pid) {
  const uint64_t pss = pssKb(pid).value_or(0);
  env.pss_kb += pss;
  env.pss_kb_by_comm[commOf(pid)] += pss;
  env.rss_kb += vmRssKb(pid).value_or(0);
  ++env.processes;
}

// Every environment of the daemon `daemon` (see the file comment for the method).
EnvScan scanEnvironments(pid_t daemon) {
  EnvScan scan;
  const auto parents = processParents();
  for (pid_t child : childrenOf(parents, daemon)) {
    if (commOf(child) == "kindling-spawn") scan.spawner_pss_kb += pssKb(child).value_or(0);
  }
  const std::string group = "kindling-" + std::to_string(daemon);
  struct Layout {
    fs::path dir;
    const char* method;
    const char* usage_file;
  };
  std::error_code ec;
  for (const Layout& layout : {Layout{fs::path("/sys/fs/cgroup/memory") / group, "cgroup v1",
                                      "memory.usage_in_bytes"},
                               Layout{fs::path("/sys/fs/cgroup") / group, "cgroup v2",
                                      "memory.current"}}) {
    if (!fs::is_directory(layout.dir, ec)) continue;
    scan.method = std::string(layout.method) + " " + layout.dir.string();
    for (const auto& entry : fs::directory_iterator(layout.dir, ec)) {
      if (!entry.is_directory(ec)) continue;
      const std::vector<pid_t> pids = readPids(entry.path() / "cgroup.procs");
      if (pids.empty()) continue;
      const bool stub = std::all_of(pids.begin(), pids.end(),
                                    [](pid_t p) { return commOf(p) == "kindling-spawn"; });
      if (stub) {
        ++scan.stubs;
        continue;
      }
      EnvMemory env;
      env.key = entry.path().filename().string();
      for (pid_t pid : pids) addProcess(env, pid);
      if (auto usage = readSmall((entry.path() / layout.usage_file).string())) {
        env.charged_kb = std::strtoull(usage->c_str(), nullptr, 10) / 1024;
      }
      scan.envs.push_back(std::move(env));
    }
    return scan;
  }
  // No cgroup of this daemon: its process tree (environments are its children, or its
  // spawner's).
  scan.method = "process tree";
  std::vector<pid_t> roots;
  for (pid_t child : childrenOf(parents, daemon)) {
    if (commOf(child) != "kindling-spawn") {
      roots.push_back(child);
      continue;
    }
    for (pid_t grandchild : childrenOf(parents, child)) {
      if (commOf(grandchild) == "kindling-spawn") {
        ++scan.stubs;
      } else {
        roots.push_back(grandchild);
      }
    }
  }
  for (pid_t root : roots) {
    EnvMemory env;
    env.key = "pid-" + std::to_string(root);
    for (pid_t pid : processTree(parents, root)) addProcess(env, pid);
    scan.envs.push_back(std::move(env));
  }
  return scan;
}

struct EnvStats {
  size_t count = 0;
  Summary pss_kb;
  Summary rss_kb;
  Summary charged_kb;
  double processes_mean = 0;
  std::map<std::string, double> pss_kb_mean_by_comm;  // summed over environments / count
};

EnvStats envStats(const std::vector<EnvMemory>& envs) {
  EnvStats s;
  s.count = envs.size();
  std::vector<double> pss, rss, charged;
  double processes = 0;
  for (const auto& e : envs) {
    pss.push_back(static_cast<double>(e.pss_kb));
    rss.push_back(static_cast<double>(e.rss_kb));
    if (e.charged_kb) charged.push_back(static_cast<double>(*e.charged_kb));
    processes += static_cast<double>(e.processes);
    for (const auto& [comm, kb] : e.pss_kb_by_comm) {
      s.pss_kb_mean_by_comm[comm] += static_cast<double>(kb) / static_cast<double>(envs.size());
    }
  }
  s.pss_kb = summarize(pss);
  s.rss_kb = summarize(rss);
  s.charged_kb = summarize(charged);
  s.processes_mean = envs.empty() ? 0 : processes / static_cast<double>(envs.size());
  return s;
}

json envStatsJson(const EnvStats& s) {
  return {{"environments", s.count},
          {"pss_kb", summaryJson(s.pss_kb)},
          {"rss_kb", summaryJson(s.rss_kb)},
          {"cgroup_charged_kb", summaryJson(s.charged_kb)},
          {"processes_per_environment", s.processes_mean},
          {"pss_kb_mean_by_process", s.pss_kb_mean_by_comm}};
}

double mib(double kb) { return kb / 1024; }

void printEnvRow(const std::string& label, const EnvStats& s) {
  fmt::print("{:<34} {:>5} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10}\n", label, s.count,
             mib(s.pss_kb.mean), mib(s.pss_kb.p50), mib(s.pss_kb.max), mib(s.rss_kb.mean),
             s.charged_kb.count > 0 ? fmt::format("{:.2f}", mib(s.charged_kb.mean))
                                    : std::string("-"));
  if (s.count == 0) return;
  std::string parts;
  for (const auto& [comm, kb] : s.pss_kb_mean_by_comm) {
    parts += fmt::format("{}{} {:.2f}", parts.empty() ? "" : ", ", comm, mib(kb));
  }
  fmt::print("  PSS by process (MiB, mean per environment; {:.1f} processes each): {}\n",
             s.processes_mean, parts);
}

// Invokes each function once (cold) with `clients` threads; the first error, if any.
Status invokeEachOnce(const Endpoint& endpoint, const std::vector<std::string>& names,
                      std::string_view payload, int clients, size_t& ok) {
  std::vector<std::string> requests;
  requests.reserve(names.size());
  for (const auto& n : names) requests.push_back(invokeRequestBytes(endpoint, n, payload, false));
  std::vector<std::unique_ptr<Connection>> conns;
  for (int t = 0; t < clients; ++t) {
    auto conn = Connection::open(endpoint);
    if (!conn) return tl::unexpected(std::move(conn.error()));
    conns.push_back(std::move(*conn));
  }
  ColdRow row = runColdRow("", "", clients, names.size(), [&](int t, size_t i, SampleOut&) {
    Reply reply;
    std::string problem = invokeOnce(*conns[t], requests[i], reply);
    if (!problem.empty()) return Status(makeError(ErrorCode::Internal, names[i] + ": " + problem));
    return Status{};
  });
  ok = row.ok;
  if (row.errors > 0) return makeError(ErrorCode::Internal, row.first_error);
  return {};
}

void settle(const Options& opts) {
  std::this_thread::sleep_for(std::chrono::duration<double>(opts.settle_s));
}

// Open descriptors of a process (entries of /proc/<pid>/fd); nullopt when it is gone.
std::optional<size_t> openFds(pid_t pid) {
  std::error_code ec;
  fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return std::nullopt;
  size_t n = 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    ++n;
  }
  return n;
}

// The soft RLIMIT_NOFILE of a process, from /proc/<pid>/limits.
std::optional<uint64_t> openFileLimit(pid_t pid) {
  auto text = readSmall("/proc/" + std::to_string(pid) + "/limits");
  if (!text) return std::nullopt;
  const size_t at = text->find("Max open files");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(text->c_str() + at + std::strlen("Max open files"), nullptr, 10);
}

// One reading of the daemon: VmRSS and open descriptors; nullopt once it is gone.
struct DaemonReading {
  uint64_t rss_kb = 0;
  size_t fds = 0;
};
std::optional<DaemonReading> readDaemon(pid_t pid) {
  auto rss = vmRssKb(pid);
  auto fds = openFds(pid);
  if (!rss || !fds || commOf(pid).empty()) return std::nullopt;
  return DaemonReading{*rss, *fds};
}

// The kindling half of section 3 (the memory daemon); false when a step failed.
bool kindlingMemory(const Options& opts, const std::string& run_id, Figures& figures, json& out) {
  auto endpoint = parseEndpoint(opts.memory_kindling);
  const pid_t daemon = static_cast<pid_t>(opts.memory_daemon_pid);
  const auto r0 = daemon > 0 ? readDaemon(daemon) : std::nullopt;
  if (!endpoint || !r0) {
    fmt::print(stderr, "kindling-platform-bench: memory: needs --memory-kindling and the live "
                       "--memory-daemon-pid\n");
    return false;
  }
  auto d = deployableFor("provided.al2023", opts);
  if (!d) {
    fmt::print(stderr, "kindling-platform-bench: memory: {}\n", d.error().message());
    return false;
  }
  auto gone = [&](const char* when) {
    fmt::print("kindling daemon (pid {}) is gone {} (see its log below)\n", daemon, when);
    out["kindling"] = {{"error", std::string("daemon gone ") + when}};
    return false;
  };
  const auto names = functionNames("kdp-mem-" + run_id + "-", opts.memory_functions);
  const size_t n = names.size();
  const auto t0 = SteadyClock::now();
  Status st = createFunctions(*endpoint, *d, 128, names, 4);
  const double deploy_s = elapsedUs(t0, SteadyClock::now()) / 1e6;
  if (!st) {
    fmt::print("kindling no-op set: deploy: {}\n", st.error().message());
    if (!readDaemon(daemon)) return gone("while deploying");
    return false;
  }
  const auto r1 = readDaemon(daemon);
  if (!r1) return gone("after deploying");
  size_t invoked = 0;
  const auto t1 = SteadyClock::now();
  st = invokeEachOnce(*endpoint, names, kNoopPayload, opts.memory_clients, invoked);
  const double invoke_s = elapsedUs(t1, SteadyClock::now()) / 1e6;
  bool ok = true;
  if (!st) {
    fmt::print("kindling no-op set: invoke: {}\n", st.error().message());
    ok = false;
  }
  settle(opts);
  const auto r2 = readDaemon(daemon);
  if (!r2) return gone(fmt::format("after {} invokes", invoked).c_str());
  EnvScan noop = scanEnvironments(daemon);
  const EnvStats noop_stats = envStats(noop.envs);
  fmt::print("kindling daemon (pid {}): VmRSS {:.1f} MiB, {} fds at start; {:.1f} MiB, {} fds "
             "with {} functions deployed ({:.1f} s); {:.1f} MiB, {} fds with one idle environment "
             "each ({} invoked in {:.1f} s)\n",
             daemon, mib(r0->rss_kb), r0->fds, mib(r1->rss_kb), r1->fds, n, deploy_s,
             mib(r2->rss_kb), r2->fds, invoked, invoke_s);
  const double per_fn_kb =
      n ? (static_cast<double>(r1->rss_kb) - static_cast<double>(r0->rss_kb)) / n : 0;
  const double per_env_kb =
      invoked ? (static_cast<double>(r2->rss_kb) - static_cast<double>(r1->rss_kb)) / invoked : 0;
  const double fds_per_env =
      invoked ? (static_cast<double>(r2->fds) - static_cast<double>(r1->fds)) / invoked : 0;
  fmt::print("  daemon per deployed function: {:.1f} KiB RSS; per idle environment: {:.1f} KiB "
             "RSS, {:.1f} fds\n",
             per_fn_kb, per_env_kb, fds_per_env);
  fmt::print("  spawner PSS {:.2f} MiB; unused stubs {}; environments found by {}\n",
             mib(static_cast<double>(noop.spawner_pss_kb)), noop.stubs, noop.method);
  if (auto limit = openFileLimit(daemon); limit && fds_per_env > 0) {
    fmt::print("  the daemon's open-file limit {} holds about {:.0f} idle environments at this "
               "rate\n",
               *limit, static_cast<double>(*limit - std::min<uint64_t>(*limit, r1->fds)) /
                           fds_per_env);
  }
  figures.memory_kb["daemon_rss"] = static_cast<double>(r2->rss_kb);
  figures.memory_kb["daemon_rss_per_env"] = per_env_kb;
  out["kindling"] = {{"daemon_pid", daemon},
                     {"functions", n},
                     {"invoked", invoked},
                     {"deploy_s", deploy_s},
                     {"invoke_s", invoke_s},
                     {"daemon_rss_kb_start", r0->rss_kb},
                     {"daemon_rss_kb_deployed", r1->rss_kb},
                     {"daemon_rss_kb_idle_envs", r2->rss_kb},
                     {"daemon_fds_start", r0->fds},
                     {"daemon_fds_deployed", r1->fds},
                     {"daemon_fds_idle_envs", r2->fds},
                     {"daemon_rss_kb_per_function", per_fn_kb},
                     {"daemon_rss_kb_per_idle_env", per_env_kb},
                     {"daemon_fds_per_idle_env", fds_per_env},
                     {"spawner_pss_kb", noop.spawner_pss_kb},
                     {"method", noop.method},
                     {"noop", envStatsJson(noop_stats)}};
  fmt::print("{:<34} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "per idle environment", "n",
             "PSS mean", "PSS p50", "PSS max", "RSS mean", "cgroup mean");
  fmt::print("{:<34} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "", "", "MiB", "MiB", "MiB", "MiB",
             "MiB");
  printEnvRow("kindling provided.al2023 noop", noop_stats);
  if (noop_stats.count < invoked) {
    fmt::print("  note: {} environments found for {} invoked functions (evicted or exited?)\n",
               noop_stats.count, invoked);
  }
  figures.memory_kb["env_pss"] = noop_stats.pss_kb.mean;
  figures.memory_kb["env_rss"] = noop_stats.rss_kb.mean;
  if (opts.memory_python_functions == 0) return ok;

  // The python set: on the sections 1-2 daemon when given (empty by now), so the no-op set's
  // environments do not take the descriptors the python ones need (see fds per environment).
  auto py_endpoint = *endpoint;
  pid_t py_daemon = daemon;
  if (!opts.kindling.empty() && opts.kindling_daemon_pid > 0) {
    if (auto e = parseEndpoint(opts.kindling)) {
      py_endpoint = *e;
      py_daemon = static_cast<pid_t>(opts.kindling_daemon_pid);
    }
  }
  std::set<std::string> before;
  for (const auto& e : scanEnvironments(py_daemon).envs) before.insert(e.key);
  auto py = deployableFor(opts.memory_python_runtime, opts);
  const auto py_names = functionNames("kdp-mempy-" + run_id + "-", opts.memory_python_functions);
  Status pst = py ? createFunctions(py_endpoint, *py, 128, py_names, 4)
                  : Status(tl::unexpected(py.error()));
  size_t py_invoked = 0;
  if (pst) pst = invokeEachOnce(py_endpoint, py_names, py->payload, opts.memory_clients, py_invoked);
  settle(opts);
  if (!readDaemon(py_daemon)) {
    if (!pst) fmt::print("  python set: {}\n", pst.error().message());
    return gone(fmt::format("after {} python invokes", py_invoked).c_str());
  }
  EnvScan all = scanEnvironments(py_daemon);
  std::vector<EnvMemory> fresh;
  for (auto& e : all.envs) {
    if (!before.count(e.key)) fresh.push_back(std::move(e));
  }
  const EnvStats py_stats = envStats(fresh);
  const std::string py_label = "kindling " + opts.memory_python_runtime + " hello";
  printEnvRow(py_daemon == daemon ? py_label : py_label + " (daemon 1)",
              py_stats);
  if (!pst) {
    fmt::print("  python set: {}\n", pst.error().message());
    ok = false;
  }
  if (py_daemon != daemon) {
    fmt::print("  (the python set ran on the sections 1-2 daemon, pid {})\n", py_daemon);
    if (auto conn = Connection::open(py_endpoint)) deleteFunctions(**conn, py_endpoint, py_names);
  }
  figures.memory_kb["python_env_pss"] = py_stats.pss_kb.mean;
  out["kindling"]["python"] = envStatsJson(py_stats);
  out["kindling"]["python"]["invoked"] = py_invoked;
  out["kindling"]["python"]["daemon_pid"] = py_daemon;
  return ok;
}

bool runMemorySection(const Options& opts, const std::string& run_id, Figures& figures,
                      json& report) {
  bool ok = true;
  json out = json::object();
  fmt::print("\n== 3. Memory: idle environments (settled {:.1f} s after their invoke) ==\n",
             opts.settle_s);
  if (!opts.memory_kindling.empty() && !kindlingMemory(opts, run_id, figures, out)) ok = false;

  if (!opts.rie_bin.empty()) {
    const Rie rie{opts.rie_bin, opts.bootstrap, opts.work_dir, 128};
    auto p = spawnRie(rie, "rie-memory");
    std::string problem;
    if (!p) {
      problem = p.error().message();
    } else {
      bool exited = false;
      auto conn = connectWhenListening(*p, exited);
      if (!conn) {
        problem = conn.error().message();
        if (exited) p->pid = -1;
      } else {
        Reply reply;
        problem = invokeOnce(
            **conn, invokeRequestBytes(p->endpoint, kRieFunctionName, kNoopPayload, false), reply);
      }
    }
    if (problem.empty()) {
      settle(opts);
      const auto parents = processParents();
      const auto tree = processTree(parents, p->pid);
      uint64_t rie_pss = pssKb(p->pid).value_or(0), rie_rss = vmRssKb(p->pid).value_or(0);
      uint64_t runtime_pss = 0, runtime_rss = 0;
      for (size_t i = 1; i < tree.size(); ++i) {
        runtime_pss += pssKb(tree[i]).value_or(0);
        runtime_rss += vmRssKb(tree[i]).value_or(0);
      }
      fmt::print("{:<34} {:>5} {:>9.2f} {:>9} {:>9} {:>9.2f} {:>10}\n",
                 "RIE process + runtime (idle)", 1, mib(static_cast<double>(rie_pss + runtime_pss)),
                 "-", "-", mib(static_cast<double>(rie_rss + runtime_rss)), "-");
      fmt::print("  of which aws-lambda-rie PSS {:.2f} MiB, its runtime process(es) ({}) PSS "
                 "{:.2f} MiB\n",
                 mib(static_cast<double>(rie_pss)), tree.size() - 1,
                 mib(static_cast<double>(runtime_pss)));
      figures.memory_kb["rie_pss"] = static_cast<double>(rie_pss + runtime_pss);
      figures.memory_kb["rie_rss"] = static_cast<double>(rie_rss + runtime_rss);
      figures.memory_kb["rie_runtime_pss"] = static_cast<double>(runtime_pss);
      out["rie"] = {{"rie_pss_kb", rie_pss},
                    {"rie_rss_kb", rie_rss},
                    {"runtime_pss_kb", runtime_pss},
                    {"runtime_rss_kb", runtime_rss},
                    {"runtime_processes", tree.size() - 1}};
    } else {
      fmt::print("RIE: {}\n", problem);
      out["rie"] = {{"error", problem}};
      ok = false;
    }
    if (p && p->pid > 0) stopGroups({p->pid});
  }
  fmt::print("(PSS: shared pages divided among the processes sharing them, so N environments of "
             "one binary sum to their real cost; RSS: each as if alone; cgroup: the group's own "
             "memory charge, page cache included)\n");
  report["memory"] = std::move(out);
  return ok;
}

// ---- ratios ----

struct RatioRow {
  std::string what;
  std::string peer;
  double kindling = 0;
  double peer_value = 0;
  std::string unit;
  bool higher_is_better = false;
};

void printRatios(const Figures& f, json& report) {
  std::vector<RatioRow> rows;
  auto warm = [&](const std::string& side, int c) -> const WarmRow* {
    auto it = f.warm.find(warmKey(side, c));
    return it == f.warm.end() ? nullptr : &it->second;
  };
  std::set<int> clients;
  for (const auto& [key, row] : f.warm) clients.insert(row.clients);
  for (int c : clients) {
    const WarmRow* k = warm("kindling", c);
    if (!k || k->ok == 0) continue;
    for (const char* peer : {"RIE", "nginx"}) {
      const WarmRow* p = warm(peer, c);
      if (!p) continue;
      const std::string tag = fmt::format("warm {} cl ", c);
      if (p->ok == 0) {  // no success to compare with: say so instead of leaving a gap
        rows.push_back({tag + "ok/s", std::string(peer) + " (0 ok)", k->ok_per_s, 0, "1/s", true});
        continue;
      }
      rows.push_back({tag + "p50", peer, k->latency_us.p50, p->latency_us.p50, "us", false});
      rows.push_back({tag + "p99", peer, k->latency_us.p99, p->latency_us.p99, "us", false});
      rows.push_back({tag + "p999", peer, k->latency_us.p999, p->latency_us.p999, "us", false});
      rows.push_back({tag + "ok/s", peer, k->ok_per_s, p->ok_per_s, "1/s", true});
    }
  }
  auto cold = [&](const std::string& label, int c) -> std::optional<std::pair<Summary, double>> {
    auto it = f.cold_ms.find(coldKey(label, c));
    if (it == f.cold_ms.end() || it->second.count == 0) return std::nullopt;
    return std::make_pair(it->second, f.cold_per_s.at(coldKey(label, c)));
  };
  std::set<int> cold_clients;
  for (const auto& [key, s] : f.cold_ms) {
    cold_clients.insert(std::atoi(key.c_str() + key.rfind('/') + 1));
  }
  for (int c : cold_clients) {
    auto k = cold("kindling provided.al2023", c);
    if (!k) continue;
    for (const std::string peer : {"RIE provided (spawn->answer)", "floor /bin/true"}) {
      auto p = cold(peer, c);
      if (!p) continue;
      const std::string short_peer = peer.rfind("RIE", 0) == 0 ? "RIE cold" : "exec /bin/true";
      const std::string tag = fmt::format("cold provided {} cl ", c);
      rows.push_back({tag + "p50", short_peer, k->first.p50, p->first.p50, "ms", false});
      rows.push_back({tag + "starts/s", short_peer, k->second, p->second, "1/s", true});
    }
  }
  for (const auto& [key, s] : f.cold_ms) {
    if (key.rfind("kindling ", 0) != 0 || key.rfind("kindling provided", 0) == 0) continue;
    const std::string runtime = key.substr(9, key.rfind('/') - 9);
    for (const auto& floor : floorsFor(runtime)) {
      auto p = cold("floor " + floor, 1);
      if (!p || s.count == 0) continue;
      rows.push_back({"cold " + runtime + " 1 cl p50", floor, s.p50, p->first.p50, "ms", false});
    }
  }
  auto mem = [&](const char* key) -> std::optional<double> {
    auto it = f.memory_kb.find(key);
    return it == f.memory_kb.end() ? std::nullopt : std::optional<double>(it->second);
  };
  if (auto k = mem("env_pss"), r = mem("rie_pss"); k && r && *r > 0) {
    rows.push_back({"idle env PSS", "RIE+runtime PSS", mib(*k), mib(*r), "MiB", false});
    if (auto d = mem("daemon_rss_per_env")) {
      rows.push_back({"idle env PSS + daemon RSS/env", "RIE+runtime PSS", mib(*k + *d), mib(*r),
                      "MiB", false});
    }
  }
  if (auto k = mem("env_rss"), r = mem("rie_rss"); k && r && *r > 0) {
    rows.push_back({"idle env RSS", "RIE+runtime RSS", mib(*k), mib(*r), "MiB", false});
  }
  if (auto k = mem("env_pss"), r = mem("rie_runtime_pss"); k && r && *r > 0) {
    rows.push_back({"idle env PSS", "RIE's runtime PSS", mib(*k), mib(*r), "MiB", false});
  }

  fmt::print("\n== Ratios: kindling / peer (same run, same host) ==\n");
  fmt::print("{:<32} {:<28} {:>10} {:>10} {:>5} {:>7}  {}\n", "metric", "peer", "kindling",
             "peer", "unit", "ratio", "better");
  json out = json::array();
  for (const auto& r : rows) {
    const bool defined = r.peer_value > 0;
    const double ratio = defined ? r.kindling / r.peer_value : 0;
    fmt::print("{:<32} {:<28} {:>10.2f} {:>10.2f} {:>5} {:>7}  {}\n", r.what, r.peer, r.kindling,
               r.peer_value, r.unit, defined ? fmt::format("{:.3f}", ratio) : std::string("n/a"),
               r.higher_is_better ? "higher" : "lower");
    json row = {{"metric", r.what},
                {"peer", r.peer},
                {"kindling", r.kindling},
                {"peer_value", r.peer_value},
                {"unit", r.unit},
                {"better", r.higher_is_better ? "higher" : "lower"}};
    row["ratio"] = defined ? json(ratio) : json(nullptr);
    out.push_back(std::move(row));
  }
  report["ratios"] = std::move(out);
}

int run(Options opts) {
  const std::string run_id = randomHex32().substr(0, 8);
  std::string made_work_dir;
  if (opts.work_dir.empty()) {
    char tmpl[] = "/tmp/kindling-platform-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      fmt::print(stderr, "kindling-platform-bench: mkdtemp: {}\n", std::strerror(errno));
      return 1;
    }
    opts.work_dir = made_work_dir = tmpl;
  }
  std::error_code ec;
  // Absolute: the emulator is started in the function's directory.
  if (!opts.bootstrap.empty()) opts.bootstrap = fs::absolute(opts.bootstrap, ec).string();
  if (!opts.rie_bin.empty()) opts.rie_bin = fs::absolute(opts.rie_bin, ec).string();
  // A dead emulator's connection must not kill the benchmark.
  ::signal(SIGPIPE, SIG_IGN);

  fmt::print("kindling-platform-bench  run={}  host cores={}\n", run_id,
             std::thread::hardware_concurrency());
  fmt::print("kindling={}  memory-daemon={}  rie={}  nginx={}\n",
             opts.kindling.empty() ? "-" : opts.kindling,
             opts.memory_kindling.empty() ? "-" : opts.memory_kindling,
             opts.rie_bin.empty() ? "-" : opts.rie_bin, opts.nginx.empty() ? "-" : opts.nginx);
  fmt::print("(client, daemons and peers share this host's cores: compare the ratios, not the "
             "absolute figures)\n");
  json report = {{"run", run_id}, {"host_cores", std::thread::hardware_concurrency()}};
  Figures figures;
  int exit_code = 0;
  if (wants(opts, "warm") && !runWarmSection(opts, run_id, figures, report)) exit_code = 1;
  if (wants(opts, "cold") && !runColdSection(opts, run_id, figures, report)) exit_code = 1;
  if (wants(opts, "memory") && !runMemorySection(opts, run_id, figures, report)) exit_code = 1;
  printRatios(figures, report);
  if (!opts.json_out.empty()) {
    std::ofstream out(opts.json_out);
    out << report.dump(2) << "\n";
    if (!out) {
      fmt::print(stderr, "kindling-platform-bench: cannot write {}\n", opts.json_out);
      exit_code = 1;
    }
  }
  if (!made_work_dir.empty()) fs::remove_all(made_work_dir, ec);
  return exit_code;
}

}  // namespace
}  // namespace kindling::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured, even in a pipe
  kindling::bench::Options opts;
  CLI::App app{"kindling-platform-bench: kindling side by side with AWS's runtime interface "
               "emulator, nginx and bare runtime starts (see scripts/bench-platform.sh)"};
  auto scalar = [&](const char* name, auto& value, const char* help) {
    return app.add_option(name, value, help)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  };
  app.add_option("--sections", opts.sections, "warm,cold,memory (default: all)")->delimiter(',');
  scalar("--kindling", opts.kindling, "daemon AWS API for sections warm and cold, http://HOST:PORT");
  scalar("--kindling-daemon-pid", opts.kindling_daemon_pid,
         "pid of the --kindling daemon (the memory section's python set then runs there)");
  scalar("--memory-kindling", opts.memory_kindling, "a fresh daemon for the memory section");
  scalar("--memory-daemon-pid", opts.memory_daemon_pid, "pid of the --memory-kindling daemon");
  scalar("--rie", opts.rie_bin, "aws-lambda-rie binary (empty: no emulator rows)");
  scalar("--bootstrap", opts.bootstrap, "the test payload binary (the no-op function)")
      ->required();
  scalar("--nginx", opts.nginx, "nginx answering 200 on http://HOST:PORT (empty: no rows)");
  scalar("--work-dir", opts.work_dir, "directory for the emulators' logs (default: a temp dir)");
  scalar("--examples-dir", opts.examples_dir, "examples/ of the repository");
  scalar("--built-examples-dir", opts.built_examples_dir, "built examples (java/hello.zip)");
  app.add_option("--clients", opts.clients, "warm rows' client counts (default 1,8,64)")
      ->delimiter(',');
  scalar("--warm-s", opts.warm_s, "measured seconds per warm row");
  scalar("--warmup-s", opts.warmup_s, "warm-up seconds per warm row");
  scalar("--memory", opts.memory_mb, "MemorySize of the warm and provided cold functions");
  scalar("--cold-clients", opts.cold_clients, "concurrent clients of the parallel cold rows");
  scalar("--cold-functions", opts.cold_functions,
         "cold starts per kindling provided row and per RIE row");
  scalar("--runtime-samples", opts.runtime_samples, "cold starts per other kindling runtime");
  app.add_option("--cold-runtimes", opts.cold_runtimes,
                 "kindling runtimes besides provided.al2023 in the cold rows")
      ->delimiter(',');
  scalar("--floor-samples", opts.floor_samples, "samples per floor command row");
  scalar("--jvm-samples", opts.jvm_samples, "samples per JVM floor row");
  scalar("--python3", opts.python3, "python3 of the floor");
  scalar("--node", opts.node, "node of the floor");
  scalar("--ruby", opts.ruby, "ruby of the floor");
  scalar("--java", opts.java, "java of the floor");
  scalar("--java-hello-dir", opts.java_hello_dir, "directory holding Hello.class");
  scalar("--memory-functions", opts.memory_functions, "no-op functions of the memory section");
  scalar("--memory-python-functions", opts.memory_python_functions,
         "python hello functions of the memory section (0 = none)");
  scalar("--memory-python-runtime", opts.memory_python_runtime,
         "runtime of those functions (python3.11, python3.12, ...)");
  scalar("--memory-clients", opts.memory_clients, "clients invoking the memory section's sets");
  scalar("--settle-s", opts.settle_s, "seconds between the last invoke and a memory reading");
  scalar("--json-out", opts.json_out, "also write every figure as JSON to this file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return kindling::bench::run(std::move(opts));
  } catch (const std::exception& e) {  // bad_alloc, thread creation: nothing else throws
    std::fprintf(stderr, "kindling-platform-bench: %s\n", e.what());
    return 1;
  }
}
