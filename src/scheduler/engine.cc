#include "scheduler/engine.h"

#include <unistd.h>

#include <algorithm>
#include <thread>
#include <set>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "observe/report.h"
#include "runtime_api/wire.h"
#include "sys/sock_diag.h"

namespace kindling::scheduler {

namespace asio = boost::asio;

// The I/O side of one environment: its Runtime API listener and the watchers of its process's
// exit fd and output pipes. Destroyed when the environment is dead and unreferenced.
// File descriptors: none of its own beyond the pipes' read ends and the Runtime API sockets (no
// dup per watcher: an idle environment's fds are what bounds how many fit under RLIMIT_NOFILE).
struct Engine::Wiring : std::enable_shared_from_this<Engine::Wiring> {
  std::shared_ptr<Environment> env;  // first member: destroyed last (after the release below)
  std::unique_ptr<runtime_api::RuntimeApiServer> runtime_api;
  // Registered with the reactor but NOT owning: the fd is the process's exit fd, closed with the
  // process. Released (deregistered) before the process can be destroyed: in watchExit() before
  // onProcessExit(), and in the destructor.
  std::unique_ptr<asio::posix::stream_descriptor> exit_watch;
  int exit_fd = -1;
  // Own the pipes' read ends; out_fd/err_fd are their numbers (-1: no such pipe), valid while
  // the watchers live, read by drain() from any thread.
  std::unique_ptr<asio::posix::stream_descriptor> out_watch;
  std::unique_ptr<asio::posix::stream_descriptor> err_watch;
  std::mutex output_mu;  // serialises reads of the pipes so output keeps its order
  int out_fd = -1, err_fd = -1;

  ~Wiring() {
    if (exit_watch) exit_watch->release();
  }

  // Reads what is in the pipes now (bounded per call), in order, into the environment's log.
  void drain() {
    std::lock_guard lock(output_mu);
    char buf[65536];
    for (int fd : {out_fd, err_fd}) {
      if (fd < 0) continue;
      for (int rounds = 0; rounds < 64; ++rounds) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        env->onOutput(std::string_view(buf, static_cast<size_t>(n)));
      }
    }
  }

  void watchOutput(asio::posix::stream_descriptor& sd) {
    sd.async_wait(asio::posix::stream_descriptor::wait_read,
                  [self = shared_from_this(), &sd](const boost::system::error_code& ec) {
                    if (ec) return;
                    self->drain();
                    // EOF: the pipe's writers are gone; stop watching.
                    if (self->eof(sd.native_handle())) return;
                    self->watchOutput(sd);
                  });
  }

  // True when the write ends are closed and nothing is left to read.
  bool eof(int fd) {
    std::lock_guard lock(output_mu);
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      env->onOutput(std::string_view(buf, static_cast<size_t>(n)));
      return false;
    }
    return n == 0;
  }

  void stop() {
    boost::system::error_code ec;
    if (runtime_api) runtime_api->stop();
    if (exit_watch) exit_watch->cancel(ec);
    if (out_watch) out_watch->cancel(ec);
    if (err_watch) err_watch->cancel(ec);
  }
};

// The environments of one function configuration.
class Engine::Pool : public std::enable_shared_from_this<Engine::Pool> {
 public:
  Pool(FunctionTarget target, std::shared_ptr<observe::FunctionMetrics> metrics)
      : config(target.config), target(std::move(target)), metrics(std::move(metrics)) {}

  const std::shared_ptr<const store::FunctionConfig> config;
  const FunctionTarget target;
  const std::shared_ptr<observe::FunctionMetrics> metrics;

  std::mutex mu;
  std::vector<std::shared_ptr<Environment>> idle;                 // LIFO; guarded by mu
  std::vector<std::shared_ptr<Environment>> returning;            // answered, /next pending
  std::map<uint64_t, std::shared_ptr<Engine::Wiring>> all;        // guarded by mu
  bool retired = false;                                           // guarded by mu
  // Provisioned concurrency (guarded by mu): how many are wanted, the environments started for
  // it (starting or alive), those of them that finished init, and consecutive init failures.
  int provisioned_wanted = 0;
  std::set<uint64_t> provisioned;
  std::set<uint64_t> provisioned_ready;
  int provisioned_failures = 0;
  std::string provisioned_error;
  TimerId provisioned_retry = 0;

  std::shared_ptr<Environment> takeReturning() {
    std::lock_guard lock(mu);
    if (returning.empty()) return nullptr;
    auto env = std::move(returning.back());
    returning.pop_back();
    return env;
  }

  void forget(const std::shared_ptr<Environment>& env) {
    returning.erase(std::remove(returning.begin(), returning.end(), env), returning.end());
  }

  std::shared_ptr<Environment> takeIdle() {
    std::lock_guard lock(mu);
    if (idle.empty()) return nullptr;
    auto env = std::move(idle.back());
    idle.pop_back();
    return env;
  }
};

Engine::Engine(asio::io_context& io, sandbox::Sandbox& sandbox, observe::LogStore& logs,
               observe::MetricsRegistry& metrics, const RuntimeCatalog& catalog,
               const Clock& clock, Timers& timers, EngineOptions options)
    : io_(io),
      sandbox_(sandbox),
      logs_(logs),
      metrics_(metrics),
      catalog_(catalog),
      clock_(clock),
      timers_(timers),
      options_(std::move(options)) {
  if (!options_.java_cache_dir.empty() && sandbox_.isolatesFilesystem()) {
    java_trainer_ = std::make_unique<JavaTrainer>(sandbox_, JavaCache(options_.java_cache_dir));
  }
  // Fast start off for the whole daemon: no function can use a blob, no builder thread.
  if (!options_.node_snapshot_dir.empty() && options_.fast_start) {
    node_snapshots_ = std::make_unique<NodeSnapshots>(options_.node_snapshot_dir);
  }
  scheduleReaper();
}

Engine::~Engine() { shutdown(); }

void Engine::scheduleReaper() {
  if (stopping_) return;
  reaper_ = timers_.schedule(options_.reap_interval, [this] {
    reapIdle();
    scheduleReaper();
  });
}

namespace {

// EMFILE (this process) or ENFILE (the host): out of file descriptors, a transient condition.
bool isFdExhaustion(const Error& error) {
  return error.sys_errno == EMFILE || error.sys_errno == ENFILE;
}

// Pools are keyed "<name>:<version>"; function names cannot contain ':'.
std::string poolKey(std::string_view name, std::string_view version) {
  std::string key;
  key.reserve(name.size() + 1 + version.size());
  key.append(name).push_back(':');
  key.append(version);
  return key;
}

}  // namespace

std::shared_ptr<Engine::Pool> Engine::poolFor(const FunctionTarget& target) {
  const auto& config = target.config;
  std::shared_ptr<Pool> retired;
  std::shared_ptr<Pool> pool;
  {
    const std::string key = poolKey(config->name, config->version);
    std::lock_guard lock(mu_);
    auto it = pools_.find(key);
    if (it != pools_.end() && it->second->config->revision_id == config->revision_id) {
      return it->second;
    }
    if (it != pools_.end()) retired = it->second;
    pool = std::make_shared<Pool>(target, metrics_.function(config->name));
    pools_[key] = pool;
  }
  if (retired) {
    // A new configuration: environments of the old one finish what they run, then stop.
    std::vector<std::shared_ptr<Environment>> idle;
    {
      std::lock_guard lock(retired->mu);
      retired->retired = true;
      idle.swap(retired->idle);
      if (retired->provisioned_retry) timers_.cancel(retired->provisioned_retry);
    }
    for (auto& env : idle) env->shutdown();
  }
  return pool;
}

void Engine::invoke(const FunctionTarget& target, InvokeRequest request) {
  auto pool = poolFor(target);
  auto metrics = pool->metrics;
  metrics->invocations.fetch_add(1, std::memory_order_relaxed);
  metrics->concurrent_executions.fetch_add(1, std::memory_order_relaxed);
  request.done = [metrics, version = pool->config->version,
                  done = std::move(request.done)](InvokeResult&& result) {
    metrics->concurrent_executions.fetch_sub(1, std::memory_order_relaxed);
    metrics->duration.observe(result.duration_ms / 1000.0);
    if (result.init_duration_ms) {
      metrics->init_duration.observe(*result.init_duration_ms / 1000.0);
    } else if (result.restore_duration_ms) {
      metrics->init_duration.observe(*result.restore_duration_ms / 1000.0);
    }
    if (result.function_error) metrics->addError(result.error_type);
    result.executed_version = version;
    done(std::move(result));
  };
  if (stopping_) {
    InvokeResult result;
    result.function_error = true;
    result.error_type = "Runtime.ExitError";
    result.payload = R"({"errorType":"ServiceException","errorMessage":"kindling is shutting down"})";
    request.done(std::move(result));
    return;
  }
  place(pool, std::move(request));
}

void Engine::place(const std::shared_ptr<Pool>& pool, InvokeRequest request) {
  // An environment can move from "returning" to idle while we look: it turns Idle under its
  // own lock when it polls /next and joins the pool's idle list just after (on_idle). One seen
  // in that window ("landing") is looked for again; the hook runs within microseconds, so the
  // retries are bounded. Without this, the next request of a client that got its answer a
  // moment before the runtime's /next started a needless cold environment.
  constexpr int kMaxRounds = 64;
  std::vector<std::shared_ptr<Environment>> landing;
  for (int round = 0; round < kMaxRounds; ++round) {
    while (auto env = pool->takeIdle()) {
      if (env->dispatch(request)) return;  // warm
      // Still idle yet refused: its thaw failed (e.g. EMFILE opening the freezer file). Out of
      // the idle list it would never be reaped: stop it.
      if (env->state() == EnvState::Idle) env->shutdown();
    }
    // An environment that just answered takes the invocation as soon as it polls /next again.
    bool any_returning = false;
    while (auto env = pool->takeReturning()) {
      any_returning = true;
      if (env->enqueue(request)) return;
      if (env->state() == EnvState::Idle) landing.push_back(std::move(env));
    }
    // A landing environment that is no longer idle was taken by another invocation (or died).
    landing.erase(std::remove_if(landing.begin(), landing.end(),
                                 [](const auto& env) { return env->state() != EnvState::Idle; }),
                  landing.end());
    if (landing.empty() && (!any_returning || round > 0)) break;
    if (!landing.empty()) std::this_thread::yield();
  }
  startEnvironment(pool, std::move(request));
}

void Engine::setProvisioned(const FunctionTarget& target, int count) {
  auto pool = poolFor(target);
  std::vector<std::shared_ptr<Environment>> surplus;
  {
    std::lock_guard lock(pool->mu);
    pool->provisioned_wanted = std::max(0, count);
    pool->provisioned_failures = 0;
    pool->provisioned_error.clear();
    // Fewer wanted: idle provisioned environments go first; busy ones become on-demand ones
    // (reaped by the keep-alive as usual).
    while (static_cast<int>(pool->provisioned.size()) > pool->provisioned_wanted) {
      uint64_t victim = 0;
      for (auto it = pool->idle.begin(); it != pool->idle.end(); ++it) {
        if (pool->provisioned.count((*it)->id())) {
          victim = (*it)->id();
          surplus.push_back(*it);
          pool->idle.erase(it);
          break;
        }
      }
      if (victim == 0) victim = *pool->provisioned.rbegin();
      pool->provisioned.erase(victim);
      pool->provisioned_ready.erase(victim);
    }
  }
  for (auto& env : surplus) env->shutdown();
  topUpProvisioned(pool);
}

Engine::ProvisionedStatus Engine::provisionedStatus(const std::string& name,
                                                    const std::string& version) const {
  std::shared_ptr<Pool> pool;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(poolKey(name, version));
    if (it == pools_.end()) return {};
    pool = it->second;
  }
  std::lock_guard lock(pool->mu);
  return ProvisionedStatus{pool->provisioned_wanted,
                           static_cast<int>(pool->provisioned_ready.size()),
                           pool->provisioned_failures, pool->provisioned_error};
}

void Engine::scheduleProvisionedTopUp(const std::shared_ptr<Pool>& pool) {
  // Replace after a pause that grows with consecutive failures (none after a clean exit;
  // 2 s .. 60 s), so a function whose init always fails does not spin.
  std::lock_guard lock(pool->mu);
  if (pool->retired || stopping_ || pool->provisioned_retry) return;
  const int failures = pool->provisioned_failures;
  const auto delay = failures == 0 ? Clock::Duration::zero()
                                   : Clock::Duration(std::chrono::seconds(
                                         std::min(60, 1 << std::min(failures, 6))));
  std::weak_ptr<Pool> weak_pool = pool;
  pool->provisioned_retry = timers_.schedule(delay, [this, weak_pool] {
    auto p = weak_pool.lock();
    if (!p) return;
    {
      std::lock_guard lock2(p->mu);
      p->provisioned_retry = 0;
    }
    topUpProvisioned(p);
  });
}

void Engine::topUpProvisioned(const std::shared_ptr<Pool>& pool) {
  int missing = 0;
  {
    std::lock_guard lock(pool->mu);
    if (pool->retired || stopping_) return;
    missing = pool->provisioned_wanted - static_cast<int>(pool->provisioned.size());
  }
  for (int i = 0; i < missing; ++i) startEnvironment(pool, std::nullopt);
}

bool Engine::networkNone(const store::FunctionConfig& config) const {
  auto network = config.tags.find("kindling:network");
  return network != config.tags.end() && network->second == "none" &&
         sandbox_.supportsNetworkNone();
}

bool Engine::fastStartFor(const store::FunctionConfig& config, bool log) const {
  if (!options_.fast_start) return false;
  auto tag = config.tags.find("kindling:fast-start");
  if (tag != config.tags.end() && tag->second == "false") return false;
  if (config.runtime.rfind("python", 0) == 0 || config.runtime.rfind("ruby", 0) == 0) {
    if (auto why = RuntimeCatalog::fastStartBlocker(config); !why.empty()) {
      if (log) spdlog::info("fast start: {} starts normally: {}", config.name, why);
      return false;
    }
  } else if (config.runtime.rfind("java", 0) == 0 && log) {
    if (auto why = RuntimeCatalog::fastStartBlocker(config); !why.empty()) {
      spdlog::info("fast start: {} starts through the java launcher: {}", config.name, why);
    }
  }
  return true;
}

std::optional<sandbox::ZygoteSpec> Engine::snapshotZygote(const store::FunctionConfig& config,
                                                          const sandbox::SpawnSpec& spec,
                                                          bool network_none) {
  // A function-level snapshot of a SnapStart version (docs/design.md, "Function snapshots"):
  // its environments fork from one process that ran the function's init once; until it is
  // ready (or if it cannot be taken) they start from the runtime's zygote and run init
  // themselves. Python only (kindling's own runtime), and only where the runtime forks.
  if (!spec.zygote || spec.zygote->snapshot || config.runtime.rfind("python", 0) != 0) {
    return std::nullopt;
  }
  auto snapshot = std::make_shared<sandbox::SpawnSpec>(spec);
  // The snapshot has no Runtime API (its forks get their own): a runtime that would talk to one
  // anyway (a function that hands over to its own client at import) fails at once, which ends
  // the snapshot, instead of reaching whatever listens at some address.
  for (auto& var : snapshot->env) {
    if (var.rfind("AWS_LAMBDA_RUNTIME_API=", 0) == 0) var = "AWS_LAMBDA_RUNTIME_API=";
  }
  snapshot->env.push_back("_KINDLING_SNAPSHOT=1");
  snapshot->network_none = network_none;
  sandbox::ZygoteSpec from_snapshot;
  from_snapshot.key = "snapshot:" + config.name + ":" + config.version + ":" + config.revision_id;
  from_snapshot.snapshot = std::move(snapshot);
  return from_snapshot;
}

bool Engine::prepareSnapshot(const FunctionTarget& target, std::chrono::milliseconds wait) {
  const auto& config = target.config;
  if (!config || !store::snapStartOn(*config) || !sandbox_.isolatesFilesystem() ||
      !fastStartFor(*config, /*log=*/false)) {
    return false;
  }
  LaunchContext ctx = besideLaunch(target);
  // The snapshot talks to no Runtime API: each fork gets its environment's own address.
  ctx.runtime_api_port = sandbox::kNoneModeRuntimeApiPort;
  ctx.initialization_type = "snap-start";
  auto spec = catalog_.launch(*config, ctx);
  if (!spec) return false;
  auto from_snapshot = snapshotZygote(*config, *spec, networkNone(*config));
  if (!from_snapshot) return false;
  return sandbox_.prepareSnapshot(*from_snapshot, wait);
}

namespace {

// Node versions whose start gains from the bootstrap's V8 startup snapshot: the heap flags
// make Node 20/22 reject their built-in code cache, which the snapshot carries again; Node 24
// keeps its cache and deserialising the snapshot's heap was measured slower there.
bool usesNodeSnapshot(const store::FunctionConfig& config) {
  return config.runtime == "nodejs20.x" || config.runtime == "nodejs22.x";
}

}  // namespace

void Engine::prewarm(const FunctionTarget& target) {
  const auto& config = target.config;
  if (!config || !sandbox_.isolatesFilesystem() || !fastStartFor(*config, /*log=*/false)) return;
  LaunchContext ctx = besideLaunch(target);
  ctx.runtime_api_port = sandbox::kNoneModeRuntimeApiPort;  // any: only the zygote is used
  auto spec = catalog_.launch(*config, ctx);
  if (spec && spec->zygote && !spec->zygote->snapshot) sandbox_.prewarmZygote(*spec->zygote);
  if (spec && node_snapshots_ && usesNodeSnapshot(*config)) {
    node_snapshots_->prepare(*spec, ctx.isolated);
  }
}

namespace {

// A training run is bounded like an init that may take its time: max(60 s, the timeout).
std::chrono::milliseconds javaTrainingLimit(const store::FunctionConfig& config) {
  return std::max<std::chrono::milliseconds>(std::chrono::seconds(60),
                                             std::chrono::seconds(config.timeout_s));
}

}  // namespace

bool Engine::trainJavaArchive(const FunctionTarget& target) {
  const auto& config = target.config;
  if (!java_trainer_ || !config || config->version == "$LATEST" ||
      config->runtime.rfind("java", 0) != 0 || !fastStartFor(*config, /*log=*/false)) {
    return false;
  }
  LaunchContext ctx = besideLaunch(target);
  if (store::snapStartOn(*config)) ctx.initialization_type = "snap-start";
  auto spec = catalog_.launch(*config, ctx);
  if (!spec) return false;
  auto id = JavaCache::identify(*config, *spec, /*isolated=*/true);
  if (!id) {
    spdlog::info("java archive {}:{}: no training: {}", config->name, config->version,
                 id.error().message());
    return false;
  }
  spec->network_none = networkNone(*config);
  java_trainer_->start(*config, *spec, javaTrainingLimit(*config), *id);
  return true;
}

LaunchContext Engine::besideLaunch(const FunctionTarget& target) const {
  LaunchContext ctx;
  ctx.code_dir = target.code_dir;
  ctx.opt_dir = target.opt_dir;
  ctx.runtime_api_host = options_.runtime_api_host;
  ctx.log_stream_name = observe::makeLogStreamName(clock_.epochMillis(), target.config->version);
  ctx.region = options_.region;
  ctx.isolated = true;
  ctx.fast_start = true;
  return ctx;
}

void Engine::startEnvironment(const std::shared_ptr<Pool>& pool,
                              std::optional<InvokeRequest> request) {
  const auto& config = pool->config;
  const std::filesystem::path& code_dir = pool->target.code_dir;
  const bool provisioned = !request.has_value();
  const uint64_t id = next_env_id_.fetch_add(1);
  if (provisioned) {
    std::lock_guard lock(pool->mu);
    pool->provisioned.insert(id);
  }
  // Room in the memory budget and the environment cap first: a throttled start opens nothing.
  // The reservation ends when this function returns: by then the environment is in the pool
  // (counted there) or failed.
  if (auto denied = admit(config->memory_mb)) {
    if (provisioned) {
      {
        std::lock_guard lock(pool->mu);
        pool->provisioned.erase(id);
        ++pool->provisioned_failures;
        pool->provisioned_error = *denied;
      }
      return scheduleProvisionedTopUp(pool);
    }
    spdlog::warn("{}: throttled: {}", config->name, *denied);
    InvokeResult result;
    result.throttled = true;
    result.throttle_message = std::move(*denied);
    return request->done(std::move(result));
  }
  struct AdmissionGuard {
    Engine* engine;
    int memory_mb;
    ~AdmissionGuard() { engine->releaseAdmission(memory_mb); }
  } admission{this, config->memory_mb};
  const std::string stream_name =
      observe::makeLogStreamName(clock_.epochMillis(), config->version);
  auto fail = [&](std::string_view type, const std::string& message) {
    if (provisioned) {
      {
        std::lock_guard lock(pool->mu);
        pool->provisioned.erase(id);
        ++pool->provisioned_failures;
        pool->provisioned_error = message;
      }
      return scheduleProvisionedTopUp(pool);
    }
    InvokeResult result;
    result.function_error = true;
    result.error_type = std::string(type);
    nlohmann::json j;
    j["errorType"] = type;
    j["errorMessage"] = message;
    result.payload = j.dump();
    request->done(std::move(result));
  };
  // The daemon ran out of file descriptors (EMFILE/ENFILE) while building the environment:
  // the invocation is throttled (429) rather than failed, and the least recently used idle
  // environment is evicted so that a retry finds room. The daemon itself carries on.
  auto out_of_fds = [&](const Error& error) {
    if (!isFdExhaustion(error)) return false;
    spdlog::warn("{}: throttled: out of file descriptors: {}", config->name, error.message());
    evictIdle("out of file descriptors");
    if (provisioned) {
      fail("ServiceException", "out of file descriptors: " + error.message());
    } else {
      InvokeResult result;
      result.throttled = true;
      result.throttle_message =
          "the daemon is out of file descriptors (" + error.message() + "); retry later";
      request->done(std::move(result));
    }
    return true;
  };

  auto log = logs_.openStream(config->name, stream_name);
  if (!log && out_of_fds(log.error())) return;
  if (!log) {
    spdlog::error("openStream({}, {}): {}", config->name, stream_name, log.error().message());
    return fail("ServiceException", "kindling could not open the log stream");
  }
  std::weak_ptr<Pool> weak_pool = pool;
  Environment::Hooks hooks;
  auto metrics = pool->metrics;
  hooks.on_state = [metrics](EnvState from, EnvState to) {
    auto index = [](EnvState s) -> int {
      switch (s) {
        case EnvState::Starting: return -1;  // never counted: becomes Initializing at once
        case EnvState::Initializing: return static_cast<int>(observe::EnvStateLabel::Initializing);
        case EnvState::Idle: return static_cast<int>(observe::EnvStateLabel::Idle);
        case EnvState::Busy: return static_cast<int>(observe::EnvStateLabel::Busy);
        case EnvState::Dead: return -1;
      }
      return -1;
    };
    if (int i = index(from); i >= 0) metrics->environments[i].fetch_sub(1);
    if (int i = index(to); i >= 0) metrics->environments[i].fetch_add(1);
  };
  hooks.on_idle = [this, weak_pool](const std::shared_ptr<Environment>& env) {
    auto p = weak_pool.lock();
    if (!p) return env->shutdown();
    if (options_.memory_budget_mb > 0) env->sampleIdleMemory();
    bool retired;
    {
      std::lock_guard lock(p->mu);
      retired = p->retired;
      p->forget(env);
      if (!retired) p->idle.push_back(env);
      if (p->provisioned.count(env->id()) && p->provisioned_ready.insert(env->id()).second) {
        p->provisioned_failures = 0;
      }
    }
    if (retired) env->shutdown();
  };
  hooks.on_dead = [this, weak_pool](const std::shared_ptr<Environment>& env) {
    auto p = weak_pool.lock();
    if (!p) return;
    std::shared_ptr<Wiring> wiring;
    bool replace_provisioned = false;
    {
      std::lock_guard lock(p->mu);
      if (p->provisioned.erase(env->id())) {
        if (!p->provisioned_ready.erase(env->id())) {
          ++p->provisioned_failures;
          p->provisioned_error = "provisioned environment failed to initialise";
        }
        replace_provisioned = !p->retired && !stopping_;
      }
      auto& idle = p->idle;
      idle.erase(std::remove(idle.begin(), idle.end(), env), idle.end());
      p->forget(env);
      auto it = p->all.find(env->id());
      if (it != p->all.end()) {
        wiring = std::move(it->second);
        p->all.erase(it);
      }
    }
    // The exit watcher keeps the wiring alive until the process is reaped.
    if (wiring && wiring->runtime_api) wiring->runtime_api->stop();
    if (replace_provisioned) scheduleProvisionedTopUp(p);
  };
  hooks.on_returning = [weak_pool](const std::shared_ptr<Environment>& env) {
    auto p = weak_pool.lock();
    if (!p) return;
    std::lock_guard lock(p->mu);
    if (!p->retired) p->returning.push_back(env);
  };
  hooks.on_requeue = [this, weak_pool](InvokeRequest&& request) {
    auto p = weak_pool.lock();
    if (!p || stopping_) {
      InvokeResult result;
      result.function_error = true;
      result.error_type = "ServiceException";
      result.payload = R"({"errorType":"ServiceException","errorMessage":"kindling is shutting down"})";
      return request.done(std::move(result));
    }
    place(p, std::move(request));
  };
  auto env = std::make_shared<Environment>(id, config, stream_name, std::move(*log), clock_,
                                           timers_, std::move(hooks), options_.environment);
  auto wiring = std::make_shared<Wiring>();
  wiring->env = env;
  // Host network mode: the environment's Runtime API accepts only the environment's own uid
  // (and the host's non-sandbox users); other environments are refused at accept.
  const uid_t uid = sandbox_.reserveUid();
  bool uid_handed_over = false;
  struct ReleaseUid {
    sandbox::Sandbox& sandbox;
    uid_t uid;
    bool* handed_over;
    ~ReleaseUid() {
      if (!*handed_over) sandbox.releaseUid(uid);
    }
  } release_uid{sandbox_, uid, &uid_handed_over};
  decltype(http::ServerOptions::accept_filter) filter;
  // An environment forked from a function snapshot runs as the snapshot's uid (set below,
  // before the spawn, so before its runtime can connect). SnapStart versions only.
  const bool snap_start = store::snapStartOn(*config);
  auto snapshot_uid = snap_start ? std::make_shared<std::atomic<uid_t>>(0) : nullptr;
  if (uid != 0) {
    filter = [uid, snapshot_uid, &sandbox = sandbox_](const boost::asio::ip::tcp::endpoint& peer,
                                                       const boost::asio::ip::tcp::endpoint& local) {
      auto peer_uid = sys::tcpPeerUid(peer, local);
      if (!peer_uid) {
        spdlog::warn("runtime api: refusing {}:{}: {}", peer.address().to_string(), peer.port(),
                     peer_uid.error().message());
        return false;
      }
      const uid_t forked_as = snapshot_uid ? snapshot_uid->load(std::memory_order_acquire) : 0;
      return *peer_uid == uid || (forked_as != 0 && *peer_uid == forked_as) ||
             !sandbox.isSandboxUid(*peer_uid);
    };
  }
  // Network mode `none`: the environment gets its own network namespace and the Runtime API
  // listens inside it (the sandbox hands the socket over after the spawn).
  const bool network_none = networkNone(*config);
  if (!network_none) {
    auto rapi = runtime_api::RuntimeApiServer::start(io_, options_.runtime_api_host, env,
                                                     std::move(filter));
    if (!rapi && out_of_fds(rapi.error())) return;
    if (!rapi) {
      spdlog::error("runtime api for {}: {}", config->name, rapi.error().message());
      return fail("ServiceException", "kindling could not start the Runtime API listener");
    }
    wiring->runtime_api = std::move(*rapi);
  }

  if (pool->config->runtime.rfind("provided", 0) == 0 &&
      ::access((code_dir / "bootstrap").c_str(), X_OK) != 0 &&
      (pool->target.opt_dir.empty() ||
       ::access((pool->target.opt_dir / "bootstrap").c_str(), X_OK) != 0)) {
    return fail(runtime_api::kFnInvalidEntrypoint,
                "RequestId: " + (request ? request->request_id : std::string("-")) +
                    " Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap "
                    "/opt/bootstrap]");
  }
  const uint16_t runtime_api_port =
      network_none ? sandbox::kNoneModeRuntimeApiPort : wiring->runtime_api->port();
  LaunchContext ctx;
  ctx.code_dir = code_dir;
  ctx.opt_dir = pool->target.opt_dir;
  ctx.runtime_api_port = runtime_api_port;
  ctx.runtime_api_host = network_none ? "127.0.0.1" : options_.runtime_api_host;
  ctx.log_stream_name = stream_name;
  ctx.region = options_.region;
  ctx.isolated = sandbox_.isolatesFilesystem();
  ctx.fast_start = fastStartFor(*config, /*log=*/true);
  if (provisioned) ctx.initialization_type = "provisioned-concurrency";
  // SnapStart versions go through the snap-start flow (restore endpoints, Restore Duration);
  // AWS does not combine SnapStart with provisioned concurrency, SnapStart wins here.
  if (snap_start) ctx.initialization_type = "snap-start";
  auto spec = catalog_.launch(*config, ctx);
  if (!spec) return fail("Runtime.InvalidRuntime", spec.error().message());
  // A published Java version's own archive, when its key matches this command line exactly
  // (java_cache.h); otherwise the command line stays as launch() made it.
  if (java_trainer_ && ctx.fast_start && ctx.isolated && config->version != "$LATEST" &&
      config->runtime.rfind("java", 0) == 0 &&
      javaArchivePolicy(*config) != JavaArchivePolicy::Never) {
    // The identity (a few stats and one small read) is computed once, for both uses.
    if (auto id = JavaCache::identify(*config, *spec, /*isolated=*/true)) {
      if (auto archive = java_trainer_->cache().find(*config, *id)) {
        JavaCache::useArchive(*spec, *archive, id->kind, true);
      } else {
        // None yet, or stale (the JDK or the runtime changed since, or the daemon stopped
        // during its training): trained again in the background; this start keeps the
        // runtime archive.
        spec->network_none = network_none;
        java_trainer_->start(*config, *spec, javaTrainingLimit(*config), *id);
      }
    }
  }
  // Node 20/22: the bootstrap from its V8 startup snapshot once one is built for this line.
  if (node_snapshots_ && ctx.fast_start && usesNodeSnapshot(*config)) {
    node_snapshots_->use(*spec, ctx.isolated);
  }
  if (snap_start) {
    if (auto from_snapshot = snapshotZygote(*config, *spec, network_none)) {
      spec->snapshot_uid = sandbox_.snapshotUid(from_snapshot->key);
      snapshot_uid->store(spec->snapshot_uid, std::memory_order_release);
      spec->zygote = std::move(from_snapshot);
    }
  }
  const std::string request_id = request ? request->request_id : std::string("-");
  {
    std::lock_guard lock(pool->mu);
    pool->all[id] = wiring;
  }
  std::optional<Clock::Duration> init_timeout;
  if (provisioned || snap_start) {
    // Provisioned concurrency and SnapStart initialise for up to max(130 s, timeout).
    init_timeout = std::max<Clock::Duration>(std::chrono::seconds(130),
                                             std::chrono::seconds(config->timeout_s));
  }
  // A spawn that fails for want of file descriptors answers the cold invocation with a
  // throttle (429), not abandon()'s function error: the flag is set before abandon() runs.
  struct FdThrottle {
    std::atomic<bool> on{false};
    std::string message;  // written before `on` is set
  };
  auto fd_throttle = std::make_shared<FdThrottle>();
  if (request) {
    request->done = [fd_throttle, done = std::move(request->done)](InvokeResult&& result) {
      if (fd_throttle->on.load(std::memory_order_acquire)) {
        InvokeResult throttled;
        throttled.throttled = true;
        throttled.throttle_message = fd_throttle->message;
        return done(std::move(throttled));
      }
      done(std::move(result));
    };
  }
  env->begin(std::move(request), clock_.now(), init_timeout);
  spec->uid = uid;
  spec->network_none = network_none;
  uid_handed_over = true;  // spawn() owns the uid from here, whatever it returns
  auto process = sandbox_.spawn(*spec);
  if (!process) {
    if (isFdExhaustion(process.error())) {
      spdlog::warn("{}: throttled: out of file descriptors: spawn: {}", config->name,
                   process.error().message());
      evictIdle("out of file descriptors");
      fd_throttle->message = "the daemon is out of file descriptors (" +
                             process.error().message() + "); retry later";
      fd_throttle->on.store(true, std::memory_order_release);
    } else {
      spdlog::warn("spawn({}): {}", config->name, process.error().message());
    }
    return env->abandon(runtime_api::kFnInvalidEntrypoint,
                        "RequestId: " + request_id + " Error: " + process.error().message());
  }
  if (network_none) {
    sys::UniqueFd listener = (*process)->takeRuntimeApiListener();
    auto rapi = runtime_api::RuntimeApiServer::adopt(io_, listener.release(), env);
    if (!rapi) {
      spdlog::error("runtime api for {}: {}", config->name, rapi.error().message());
      (*process)->kill();
      env->attach(std::move(*process));
      return env->abandon("ServiceException", "kindling could not serve the Runtime API");
    }
    wiring->runtime_api = std::move(*rapi);
  }
  pool->metrics->cold_starts.fetch_add(1, std::memory_order_relaxed);

  // Watchers without dup() and without asio's throwing constructors: a dup() that fails with
  // EMFILE used to hand -1 to stream_descriptor's constructor, whose "assign: Bad file
  // descriptor" exception ended the daemon (std::terminate on an I/O thread).
  boost::system::error_code ec;
  wiring->exit_fd = (*process)->exitFd();
  wiring->exit_watch = std::make_unique<asio::posix::stream_descriptor>(io_);
  if (wiring->exit_fd < 0) {
    ec = boost::system::error_code(EBADF, boost::system::system_category());
  } else {
    wiring->exit_watch->assign(wiring->exit_fd, ec);  // not owned: see Wiring
  }
  auto watchPipe = [&](sys::UniqueFd fd, std::unique_ptr<asio::posix::stream_descriptor>& watch,
                       int& number) {
    if (ec || !fd) return;  // a sandbox without this pipe
    watch = std::make_unique<asio::posix::stream_descriptor>(io_);
    watch->assign(fd.get(), ec);
    if (!ec) number = fd.release();  // owned by the watcher from here
  };
  watchPipe((*process)->takeStdout(), wiring->out_watch, wiring->out_fd);
  watchPipe((*process)->takeStderr(), wiring->err_watch, wiring->err_fd);
  if (ec) {
    spdlog::error("environment {} of {}: watching its fds: {}", id, config->name, ec.message());
    env->abandon("ServiceException", "RequestId: " + request_id +
                                         " Error: kindling could not watch the environment (" +
                                         ec.message() + ")");
    env->attach(std::move(*process));  // dead already: attach() kills it; reaped on destruction
    return;
  }
  std::weak_ptr<Wiring> weak_wiring = wiring;
  env->setOutputDrain([weak_wiring] {
    if (auto w = weak_wiring.lock()) w->drain();
  });
  env->attach(std::move(*process));
  if (wiring->out_watch) wiring->watchOutput(*wiring->out_watch);
  if (wiring->err_watch) wiring->watchOutput(*wiring->err_watch);
  watchExit(wiring);
}

void Engine::watchExit(const std::shared_ptr<Wiring>& wiring) {
  // The watcher keeps the wiring alive until the process is reaped.
  wiring->exit_watch->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, wiring](const boost::system::error_code& ec) {
        if (ec) return;
        // The exit fd belongs to the process, which onProcessExit() destroys: leave the reactor
        // while the fd is still open (a later deregistration could hit a reused fd number).
        wiring->exit_watch->release();
        if (!wiring->env->onProcessExit()) {
          // Woken but the process is still running (a spurious wakeup: the reactor recycles
          // its per-descriptor state, so an event harvested for a just-released exit fd can
          // land here): look again shortly, never spin.
          spdlog::debug("environment {}: exit fd ready but the process runs on; rechecking",
                        wiring->env->id());
          recheckExit(wiring);
          return;
        }
        wiring->stop();
      });
}

void Engine::recheckExit(const std::shared_ptr<Wiring>& wiring) {
  timers_.schedule(std::chrono::milliseconds(100), [this, wiring] {
    if (wiring->env->onProcessExit()) return wiring->stop();
    boost::system::error_code ec;
    wiring->exit_watch->assign(wiring->exit_fd, ec);  // the process still holds it open
    if (ec) return recheckExit(wiring);               // poll instead
    watchExit(wiring);
  });
}

std::optional<std::string> Engine::admit(int memory_mb) {
  const bool memory_cap = options_.memory_budget_mb > 0;
  const bool count_cap = options_.max_environments > 0;
  if (!memory_cap && !count_cap) return std::nullopt;
  std::lock_guard admission(admission_mu_);
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, pool] : pools_) pools.push_back(pool);
  }
  // What environments hold now: busy/starting ones their configured size (they may grow to
  // it), idle ones their measured footprint; and how many there are (each holds a few fds).
  int64_t used_bytes = admitting_mb_ << 20;
  int64_t live = admitting_count_;
  struct Candidate {
    Clock::TimePoint last_used;
    uint64_t bytes;
    std::shared_ptr<Pool> pool;
    std::shared_ptr<Environment> env;
  };
  std::vector<Candidate> idle;
  for (auto& pool : pools) {
    std::lock_guard lock(pool->mu);
    const int64_t configured = int64_t{pool->config->memory_mb} << 20;
    for (auto& [id, wiring] : pool->all) {
      const EnvState state = wiring->env->state();
      if (state == EnvState::Dead) continue;
      ++live;
      if (state == EnvState::Idle) {
        const uint64_t bytes = wiring->env->idleMemoryBytes();
        used_bytes += static_cast<int64_t>(bytes);
        if (!pool->provisioned.count(id)) {
          idle.push_back({wiring->env->lastUsed(), bytes, pool, wiring->env});
        }
      } else {
        used_bytes += configured;
      }
    }
  }
  const int64_t budget = options_.memory_budget_mb << 20;
  const int64_t need = int64_t{memory_mb} << 20;
  auto no_memory = [&] { return memory_cap && used_bytes + need > budget; };
  auto no_fds = [&] { return count_cap && live + 1 > options_.max_environments; };
  if (no_memory() || no_fds()) {
    std::sort(idle.begin(), idle.end(),
              [](const Candidate& a, const Candidate& b) { return a.last_used < b.last_used; });
    for (auto& c : idle) {
      if (!no_memory() && !no_fds()) break;
      bool taken = false;
      {
        std::lock_guard lock(c.pool->mu);
        auto& list = c.pool->idle;
        auto it = std::find(list.begin(), list.end(), c.env);
        if (it != list.end()) {
          list.erase(it);
          taken = true;
        }
      }
      if (!taken) continue;  // it was just dispatched
      spdlog::info("{}: evicting idle environment {} of {} ({} MB)",
                   no_fds() ? "file-descriptor budget" : "memory budget", c.env->id(),
                   c.pool->config->name, c.bytes >> 20);
      c.env->shutdown();
      used_bytes -= static_cast<int64_t>(c.bytes);
      --live;
    }
    if (no_fds()) {
      return "the daemon's file descriptors are exhausted: " +
             std::to_string(options_.max_environments) +
             " environments (the most its RLIMIT_NOFILE allows) are busy or provisioned";
    }
    if (no_memory()) {
      return "no room in the memory budget for a " + std::to_string(memory_mb) +
             " MB environment";
    }
  }
  admitting_mb_ += memory_mb;
  ++admitting_count_;
  return std::nullopt;
}

void Engine::releaseAdmission(int memory_mb) {
  if (options_.memory_budget_mb <= 0 && options_.max_environments <= 0) return;
  std::lock_guard admission(admission_mu_);
  admitting_mb_ -= memory_mb;
  --admitting_count_;
}

bool Engine::evictIdle(std::string_view why) {
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, pool] : pools_) pools.push_back(pool);
  }
  std::shared_ptr<Pool> victim_pool;
  std::shared_ptr<Environment> victim;
  for (auto& pool : pools) {
    std::lock_guard lock(pool->mu);
    for (auto& env : pool->idle) {
      if (pool->provisioned.count(env->id())) continue;
      if (!victim || env->lastUsed() < victim->lastUsed()) {
        victim = env;
        victim_pool = pool;
      }
    }
  }
  if (!victim) return false;
  {
    std::lock_guard lock(victim_pool->mu);
    auto& list = victim_pool->idle;
    auto it = std::find(list.begin(), list.end(), victim);
    if (it == list.end()) return false;  // just dispatched
    list.erase(it);
  }
  spdlog::info("{}: evicting idle environment {} of {}", why, victim->id(),
               victim_pool->config->name);
  victim->shutdown();
  return true;
}

int64_t maxEnvironmentsForFileLimit(uint64_t nofile) {
  const int64_t reserve = 64 + static_cast<int64_t>(nofile / 8);
  return std::max<int64_t>(1, (static_cast<int64_t>(nofile) - reserve) / kFdsPerEnvironment);
}

void Engine::removePool(const std::shared_ptr<Pool>& pool) {
  std::vector<std::shared_ptr<Wiring>> all;
  {
    std::lock_guard lock(pool->mu);
    pool->retired = true;
    pool->idle.clear();
    pool->provisioned_wanted = 0;
    if (pool->provisioned_retry) timers_.cancel(pool->provisioned_retry);
    pool->provisioned_retry = 0;
    for (auto& [id, w] : pool->all) all.push_back(w);
  }
  for (auto& w : all) w->env->shutdown();
}

void Engine::removeFunction(const std::string& name) {
  std::vector<std::shared_ptr<Pool>> removed;
  {
    std::lock_guard lock(mu_);
    const std::string prefix = name + ":";
    for (auto it = pools_.lower_bound(prefix);
         it != pools_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      removed.push_back(std::move(it->second));
      it = pools_.erase(it);
    }
  }
  for (auto& pool : removed) removePool(pool);
  metrics_.removeFunction(name);
  if (java_trainer_) {
    java_trainer_->cancel(name);
    if (auto st = java_trainer_->cache().removeFunction(name); !st) {
      spdlog::warn("java archives of {}: {}", name, st.error().message());
    }
  }
}

void Engine::removeVersion(const std::string& name, const std::string& version) {
  if (java_trainer_) {
    java_trainer_->cancel(name, version);
    if (auto st = java_trainer_->cache().removeVersion(name, version); !st) {
      spdlog::warn("java archives of {}:{}: {}", name, version, st.error().message());
    }
  }
  std::shared_ptr<Pool> pool;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(poolKey(name, version));
    if (it == pools_.end()) return;
    pool = std::move(it->second);
    pools_.erase(it);
  }
  removePool(pool);
}

void Engine::shutdown() {
  if (stopping_.exchange(true)) return;
  if (reaper_) timers_.cancel(reaper_);
  if (java_trainer_) java_trainer_->shutdown();
  if (node_snapshots_) node_snapshots_->shutdown();
  std::vector<std::shared_ptr<Pool>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, pool] : pools_) all.push_back(pool);
    pools_.clear();
  }
  for (auto& pool : all) removePool(pool);
}

void Engine::reapIdle() {
  const auto now = clock_.now();
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, pool] : pools_) pools.push_back(pool);
  }
  for (auto& pool : pools) {
    std::vector<std::shared_ptr<Environment>> expired;
    {
      std::lock_guard lock(pool->mu);
      auto& idle = pool->idle;
      for (auto it = idle.begin(); it != idle.end();) {
        if (now - (*it)->lastUsed() >= options_.keep_alive &&
            !pool->provisioned.count((*it)->id())) {
          expired.push_back(*it);
          it = idle.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& env : expired) env->shutdown();
  }
}

}  // namespace kindling::scheduler
