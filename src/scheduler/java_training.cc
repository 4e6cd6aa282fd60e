// Training runs for per-function Java archives (see java_training.h).
#include "scheduler/java_training.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/strings.h"
#include "sys/process.h"

namespace kindling::scheduler {

namespace fs = std::filesystem;

namespace {

// Nothing listens here: a training run never calls /next, and a runtime whose init failed
// (it posts /init/error) gets "connection refused" and exits non-zero.
constexpr std::string_view kNoRuntimeApi = "127.0.0.1:1";
// How much of a training run's output the debug log keeps.
constexpr size_t kMaxOutput = 64 * 1024;
// How long a killed training sandbox may take to exit before it is left to its reaper.
constexpr int kKillWaitMs = 10000;

// Reads what is available from a non-blocking pipe; false once it is at EOF (or broken).
bool drain(int fd, std::string& out, size_t& dropped) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const size_t room = out.size() < kMaxOutput ? kMaxOutput - out.size() : 0;
      const size_t keep = std::min(room, static_cast<size_t>(n));
      out.append(buf, keep);
      dropped += static_cast<size_t>(n) - keep;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// Makes the archive the JVM wrote root's and read-only and moves it into place. The sandbox
// is dead by now, but the file is still untrusted: a plain regular file with one link, opened
// without following symlinks, or nothing.
Status install(const fs::path& written, const fs::path& target) {
  const int fd = ::open(written.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errnoError("open(" + written.string() + ")");
  sys::UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errnoError("fstat(" + written.string() + ")");
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_size == 0) {
    return makeError(ErrorCode::InvalidArgument,
                     written.string() + " is not a non-empty regular file with one link");
  }
  if (::fchown(fd, 0, 0) != 0) return errnoError("fchown(" + written.string() + ", 0, 0)");
  if (::fchmod(fd, 0444) != 0) return errnoError("fchmod(" + written.string() + ", 0444)");
  if (::rename(written.c_str(), target.c_str()) != 0) {
    return errnoError("rename(" + written.string() + ", " + target.string() + ")");
  }
  return {};
}

}  // namespace

JavaTrainer::JavaTrainer(sandbox::Sandbox& sandbox, JavaCache cache)
    : sandbox_(sandbox), cache_(std::move(cache)) {}

JavaTrainer::~JavaTrainer() { shutdown(); }

size_t JavaTrainer::running() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [key, run] : runs_) n += run->finished.load() ? 0 : 1;
  return n;
}

void JavaTrainer::reapFinishedLocked(std::vector<std::unique_ptr<Run>>& out) {
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second->finished.load()) {
      out.push_back(std::move(it->second));
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
}

void JavaTrainer::start(const store::FunctionConfig& fn, const sandbox::SpawnSpec& spec,
                        std::chrono::milliseconds limit, const JavaCache::Identity& id) {
  if (javaArchivePolicy(fn) == JavaArchivePolicy::Never) return;
  const std::string label = fn.name + ":" + fn.version;
  if (auto path = cache_.archivePath(fn.name, fn.version, id); !path) {
    spdlog::info("java archive {}: no training: {}", label, path.error().message());
    return;
  } else if (std::error_code ec; fs::is_regular_file(*path, ec)) {
    spdlog::debug("java archive {}: {} exists", label, path->string());
    return;
  }
  // Threads of finished runs are joined on the way out, whichever way that is.
  struct JoinFinished {
    std::vector<std::unique_ptr<Run>> runs;
    ~JoinFinished() {
      for (auto& run : runs) run->thread.join();
    }
  } finished;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    reapFinishedLocked(finished.runs);
    if (runs_.count(label) || failed_.count(label + ":" + id.key)) return;
    const int stop = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop < 0) {
      spdlog::warn("java archive {}: no training: eventfd: {}", label, std::strerror(errno));
      return;
    }
    auto run = std::make_unique<Run>();
    run->function = fn.name;
    run->version = fn.version;
    run->stop.reset(stop);
    Run* raw = run.get();
    raw->thread = std::thread([this, raw, fn, spec, limit, id]() mutable {
      train(*raw, std::move(fn), std::move(spec), limit, std::move(id));
      raw->finished.store(true);
    });
    runs_[label] = std::move(run);
  }
}

void JavaTrainer::cancel(const std::string& function, const std::string& version) {
  std::vector<std::unique_ptr<Run>> stopping;
  {
    std::lock_guard lock(mu_);
    for (auto it = runs_.begin(); it != runs_.end();) {
      if (it->second->function == function && (version.empty() || it->second->version == version)) {
        stopping.push_back(std::move(it->second));
        it = runs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  const uint64_t one = 1;
  for (auto& run : stopping) {
    ssize_t ignored = ::write(run->stop.get(), &one, sizeof one);
    (void)ignored;
  }
  for (auto& run : stopping) run->thread.join();
}

void JavaTrainer::shutdown() {
  std::vector<std::unique_ptr<Run>> stopping;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [key, run] : runs_) stopping.push_back(std::move(run));
    runs_.clear();
  }
  const uint64_t one = 1;
  for (auto& run : stopping) {
    ssize_t ignored = ::write(run->stop.get(), &one, sizeof one);
    (void)ignored;
  }
  for (auto& run : stopping) run->thread.join();
}

void JavaTrainer::train(Run& run, store::FunctionConfig fn, sandbox::SpawnSpec spec,
                        std::chrono::milliseconds limit, JavaCache::Identity id) {
  const auto started = std::chrono::steady_clock::now();
  const std::string label = fn.name + ":" + fn.version;
  if (javaArchivePolicy(fn) == JavaArchivePolicy::Auto) {
    const size_t own = JavaCache::ownClassCount({spec.view.task_root, spec.view.opt_dir},
                                                kJavaArchiveMinClasses);
    if (own < kJavaArchiveMinClasses) {
      spdlog::info("java archive {}: not trained: the function brings {} classes of its own "
                   "(fewer than {}), which the runtime's archive serves as fast (tag "
                   "kindling:java-archive=always trains it anyway)",
                   label, own, kJavaArchiveMinClasses);
      std::lock_guard lock(mu_);
      failed_.insert(label + ":" + id.key);  // not asked again while the daemon runs
      return;
    }
  }
  auto dir = cache_.versionDir(fn.name, fn.version);
  if (!dir) {
    spdlog::warn("java archive {}: {}", label, dir.error().message());
    return;
  }
  std::error_code ec;
  fs::create_directories(*dir, ec);
  if (ec) {
    spdlog::warn("java archive {}: mkdir({}): {}", label, dir->string(), ec.message());
    return;
  }
  // The run's own scratch directory: the only place of the host it can write to.
  const fs::path scratch = *dir / (".train-" + randomHex32().substr(0, 12));
  const uid_t uid = sandbox_.reserveUid();
  if (uid == 0) {
    spdlog::info("java archive {}: no training: the sandbox has no uid for it", label);
    return;
  }
  if (::mkdir(scratch.c_str(), 0700) != 0 || ::chown(scratch.c_str(), uid, uid) != 0) {
    spdlog::warn("java archive {}: mkdir/chown({}): {}", label, scratch.string(),
                 std::strerror(errno));
    sandbox_.releaseUid(uid);
    fs::remove_all(scratch, ec);
    return;
  }
  const std::string file = id.key + std::string(javaArchiveExtension(id.kind));
  JavaCache::makeTraining(spec, scratch, file, id.kind, /*isolated=*/true, kNoRuntimeApi);
  spec.uid = uid;  // spawn() owns it from here, whatever it returns
  spdlog::debug("java archive {}: training run: {}", label, [&] {
    std::string line;
    for (const auto& arg : spec.argv) line += (line.empty() ? "" : " ") + arg;
    return line;
  }());
  auto process = sandbox_.spawn(spec);
  if (!process) {
    spdlog::warn("java archive {}: training run not started: {}", label,
                 process.error().message());
    fs::remove_all(scratch, ec);
    return;
  }
  sys::UniqueFd out = (*process)->takeStdout();
  sys::UniqueFd err = (*process)->takeStderr();
  std::string output;
  size_t dropped = 0;
  bool timed_out = false, cancelled = false;
  const auto deadline = started + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[4] = {{(*process)->exitFd(), POLLIN, 0},
                     {run.stop.get(), POLLIN, 0},
                     {out.get(), POLLIN, 0},
                     {err.get(), POLLIN, 0}};
    const int n = ::poll(fds, 4, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents) {
      cancelled = true;
      break;
    }
    if (fds[2].revents && !drain(out.get(), output, dropped)) out.reset();
    if (fds[3].revents && !drain(err.get(), output, dropped)) err.reset();
    if (fds[0].revents) {
      if ((*process)->exited()) break;
      ::usleep(10000);  // readable before the exit is visible: look again shortly, never spin
    }
  }
  // Whatever the JVM started dies with it; a run that overstayed is killed here.
  (*process)->kill();
  if (timed_out || cancelled) {
    pollfd exit_fd{(*process)->exitFd(), POLLIN, 0};
    const auto kill_deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kKillWaitMs);
    while (!(*process)->exited() && std::chrono::steady_clock::now() < kill_deadline) {
      ::poll(&exit_fd, 1, 100);
    }
  }
  if (out) drain(out.get(), output, dropped);
  if (err) drain(err.get(), output, dropped);
  std::optional<sys::ExitStatus> status;
  if ((*process)->exited()) {
    if (auto reaped = (*process)->reap()) status = *reaped;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              started).count();
  if (!output.empty()) {
    spdlog::debug("java archive {}: training output{}:\n{}", label,
                  dropped ? " (" + std::to_string(dropped) + " bytes more dropped)" : "", output);
  }
  std::string failure;
  if (cancelled) {
    failure = "cancelled";
  } else if (timed_out) {
    failure = "timed out after " + std::to_string(limit.count()) + " ms";
  } else if (!status) {
    failure = "its exit status could not be read";
  } else if (status->signaled || status->code != 0) {
    failure = sys::describeExit(*status) + ((*process)->oomKilled() ? " (out of memory)" : "");
  }
  if (failure.empty()) {
    const fs::path target = *dir / file;
    if (auto st = install(scratch / file, target); !st) {
      failure = st.error().message();
    } else {
      std::error_code size_ec;
      const auto size = fs::file_size(target, size_ec);
      spdlog::info("java archive {}: {} written in {:.0f} ms ({} KiB)", label, target.string(), ms,
                   size_ec ? 0 : size / 1024);
      if (auto pruned = cache_.pruneVersion(fn.name, fn.version, file); !pruned) {
        spdlog::warn("java archive {}: pruning old files: {}", label, pruned.error().message());
      }
    }
  }
  if (!failure.empty() && !cancelled) {
    std::lock_guard lock(mu_);
    failed_.insert(label + ":" + id.key);
  }
  if (!failure.empty()) {
    spdlog::info("java archive {}: training failed ({}), after {:.0f} ms; its environments keep "
                 "the runtime's archive", label, failure, ms);
  }
  fs::remove_all(scratch, ec);
}

}  // namespace kindling::scheduler
