// The daemon <-> spawner protocol: one SOCK_SEQPACKET message per request and per reply.
// Request: a flat list of length-prefixed strings (argv, env, cwd, cgroup.procs files, limits).
// Reply: {pid, stage, errno} plus, on success, three fds via SCM_RIGHTS (pidfd, stdout and
// stderr read ends). The spawned process is a child of the daemon (CLONE_PARENT), so the daemon
// reaps it and reads its exit status itself.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "sys/unique_fd.h"

namespace kindling::spawner {

struct SpawnRequest {
  // 0: create a new process. Otherwise: the id of a stub prepared earlier (prepareStub), a
  // process already inside its cgroup and waiting for this request.
  uint32_t stub = 0;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  std::vector<std::string> cgroup_procs;  // files the child writes "0" into (joins the cgroup)
  uint32_t nofile = 1024;                 // RLIMIT_NOFILE, Lambda's limit
  bool seccomp = true;
  bool drop_capabilities = true;
  // Isolation (stubs only): new mount, UTS and IPC namespaces with a minimal root built from
  // read-only binds (sandbox/mounts.h), then the environment's own uid.
  bool isolate = false;
  bool network_none = false;              // own network namespace, loopback only
  // Stubs forked from a runtime zygote only: the runtime becomes a function-level snapshot
  // (docs/design.md, "Function snapshots"): it keeps its fd-pass socket as the control socket
  // through which the spawner asks it for forks, and runs under SeccompProfile::SnapshotHost.
  bool snapshot = false;
  // tmp_device arrives already mounted (the stub's prepared volume, see
  // PrepareRequest::tmp_device): a detached mount on the fd-pass socket ("T" + fd).
  bool tmp_premounted = false;
  uint32_t uid = 0;                       // 0: stays uid 0 (without capabilities)
  uint32_t gid = 0;
  std::string hostname;
  std::string staging;                    // host mount point of the new root
  std::string task_root, runtime_dir, lang_dir, tmp_dir;  // host dirs
  std::string tmp_device;                 // ext4 block device for /tmp (preferred to tmp_dir)
  std::string opt_dir;                    // host dir of the merged layers (/opt), may be empty
  std::vector<std::string> ro_sources, ro_targets;        // extra read-only binds
  std::string rw_source, rw_target;       // one writable bind (FilesystemView::read_write)
};

// Where a failed spawn stopped (the child's facet steps, in order).
enum class Stage : int32_t {
  None = 0, Clone, Setpgid, Cgroup, Stdio, Chdir, Rlimits, Capabilities, NoNewPrivs, Seccomp,
  Exec, Protocol, Namespaces, Mounts, User,
};
const char* stageName(Stage stage);

struct SpawnReply {
  int32_t pid = -1;    // set even on failure when a child was created (the daemon reaps it)
  Stage stage = Stage::None;
  int32_t err = 0;
  // A stub's launch: the spawner handed the stub its request and went on; the fds are the
  // stub's report pipe, stdout, stderr, exit status and (network mode none) its fd-pass socket,
  // and the daemon waits for the report itself. Otherwise (a direct spawn) pidfd, stdout, stderr.
  int32_t deferred = 0;
};

// A child's report: {Stage::None, 0} once it runs, else the step that failed and its errno.
struct Report {
  Stage stage = Stage::None;
  int32_t err = 0;
};

// Message kinds (first byte of a request).
inline constexpr char kSpawnMessage = 'S';
inline constexpr char kPrepareMessage = 'P';
// Starts a runtime zygote: a SpawnRequest whose argv/env start the interpreter (see
// PrepareRequest::zygote). Reply: a PrepareReply whose `stub` is the zygote's id.
inline constexpr char kZygoteMessage = 'Z';
// Adopts a function snapshot the daemon launched itself from a handed stub: 'A' with the
// snapshot's control socket (its fd-pass socket) as the one fd. Reply: a PrepareReply whose
// `stub` is the snapshot's zygote id (for PrepareRequest::zygote and kSnapshotQueryMessage).
inline constexpr char kAdoptSnapshotMessage = 'A';
// Asks whether a function snapshot is ready: 'Q' + its zygote id (u32). Reply: a PrepareReply,
// `stub` = the id when ready, else err EAGAIN (init still running) or why it is gone.
inline constexpr char kSnapshotQueryMessage = 'Q';

// Prepares a stub: a process that joins the given cgroups (cgroup.procs files) and then waits
// for a SpawnRequest naming it. Joining a v1 cgroup costs an RCU grace period (~10-20 ms here),
// paid by the stub ahead of time instead of on a cold start.
struct PrepareRequest {
  std::vector<std::string> cgroup_procs;
  // The stub is pid 1 of a new PID namespace: at launch it forks the runtime (pid 2), reaps
  // whatever is orphaned, and reports the runtime's wait status on a pipe.
  bool new_pid_namespace = false;
  // 0: the spawner clones the stub. Otherwise the id of a runtime zygote (kZygoteMessage)
  // that forks it: the environment then starts from an initialised interpreter, no exec.
  uint32_t zygote = 0;
  // The /tmp volume the stub will most likely get (an ext4 block device), "" = none: the
  // spawner mounts it now, detached (fsmount), and hands the mount to the stub if its
  // SpawnRequest names the same device (the ext4 mount, 1-2 ms, leaves the cold path).
  std::string tmp_device;
  // The stub empties its capability bounding set while it waits for its request (about 80
  // prctl calls off the cold-start path): set when every environment drops its capabilities.
  bool drop_bounding_set = false;
  // The host mount point of environments' roots, "" = none: the stub builds the part of the
  // root every environment shares (sandbox::MountPlan::buildBase) while it waits, in mount, UTS
  // and IPC namespaces of its own; its request then adds the function's part.
  std::string staging;
};
// A zygote id handed out for a function-level snapshot (SpawnRequest::snapshot) is answered
// like a runtime zygote's, with two differences: the forwarded prepare message also carries
// the cgroup.procs files opened by the spawner (the snapshot sees no cgroupfs), and the stub's
// pid in the reply is the snapshot's view of it: the spawner reads the host pid back from the
// stub's cgroup, which the snapshot has moved it into before answering.
struct PrepareReply {
  uint32_t stub = 0;   // 0 on failure
  int32_t pid = -1;
  int32_t err = 0;
  int32_t threads = 0;  // zygote stubs: the zygote's thread count when it refused (EBUSY)
  // The stub's ends came with the reply (every stub but one forked from a function snapshot):
  // plan write, stdout read, stderr read, report read, fd-pass socket, exit status read and, when
  // the spawner mounted the prepare's /tmp volume, that mount. The daemon launches such a stub
  // itself (SpawnerClient::launch); the spawner keeps nothing of it.
  int32_t handed = 0;
};
inline constexpr size_t kStubEnds = 6;  // handed fds before the optional /tmp mount

// What a zygote answers to a forwarded prepare message ('P' + encodePrepare + 6 fds: plan read
// end, stdout, stderr, report write ends, fd-pass socket, status write end): "<iii" in Python.
struct ZygoteReply {
  int32_t pid = -1;     // the stub (a child of the daemon), or -1
  int32_t err = 0;      // errno when pid is -1
  int32_t threads = 0;  // the zygote's threads when it forked (or refused to)
};

std::string encodeRequest(const SpawnRequest& request);
Result<SpawnRequest> decodeRequest(std::string_view data);
std::string encodePrepare(const PrepareRequest& request);
Result<PrepareRequest> decodePrepare(std::string_view data);

// sendmsg/recvmsg of one message with up to kMaxMessageFds fds.
inline constexpr size_t kMaxMessageFds = 12;  // a snapshot's prepare: 6 + 4 cgroup.procs
Status sendMessage(int sock, std::string_view data, const std::vector<int>& fds);
struct Message {
  std::string data;
  std::vector<sys::UniqueFd> fds;
  // MSG_CTRUNC: the receiver had no room for all passed fds (EMFILE); `fds` holds those that
  // arrived. The data is complete: the caller fails the request cleanly.
  bool fds_truncated = false;
};
// Returns an empty message with no error on EOF; an error when the data itself was truncated.
Result<Message> receiveMessage(int sock, size_t max_bytes);

}  // namespace kindling::spawner
