#include "scheduler/engine.h"

#include <unistd.h>

#include <algorithm>

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
struct Engine::Wiring : std::enable_shared_from_this<Engine::Wiring> {
  std::shared_ptr<Environment> env;
  std::unique_ptr<runtime_api::RuntimeApiServer> runtime_api;
  std::unique_ptr<asio::posix::stream_descriptor> exit_watch;
  std::unique_ptr<asio::posix::stream_descriptor> out_watch;
  std::unique_ptr<asio::posix::stream_descriptor> err_watch;
  std::mutex output_mu;  // serialises reads of the pipes so output keeps its order
  sys::UniqueFd out_fd, err_fd;

  // Reads what is in the pipes now (bounded per call), in order, into the environment's log.
  void drain() {
    std::lock_guard lock(output_mu);
    char buf[65536];
    for (int fd : {out_fd.get(), err_fd.get()}) {
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
  Pool(std::shared_ptr<const store::FunctionConfig> config,
       std::shared_ptr<observe::FunctionMetrics> metrics)
      : config(std::move(config)), metrics(std::move(metrics)) {}

  const std::shared_ptr<const store::FunctionConfig> config;
  const std::shared_ptr<observe::FunctionMetrics> metrics;

  std::mutex mu;
  std::vector<std::shared_ptr<Environment>> idle;                 // LIFO; guarded by mu
  std::vector<std::shared_ptr<Environment>> returning;            // answered, /next pending
  std::map<uint64_t, std::shared_ptr<Engine::Wiring>> all;        // guarded by mu
  bool retired = false;                                           // guarded by mu

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

std::shared_ptr<Engine::Pool> Engine::poolFor(
    const std::shared_ptr<const store::FunctionConfig>& config) {
  std::shared_ptr<Pool> retired;
  std::shared_ptr<Pool> pool;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(config->name);
    if (it != pools_.end() && it->second->config->revision_id == config->revision_id) {
      return it->second;
    }
    if (it != pools_.end()) retired = it->second;
    pool = std::make_shared<Pool>(config, metrics_.function(config->name));
    pools_[config->name] = pool;
  }
  if (retired) {
    // A new configuration: environments of the old one finish what they run, then stop.
    std::vector<std::shared_ptr<Environment>> idle;
    {
      std::lock_guard lock(retired->mu);
      retired->retired = true;
      idle.swap(retired->idle);
    }
    for (auto& env : idle) env->shutdown();
  }
  return pool;
}

void Engine::invoke(std::shared_ptr<const store::FunctionConfig> config,
                    std::filesystem::path code_dir, InvokeRequest request) {
  auto pool = poolFor(config);
  auto metrics = pool->metrics;
  metrics->invocations.fetch_add(1, std::memory_order_relaxed);
  metrics->concurrent_executions.fetch_add(1, std::memory_order_relaxed);
  request.done = [metrics, done = std::move(request.done)](InvokeResult&& result) {
    metrics->concurrent_executions.fetch_sub(1, std::memory_order_relaxed);
    metrics->duration.observe(result.duration_ms / 1000.0);
    if (result.init_duration_ms) {
      metrics->init_duration.observe(*result.init_duration_ms / 1000.0);
    }
    if (result.function_error) metrics->addError(result.error_type);
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
  place(pool, std::move(code_dir), std::move(request));
}

void Engine::place(const std::shared_ptr<Pool>& pool, std::filesystem::path code_dir,
                   InvokeRequest request) {
  while (auto env = pool->takeIdle()) {
    if (env->dispatch(request)) return;  // warm
  }
  // An environment that just answered takes the invocation as soon as it polls /next again.
  while (auto env = pool->takeReturning()) {
    if (env->enqueue(request)) return;
  }
  startCold(pool, std::move(code_dir), std::move(request));
}

void Engine::startCold(const std::shared_ptr<Pool>& pool, std::filesystem::path code_dir,
                       InvokeRequest request) {
  const auto& config = pool->config;
  const uint64_t id = next_env_id_.fetch_add(1);
  const std::string stream_name =
      observe::makeLogStreamName(clock_.epochMillis(), config->version);
  auto fail = [&](std::string_view type, const std::string& message) {
    InvokeResult result;
    result.function_error = true;
    result.error_type = std::string(type);
    nlohmann::json j;
    j["errorType"] = type;
    j["errorMessage"] = message;
    result.payload = j.dump();
    request.done(std::move(result));
  };

  auto log = logs_.openStream(config->name, stream_name);
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
  hooks.on_idle = [weak_pool](const std::shared_ptr<Environment>& env) {
    auto p = weak_pool.lock();
    if (!p) return env->shutdown();
    bool retired;
    {
      std::lock_guard lock(p->mu);
      retired = p->retired;
      p->forget(env);
      if (!retired) p->idle.push_back(env);
    }
    if (retired) env->shutdown();
  };
  hooks.on_dead = [weak_pool](const std::shared_ptr<Environment>& env) {
    auto p = weak_pool.lock();
    if (!p) return;
    std::shared_ptr<Wiring> wiring;
    {
      std::lock_guard lock(p->mu);
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
  };
  hooks.on_returning = [weak_pool](const std::shared_ptr<Environment>& env) {
    auto p = weak_pool.lock();
    if (!p) return;
    std::lock_guard lock(p->mu);
    if (!p->retired) p->returning.push_back(env);
  };
  hooks.on_requeue = [this, weak_pool, code_dir](InvokeRequest&& request) {
    auto p = weak_pool.lock();
    if (!p || stopping_) {
      InvokeResult result;
      result.function_error = true;
      result.error_type = "ServiceException";
      result.payload = R"({"errorType":"ServiceException","errorMessage":"kindling is shutting down"})";
      return request.done(std::move(result));
    }
    place(p, code_dir, std::move(request));
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
  if (uid != 0) {
    filter = [uid, &sandbox = sandbox_](const boost::asio::ip::tcp::endpoint& peer,
                                         const boost::asio::ip::tcp::endpoint& local) {
      auto peer_uid = sys::tcpPeerUid(peer, local);
      if (!peer_uid) {
        spdlog::warn("runtime api: refusing {}:{}: {}", peer.address().to_string(), peer.port(),
                     peer_uid.error().message());
        return false;
      }
      return *peer_uid == uid || !sandbox.isSandboxUid(*peer_uid);
    };
  }
  // Network mode `none`: the environment gets its own network namespace and the Runtime API
  // listens inside it (the sandbox hands the socket over after the spawn).
  auto network = config->tags.find("kindling:network");
  const bool network_none = network != config->tags.end() && network->second == "none" &&
                            sandbox_.supportsNetworkNone();
  if (!network_none) {
    auto rapi = runtime_api::RuntimeApiServer::start(io_, options_.runtime_api_host, env,
                                                     std::move(filter));
    if (!rapi) {
      spdlog::error("runtime api for {}: {}", config->name, rapi.error().message());
      return fail("ServiceException", "kindling could not start the Runtime API listener");
    }
    wiring->runtime_api = std::move(*rapi);
  }

  if (pool->config->runtime.rfind("provided", 0) == 0 &&
      ::access((code_dir / "bootstrap").c_str(), X_OK) != 0) {
    return fail(runtime_api::kFnInvalidEntrypoint,
                "RequestId: " + request.request_id +
                    " Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap "
                    "/opt/bootstrap]");
  }
  const uint16_t runtime_api_port =
      network_none ? sandbox::kNoneModeRuntimeApiPort : wiring->runtime_api->port();
  LaunchContext ctx{code_dir, runtime_api_port, network_none ? "127.0.0.1" : options_.runtime_api_host,
                    stream_name, options_.region, sandbox_.isolatesFilesystem()};
  auto spec = catalog_.launch(*config, ctx);
  if (!spec) return fail("Runtime.InvalidRuntime", spec.error().message());
  const std::string request_id = request.request_id;
  {
    std::lock_guard lock(pool->mu);
    pool->all[id] = wiring;
  }
  env->begin(std::move(request), clock_.now());
  spec->uid = uid;
  spec->network_none = network_none;
  uid_handed_over = true;  // spawn() owns the uid from here, whatever it returns
  auto process = sandbox_.spawn(*spec);
  if (!process) {
    spdlog::warn("spawn({}): {}", config->name, process.error().message());
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

  wiring->out_fd = (*process)->takeStdout();
  wiring->err_fd = (*process)->takeStderr();
  const int exit_fd = ::dup((*process)->exitFd());
  wiring->exit_watch = std::make_unique<asio::posix::stream_descriptor>(io_, exit_fd);
  wiring->out_watch =
      std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(wiring->out_fd.get()));
  wiring->err_watch =
      std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(wiring->err_fd.get()));
  std::weak_ptr<Wiring> weak_wiring = wiring;
  env->setOutputDrain([weak_wiring] {
    if (auto w = weak_wiring.lock()) w->drain();
  });
  env->attach(std::move(*process));
  wiring->watchOutput(*wiring->out_watch);
  wiring->watchOutput(*wiring->err_watch);
  wiring->exit_watch->async_wait(asio::posix::stream_descriptor::wait_read,
                                 [wiring](const boost::system::error_code& ec) {
                                   if (ec) return;
                                   wiring->env->onProcessExit();
                                   wiring->stop();
                                 });
}

void Engine::removeFunction(const std::string& name) {
  std::shared_ptr<Pool> pool;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(name);
    if (it == pools_.end()) return;
    pool = it->second;
    pools_.erase(it);
  }
  std::vector<std::shared_ptr<Wiring>> all;
  {
    std::lock_guard lock(pool->mu);
    pool->retired = true;
    pool->idle.clear();
    for (auto& [id, w] : pool->all) all.push_back(w);
  }
  for (auto& w : all) w->env->shutdown();
  metrics_.removeFunction(name);
}

void Engine::shutdown() {
  if (stopping_.exchange(true)) return;
  if (reaper_) timers_.cancel(reaper_);
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, pool] : pools_) names.push_back(name);
  }
  for (auto& name : names) removeFunction(name);
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
        if (now - (*it)->lastUsed() >= options_.keep_alive) {
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
