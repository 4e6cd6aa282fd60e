#include "scheduler/node_snapshots.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string_view>
#include <system_error>

#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "scheduler/launch_files.h"
#include "sys/process.h"

namespace kindling::scheduler {

namespace fs = std::filesystem;

namespace {

// A build takes ~0.3-0.6 s here; anything near this is broken.
constexpr std::chrono::seconds kBuildLimit{60};
constexpr std::string_view kBootstrapName = "bootstrap.cjs";

bool isRegularFile(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

NodeSnapshots::NodeSnapshots(fs::path dir) : dir_(std::move(dir)) {
  thread_ = std::thread([this] { loop(); });
}

NodeSnapshots::~NodeSnapshots() { shutdown(); }

void NodeSnapshots::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (building_ > 0) ::kill(building_, SIGKILL);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<NodeSnapshots::Identity> NodeSnapshots::identify(const sandbox::SpawnSpec& spec,
                                                               bool isolated) {
  const auto& argv = spec.argv;
  if (argv.size() < 2 || spec.view.runtime_dir.empty()) return std::nullopt;
  Identity id;
  id.bootstrap = spec.view.runtime_dir / kBootstrapName;
  if (hostPath(spec, argv.back(), isolated) != id.bootstrap) return std::nullopt;
  for (const auto& var : spec.env) {
    if (startsWith(var, "NODE_OPTIONS=")) return std::nullopt;
  }
  const fs::path node = hostPath(spec, argv.front(), isolated);
  const auto node_stamp = fileStamp(node);
  const auto bootstrap_stamp = fileStamp(id.bootstrap);
  if (!node_stamp || !bootstrap_stamp) return std::nullopt;
  std::string text = "node " + node.string() + " " + *node_stamp + "\nbootstrap " +
                     id.bootstrap.string() + " " + *bootstrap_stamp + "\n";
  id.command.push_back(node.string());
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    // Only flags: a blob is built from this same list.
    if (!startsWith(argv[i], "--")) return std::nullopt;
    text += "flag " + argv[i] + "\n";
    id.command.push_back(argv[i]);
  }
  id.key = sha256Hex(text).substr(0, 32);
  return id;
}

fs::path NodeSnapshots::blobPath(const std::string& key) const { return dir_ / (key + ".blob"); }

bool NodeSnapshots::use(sandbox::SpawnSpec& spec, bool isolated) {
  const auto id = identify(spec, isolated);
  if (!id) return false;
  const fs::path blob = blobPath(id->key);
  if (!isRegularFile(blob)) {
    enqueue(*id);
    return false;
  }
  const fs::path inside =
      isolated ? fs::path(kNodeSnapshotInside) / blob.filename() : blob;
  spec.argv.pop_back();
  spec.argv.push_back("--snapshot-blob");
  spec.argv.push_back(inside.string());
  if (isolated) spec.view.extra_read_only.emplace_back(blob, inside);
  return true;
}

void NodeSnapshots::prepare(const sandbox::SpawnSpec& spec, bool isolated) {
  const auto id = identify(spec, isolated);
  if (id && !isRegularFile(blobPath(id->key))) enqueue(*id);
}

void NodeSnapshots::enqueue(const Identity& id) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !seen_.insert(id.key).second) return;
    queue_.push_back(id);
  }
  cv_.notify_all();
}

Result<fs::path> NodeSnapshots::build(const sandbox::SpawnSpec& spec, bool isolated) {
  const auto id = identify(spec, isolated);
  if (!id) {
    return tl::unexpected(
        Error{ErrorCode::InvalidArgument, 0, "no snapshot for this command line"});
  }
  return run(*id);
}

Result<fs::path> NodeSnapshots::run(const Identity& id) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return tl::unexpected(Error{ErrorCode::Io, ec.value(), "mkdir " + dir_.string()});
  const fs::path blob = blobPath(id.key);
  const fs::path partial = dir_ / ("." + id.key + ".partial");
  fs::remove(partial, ec);
  std::vector<std::string> args = id.command;
  args.insert(args.end(), {"--snapshot-blob", partial.string(), "--build-snapshot",
                           id.bootstrap.string()});
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::string path_var = "PATH=/usr/bin:/bin";
  std::array<char*, 2> envp = {path_var.data(), nullptr};
  // Its output (a failed build's error) is kept for the log.
  auto out = sys::makePipe(/*nonblocking_read=*/false);
  if (!out) return tl::unexpected(out.error());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out->write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, out->write.get(), 2);
  posix_spawn_file_actions_addchdir_np(&actions, id.bootstrap.parent_path().c_str());
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  out->write.reset();
  if (err != 0) return tl::unexpected(Error{ErrorCode::Io, err, "posix_spawn(" + args[0] + ")"});
  {
    std::lock_guard lock(mu_);
    building_ = pid;
    if (stopping_) ::kill(pid, SIGKILL);
  }
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + kBuildLimit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      output += "\n(killed after " + std::to_string(kBuildLimit.count()) + " s)";
      break;
    }
    pollfd pfd{out->read.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    std::array<char, 4096> buf{};
    const ssize_t n = ::read(out->read.get(), buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (output.size() < 16384) output.append(buf.data(), static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard lock(mu_);
    building_ = -1;
  }
  const auto exit = sys::exitStatusFromWait(status);
  struct stat st {};
  if (exit.signaled || exit.code != 0 || ::stat(partial.c_str(), &st) != 0 ||
      !S_ISREG(st.st_mode) || st.st_size == 0) {
    fs::remove(partial, ec);
    return tl::unexpected(Error{ErrorCode::Internal, 0,
                                args[0] + " --build-snapshot: " + sys::describeExit(exit) + ": " +
                                    output.substr(0, 2000)});
  }
  ::chmod(partial.c_str(), 0444);
  if (::rename(partial.c_str(), blob.c_str()) != 0) {
    const int rename_err = errno;
    fs::remove(partial, ec);
    return tl::unexpected(Error{ErrorCode::Io, rename_err, "rename to " + blob.string()});
  }
  pruneOlderThan(id.bootstrap, blob);
  return blob;
}

void NodeSnapshots::pruneOlderThan(const fs::path& bootstrap, const fs::path& keep) const {
  // Every Node version's blobs are built from the one bootstrap, whose stamp is in their key: a
  // blob written before the bootstrap's last change can never be chosen again (4-6 MB each,
  // per Node version and memory size). Those written since (of any Node version) stay.
  std::error_code ec;
  const auto changed = fs::last_write_time(bootstrap, ec);
  if (ec) return;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".blob" || entry.path() == keep) continue;
    std::error_code time_ec;
    const auto written = fs::last_write_time(entry.path(), time_ec);
    if (time_ec || written >= changed) continue;
    std::error_code remove_ec;
    if (fs::remove(entry.path(), remove_ec)) {
      spdlog::info("node snapshot: removed {} (built before {} changed)",
                   entry.path().filename().string(), bootstrap.filename().string());
    }
  }
}

void NodeSnapshots::loop() {
  for (;;) {
    Identity id;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = std::move(queue_.front());
      queue_.pop_front();
    }
    const auto started = std::chrono::steady_clock::now();
    auto blob = run(id);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    if (blob) {
      std::error_code ec;
      spdlog::info("node snapshot: built {} ({} bytes) for {} in {} ms", blob->filename().string(),
                   fs::file_size(*blob, ec), id.command.front(), ms);
    } else {
      // Not retried in this daemon's life: its environments keep the plain start.
      spdlog::warn("node snapshot: building {} failed: {}", id.key, blob.error().message());
    }
  }
}

}  // namespace kindling::scheduler
