// V8 startup snapshots of kindling's Node.js bootstrap (issue 7 item 3; docs/runtimes.md,
// "V8 startup snapshot").
//
// `node <flags> --snapshot-blob B --build-snapshot bootstrap.cjs` runs the bootstrap's top level
// (its built-in modules loaded and compiled) and writes the heap to B; `node <flags>
// --snapshot-blob B` starts from it. A blob is only good for the V8 flags it was built with
// (Node 20 refuses another's, exit 14; Node 22 loads it but drops its code cache) and the heap
// flags follow the memory size, so a blob is built per node binary, flag set and bootstrap and
// stored as <dir>/<key>.blob, the key hashing the binary (path, size, mtime), every argument
// between it and the script, and the bootstrap (path, size, mtime). Built by the daemon itself,
// outside any sandbox (no user code runs: only the bootstrap's top level), in the background
// on a thread of its own, the first time a cold start or a function's prewarm asks for a key;
// a failed build is logged and not retried in the daemon's life. Until a blob exists, and for
// every command line it does not fit, the command line is left exactly as it was.
//
// Used for Node 20 and 22 only: on Node 24 (whose heap flags no longer invalidate its built-in
// code cache) deserialising the bigger heap was measured slower than the plain start.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "sandbox/sandbox.h"

namespace kindling::scheduler {

// Where a blob appears inside a sandbox: a read-only bind of <dir>/<key>.blob.
inline constexpr std::string_view kNodeSnapshotInside = "/var/kindling-node";

class NodeSnapshots {
 public:
  // Blobs live in `dir` (created on the first build).
  explicit NodeSnapshots(std::filesystem::path dir);
  ~NodeSnapshots();
  NodeSnapshots(const NodeSnapshots&) = delete;
  NodeSnapshots& operator=(const NodeSnapshots&) = delete;

  // What a launch line's blob depends on, and how it is built. Empty when the line cannot
  // start from a snapshot: not `node [flags] <runtime dir>/bootstrap.cjs` (a handler argument,
  // another script), or NODE_OPTIONS set (its V8 flags would not match the blob's). `isolated`:
  // the line's paths are the sandbox's (launch_files.h, hostPath).
  struct Identity {
    std::string key;                   // 32 hex digits
    std::filesystem::path bootstrap;   // host path of bootstrap.cjs
    std::vector<std::string> command;  // the host's node binary, then the line's flags
  };
  static std::optional<Identity> identify(const sandbox::SpawnSpec& spec, bool isolated);

  // Rewrites `spec` to start from its blob when one is built (the script argument replaced by
  // --snapshot-blob, the blob bound read-only at kNodeSnapshotInside/<key>.blob when
  // `isolated`) and returns true; otherwise leaves `spec` unchanged, queues a build of its
  // blob (once per key) and returns false. Thread-safe.
  bool use(sandbox::SpawnSpec& spec, bool isolated);
  // Queues the build of `spec`'s blob when it has none (prewarm). Thread-safe.
  void prepare(const sandbox::SpawnSpec& spec, bool isolated);
  // Builds `spec`'s blob now, on the calling thread (tests); the blob's path.
  Result<std::filesystem::path> build(const sandbox::SpawnSpec& spec, bool isolated);
  // Stops the build thread (a build in progress is killed). Idempotent.
  void shutdown();

 private:
  std::filesystem::path blobPath(const std::string& key) const;
  // Queues the build of `id` unless its key was queued before in this daemon's life.
  void enqueue(const Identity& id);
  Result<std::filesystem::path> run(const Identity& id);
  // Removes the blobs (but `keep`) written before `bootstrap` last changed: their keys hold an
  // older stamp of it, so nothing chooses them again. Best effort.
  void pruneOlderThan(const std::filesystem::path& bootstrap,
                      const std::filesystem::path& keep) const;
  void loop();

  std::filesystem::path dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Identity> queue_;
  std::set<std::string> seen_;  // keys queued or built in this daemon's life
  bool stopping_ = false;
  pid_t building_ = -1;  // the build in progress, killed by shutdown()
  std::thread thread_;
};

}  // namespace kindling::scheduler
