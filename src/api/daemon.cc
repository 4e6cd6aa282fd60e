#include "api/daemon.h"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include "api/api_service.h"
#include "async/async_service.h"
#include "http/server.h"
#include "observe/log_store.h"
#include "observe/metrics.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "spawner/linux_sandbox.h"
#include "scheduler/engine.h"
#include "scheduler/runtime_catalog.h"
#include "scheduler/timers.h"
#include "store/code_store.h"
#include "store/layer_store.h"
#include "scheduler/concurrency.h"
#include "store/registry.h"
#include "sys/process.h"
#include "sys/sock_diag.h"
#include "sandbox/privileges.h"

namespace kindling::api {

namespace fs = std::filesystem;

fs::path defaultDataDir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return fs::path(xdg) / "kindling";
  if (const char* home = std::getenv("HOME"); home && *home) {
    return fs::path(home) / ".local" / "share" / "kindling";
  }
  return fs::path("/var/lib/kindling");
}

namespace {

// A file built next to the running kindling binary (libkindling_zygote.so,
// kindling-java-zygote); empty when /proc/self/exe cannot be read.
fs::path besideBinary(std::string_view name) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path() / name;
}

}  // namespace

Result<fs::path> findRepoRoot() {
  if (const char* home = std::getenv("KINDLING_HOME"); home && *home) {
    if (fs::is_directory(fs::path(home) / "runtimes")) return fs::path(home);
    return makeError(ErrorCode::InvalidArgument,
                     std::string("KINDLING_HOME=") + home + " has no runtimes/ directory");
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path()) {
    // The repository, not the build tree inside it (which has runtimes/ and src/ output dirs).
    if (fs::is_directory(dir / "runtimes", ec) && fs::is_regular_file(dir / "CMakeLists.txt", ec)) {
      return dir;
    }
  }
  return makeError(ErrorCode::NotFound,
                   "cannot find kindling's runtimes/ directory; set KINDLING_HOME to the "
                   "repository root");
}

namespace {

// Parent groups "kindling-<pid>" of daemons that are gone (killed, crashed): their
// environments' groups and the parents themselves are removed.
void removeStaleCgroupParents() {
  auto layout = sandbox::detectCgroupLayout(sandbox::CgroupRoots{});
  if (!layout) return;
  std::set<std::string> stale;
  for (const auto& root : {layout->unified, layout->memory, layout->cpu, layout->freezer,
                           layout->pids}) {
    std::error_code ec;
    if (root.empty() || !fs::is_directory(root, ec)) continue;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("kindling-", 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + 9, nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.insert(name);
    }
  }
  for (const auto& name : stale) {
    // open() removes the groups left below the parent; destroying the manager removes it.
    auto manager = sandbox::CgroupManager::open(sandbox::CgroupRoots{}, name);
    if (manager) spdlog::info("cgroup: removed {} left by a daemon that is gone", name);
  }
}

// "process": plain child processes (no isolation); "linux": the spawner + cgroups + seccomp
// (needs root); "auto": linux when running as root, else process.
Result<std::unique_ptr<sandbox::Sandbox>> makeSandbox(const std::string& mode,
                                                      const fs::path& data_dir, bool fast_start) {
  if (mode != "process" && mode != "linux" && mode != "auto") {
    return makeError(ErrorCode::InvalidArgument,
                     "sandbox mode must be auto, linux or process, got '" + mode + "'");
  }
  if (mode == "process" || (mode == "auto" && ::geteuid() != 0)) {
    spdlog::warn("sandbox: plain processes (no isolation, no resource limits)");
    return std::unique_ptr<sandbox::Sandbox>(std::make_unique<sandbox::ProcessSandbox>());
  }
  auto spawner = spawner::SpawnerClient::launch();
  if (!spawner) return tl::unexpected(std::move(spawner.error()).wrap("spawner"));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  removeStaleCgroupParents();
  auto cgroups = sandbox::CgroupManager::open(sandbox::CgroupRoots{},
                                              "kindling-" + std::to_string(::getpid()));
  std::unique_ptr<sandbox::CgroupManager> manager;
  if (cgroups) {
    manager = std::move(*cgroups);
    spdlog::info("sandbox: spawner pid {}, cgroup {} (memory, cpu, pids), seccomp, no capabilities",
                 (*spawner)->spawnerPid(), manager->isV2() ? "v2" : "v1");
  } else {
    spdlog::warn("sandbox: no usable cgroups ({}); memory/CPU/pids limits are not enforced",
                 cgroups.error().message());
  }
  spawner::LinuxSandboxOptions sandbox_options;
  sandbox_options.work_dir = data_dir / "sandbox";
  if (const char* isolate = std::getenv("KINDLING_ISOLATE"); isolate && std::string(isolate) == "0") {
    sandbox_options.isolate = false;
  }
  if (fast_start) {
    std::error_code ec;
    sandbox_options.zygote_library = besideBinary("libkindling_zygote.so");
    sandbox_options.fast_start = !sandbox_options.zygote_library.empty() &&
                                 fs::is_regular_file(sandbox_options.zygote_library, ec);
    if (sandbox_options.fast_start) {
      spdlog::info("fast start: on (zygotes load {})", sandbox_options.zygote_library.string());
    } else {
      spdlog::warn("fast start: off: {} not found", sandbox_options.zygote_library.string());
    }
  }
  return std::unique_ptr<sandbox::Sandbox>(std::make_unique<spawner::LinuxSandbox>(
      std::move(*spawner), std::move(manager), cores, sandbox_options));
}

}  // namespace

struct Daemon::Impl {
  DaemonOptions options;
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  boost::asio::thread_pool blocking{2};
  SystemClock clock;
  std::unique_ptr<scheduler::AsioTimers> timers;
  std::unique_ptr<store::Registry> registry;
  std::unique_ptr<store::CodeStore> code;
  std::unique_ptr<store::LayerStore> layers;  // uses *code: declared after it
  std::unique_ptr<observe::LogStore> logs;
  observe::MetricsRegistry metrics;
  scheduler::RuntimeCatalog catalog;
  std::unique_ptr<sandbox::Sandbox> sandbox;  // destroyed after the engine
  std::unique_ptr<scheduler::Engine> engine;
  std::unique_ptr<scheduler::ConcurrencyLimiter> limiter;
  std::unique_ptr<async::EventQueue> events;   // registry.db, own connection
  std::unique_ptr<async::QueueStore> queues;   // registry.db, own connection
  std::unique_ptr<async::AsyncService> async_service;  // uses events, queues, (started) api
  std::unique_ptr<ApiService> api;
  std::shared_ptr<http::Server> server;
  bool stopped = false;

  ~Impl() { stopAll(); }

  void stopAll() {
    if (stopped) return;
    stopped = true;
    if (server) server->stop();
    // Async deliveries in flight finish (bounded) and are recorded before the engine stops.
    if (async_service) async_service->stop();
    // Let invocations in flight finish, bounded by a grace period.
    for (int i = 0; api && api->inFlight() > 0 && i < 100; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (engine) engine->shutdown();
    // Give process-exit watchers a moment to reap what was killed.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    work.reset();
    io.stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    blocking.join();
    engine.reset();  // destroys environments; their processes are killed and reaped
  }
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { stop(); }

uint16_t Daemon::port() const { return impl_->server->port(); }
std::string Daemon::endpoint() const {
  return "http://" + impl_->options.host + ":" + std::to_string(port());
}
void Daemon::stop() { impl_->stopAll(); }

Result<std::unique_ptr<Daemon>> Daemon::start(DaemonOptions options) {
  // Every environment holds a few of the daemon's fds: raise the soft limit to the hard one and
  // size the environment cap from it (scheduler::maxEnvironmentsForFileLimit).
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const rlim_t soft_before = nofile.rlim_cur;
  if (auto limit = sys::raiseFileLimit(); !limit) {
    spdlog::warn("{}", limit.error().message());
  }
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  spdlog::info("open-file limit (RLIMIT_NOFILE): soft {} (was {}), hard {}", nofile.rlim_cur,
               soft_before, nofile.rlim_max);
  // The spawner must be forked while this process is still single-threaded: before Impl
  // (whose blocking pool starts threads) and before any I/O thread.
  if (options.data_dir.empty()) options.data_dir = defaultDataDir();
  auto sandbox = makeSandbox(options.sandbox, options.data_dir, options.fast_start);
  if (!sandbox) return tl::unexpected(std::move(sandbox.error()));
  auto impl = std::make_unique<Impl>();
  impl->sandbox = std::move(*sandbox);
  if (options.data_dir.empty()) options.data_dir = defaultDataDir();
  if (options.runtimes_dir.empty()) {
    auto root = findRepoRoot();
    if (!root) return tl::unexpected(std::move(root.error()));
    options.runtimes_dir = *root / "runtimes";
  }
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) return tl::unexpected(Error{ErrorCode::Io, ec.value(), "mkdir(" + options.data_dir.string() + ")"});

  auto registry = store::Registry::open(options.data_dir / "registry.db");
  if (!registry) return tl::unexpected(std::move(registry.error()).wrap("registry"));
  impl->registry = std::move(*registry);
  auto code = store::CodeStore::open(options.data_dir / "code");
  if (!code) return tl::unexpected(std::move(code.error()).wrap("code store"));
  impl->code = std::move(*code);
  auto layers = store::LayerStore::open(options.data_dir / "registry.db", *impl->code,
                                       options.data_dir / "opt");
  if (!layers) return tl::unexpected(std::move(layers.error()).wrap("layer store"));
  impl->layers = std::move(*layers);
  impl->logs = std::make_unique<observe::LogStore>(options.data_dir / "logs",
                                                   options.max_log_stream_bytes,
                                                   options.max_log_streams_per_function);
  scheduler::RuntimeCatalog::Paths paths;
  paths.runtimes_dir = options.runtimes_dir;
  if (const fs::path zygote = besideBinary("kindling-java-zygote");
      !zygote.empty() && ::access(zygote.c_str(), X_OK) == 0) {
    paths.java_zygote = zygote;
  }
  impl->catalog = scheduler::RuntimeCatalog::discover(paths);
  for (const auto& rt : impl->catalog.available()) {
    spdlog::debug("runtime {} -> {}", rt.id, rt.interpreter.empty() ? "bootstrap" : rt.interpreter.string());
  }
  impl->timers = std::make_unique<scheduler::AsioTimers>(impl->io);
  scheduler::EngineOptions engine_options;
  engine_options.keep_alive = std::chrono::seconds(options.keep_alive_s);
  engine_options.environment.freeze_after = std::chrono::milliseconds(options.freeze_after_ms);
  engine_options.region = options.region;
  engine_options.memory_budget_mb = options.memory_budget_mb;
  engine_options.fast_start = options.fast_start;
  engine_options.java_cache_dir = options.data_dir / "java-cache";
  engine_options.node_snapshot_dir = options.data_dir / "node-snapshots";
  if (engine_options.memory_budget_mb < 0) {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    engine_options.memory_budget_mb =
        pages > 0 && page > 0 ? (int64_t{pages} * page >> 20) * 8 / 10 : 0;
  }
  spdlog::info("memory budget for environments: {} MB", engine_options.memory_budget_mb);
  engine_options.max_environments = scheduler::maxEnvironmentsForFileLimit(
      nofile.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 20 : uint64_t{nofile.rlim_cur});
  spdlog::info("environment cap: {} (RLIMIT_NOFILE {}, {} fds budgeted per environment)",
               engine_options.max_environments, nofile.rlim_cur, scheduler::kFdsPerEnvironment);
  impl->engine = std::make_unique<scheduler::Engine>(impl->io, *impl->sandbox, *impl->logs,
                                                     impl->metrics, impl->catalog, impl->clock,
                                                     *impl->timers, engine_options);
  impl->limiter = std::make_unique<scheduler::ConcurrencyLimiter>(scheduler::ConcurrencyOptions{
      options.account_concurrency, options.min_unreserved_concurrency});
  ApiDeps deps{*impl->registry, *impl->code, *impl->logs, impl->metrics, impl->catalog,
               *impl->engine, impl->blocking, *impl->limiter};
  deps.default_region = options.region;
  deps.layers = impl->layers.get();
  auto events = async::EventQueue::open(options.data_dir / "registry.db");
  if (!events) return tl::unexpected(std::move(events.error()));
  impl->events = std::move(*events);
  auto queues = async::QueueStore::open(options.data_dir / "registry.db", impl->clock);
  if (!queues) return tl::unexpected(std::move(queues.error()));
  impl->queues = std::move(*queues);
  async::AsyncOptions async_options;
  async_options.retry_delay = std::chrono::milliseconds(std::max(1, options.async_retry_delay_ms));
  async_options.max_in_flight = static_cast<size_t>(std::max(1, options.async_max_in_flight));
  impl->async_service = std::make_unique<async::AsyncService>(*impl->events, *impl->queues, impl->clock,
                                                      async_options);
  deps.async = impl->async_service.get();
  impl->api = std::make_unique<ApiService>(deps);
  if (auto st = impl->api->loadFunctions(); !st) return tl::unexpected(std::move(st.error()));

  ApiService* api = impl->api.get();
  http::ServerOptions server_options = api->serverOptions();
  // Functions must not drive the daemon: connections from sandbox uids are refused.
  if (impl->sandbox->isSandboxUid(sandbox::kDefaultSandboxUidFirst)) {
    server_options.accept_filter = [sandbox = impl->sandbox.get()](
                                       const boost::asio::ip::tcp::endpoint& peer,
                                       const boost::asio::ip::tcp::endpoint& local) {
      auto uid = sys::tcpPeerUid(peer, local);
      if (!uid) return true;  // not a local socket we can see (e.g. another host): no sandbox
      return !sandbox->isSandboxUid(*uid);
    };
  }
  auto server = http::Server::listen(
      impl->io, options.host, options.port,
      [api](http::Request&& req, http::Responder responder) {
        api->handle(std::move(req), std::move(responder));
      },
      std::move(server_options));
  if (!server) return tl::unexpected(std::move(server.error()));
  impl->server = std::move(*server);

  impl->work.emplace(impl->io.get_executor());
  int threads = options.io_threads > 0 ? options.io_threads
                                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([io = &impl->io] {
      // Last line of defence: an exception escaping a handler (a library that throws) must not
      // end the daemon through std::terminate; it is logged and the thread runs on.
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("I/O thread: unhandled exception from a handler: {}", e.what());
        }
      }
    });
  }
  impl->async_service->setInvoker(impl->api.get());
  impl->async_service->start();
  if (impl->events->size() > 0) {
    spdlog::info("async: {} queued events from a previous run", impl->events->size());
  }
  impl->options = options;
  spdlog::info("kindling listening on http://{}:{} (data dir {}, {} I/O threads)", options.host,
               impl->server->port(), options.data_dir.string(), threads);
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

}  // namespace kindling::api
