// Training runs for per-function Java archives (java_cache.h): at PublishVersion of a Java
// version, the version's own environment spec (same /var/task, class path, flags, env and
// memory) is rewritten into a training run (JavaCache::makeTraining) and spawned in a sandbox
// of its own, in the background: PublishVersion answers at once, as AWS does for versions
// without SnapStart. The run writes its archive into a scratch directory owned by its uid
// (bound writable at /var/kindling-cache); when the JVM exits 0 within the time limit, the
// engine checks that the file is a plain regular file, makes it root's and read-only and
// renames it to <version dir>/<key>.{jsa,aot}; other keys' files of the version are pruned.
// Anything else (init throws, timeout, OOM kill) is logged and ignored: environments keep the
// runtime's archive. The run's stdout/stderr go to the daemon's log at debug level.
//
// Threading: one thread per running training (training runs are rare: one per published Java
// version); the trainer's map of runs is guarded by mu_. cancel() and shutdown() stop runs
// through an eventfd and join their threads.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "sandbox/sandbox.h"
#include "scheduler/java_cache.h"
#include "store/function.h"
#include "sys/unique_fd.h"

namespace kindling::scheduler {

class JavaTrainer {
 public:
  // `sandbox` must be an isolating one and outlive the trainer.
  JavaTrainer(sandbox::Sandbox& sandbox, JavaCache cache);
  ~JavaTrainer();  // shutdown()
  JavaTrainer(const JavaTrainer&) = delete;
  JavaTrainer& operator=(const JavaTrainer&) = delete;

  // Starts a training run for `fn` (a published version) from `spec`, its environments' spec
  // as RuntimeCatalog::launch made it (isolated), whose identity is `id`
  // (JavaCache::identify), unless its archive exists already, a run for this version is going
  // on, or a run for this version and key failed before (a function whose init throws is tried
  // once per daemon); the run is killed after `limit`. Returns at once (copies `spec` only when
  // it starts a run). Thread-safe.
  void start(const store::FunctionConfig& fn, const sandbox::SpawnSpec& spec,
             std::chrono::milliseconds limit, const JavaCache::Identity& id);
  // Stops the runs of a function (all versions when `version` is empty) and waits for them.
  // Thread-safe; blocks for as long as killing and reaping a sandbox takes.
  void cancel(const std::string& function, const std::string& version = {});
  // Stops every run and joins the threads; later start() calls do nothing. Thread-safe.
  void shutdown();
  // Runs going on now (for logs and tests). Thread-safe.
  size_t running() const;

  const JavaCache& cache() const { return cache_; }

 private:
  struct Run {
    std::string function;
    std::string version;
    sys::UniqueFd stop;  // eventfd: written to stop the run
    std::thread thread;
    std::atomic<bool> finished{false};
  };
  // The thread body: spawn, wait (draining output), install or discard the archive.
  void train(Run& run, store::FunctionConfig fn, sandbox::SpawnSpec spec,
             std::chrono::milliseconds limit, JavaCache::Identity id);
  // Joins threads of finished runs. Caller holds mu_.
  void reapFinishedLocked(std::vector<std::unique_ptr<Run>>& out);

  sandbox::Sandbox& sandbox_;
  const JavaCache cache_;
  mutable std::mutex mu_;
  bool stopped_ = false;                                // guarded by mu_
  std::set<std::string> failed_;  // "<function>:<version>:<key>" whose run failed; guarded by mu_
  std::map<std::string, std::unique_ptr<Run>> runs_;    // "<function>:<version>"; guarded by mu_
};

}  // namespace kindling::scheduler
