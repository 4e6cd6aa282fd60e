// The spawner: a small single-threaded process forked by the daemon before it starts any thread.
// It receives spawn requests over a SOCK_SEQPACKET socket and creates each environment process
// with clone(CLONE_PARENT), applying the isolation facets in a fixed order in the child (see
// spawner.cc: childMain). The multi-threaded daemon never forks into facet work itself.
// With fast start it also starts runtime zygotes (zygote_abi.cc) and forwards stub requests to
// them: those stubs are forks of an initialised interpreter, not execs, with the same facets.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "spawner/protocol.h"
#include "sys/unique_fd.h"

namespace kindling::spawner {

// A process created by the spawner. It is a child of the daemon (CLONE_PARENT): the daemon
// reaps it with waitpid.
struct SpawnedProcess {
  pid_t pid = -1;
  sys::UniqueFd pidfd;
  sys::UniqueFd stdout_read;
  sys::UniqueFd stderr_read;
  sys::UniqueFd runtime_api_listener;  // network mode `none` only
  // Stubs in a PID namespace: the runtime's wait status (an int) arrives here when it exits
  // (the daemon's child is then the namespace's init, whose own status says less).
  sys::UniqueFd exit_status;
  // SpawnRequest::snapshot: the zygote id the snapshot answers fork requests under (for
  // PrepareRequest::zygote).
  uint32_t snapshot_zygote = 0;
};

// A prepared stub's ends, handed to the daemon (PrepareReply::handed): the daemon launches the
// stub itself by writing its request to plan_write (SpawnerClient::launch).
struct StubEnds {
  sys::UniqueFd plan_write;
  sys::UniqueFd stdout_read;
  sys::UniqueFd stderr_read;
  sys::UniqueFd report_read;
  sys::UniqueFd fdpass;
  sys::UniqueFd exit_status;
  sys::UniqueFd tmp_mount;  // the prepare's /tmp volume, mounted detached; may be empty
  std::string tmp_device;   // that volume's device
};

// A stub ready for its request: the spawner's answer, and the stub's ends when it handed them
// over (every stub but one forked from a function snapshot, which the spawner launches).
struct PreparedStub {
  PrepareReply reply;
  std::optional<StubEnds> ends;
};

class SpawnerClient {
 public:
  // Forks the spawner. Must be called while the calling process is still single-threaded.
  static Result<std::unique_ptr<SpawnerClient>> launch();
  // Closes the socket (the spawner exits on EOF) and reaps the spawner.
  ~SpawnerClient();

  // Spawns one process: a new one (request.stub 0), or a stub the spawner kept (one forked from
  // a function snapshot), which holds the spawner only until it has its request; the caller
  // then waits for the stub's isolation alone. Thread-safe (requests are serialised).
  // On a failed facet step the error names the step and errno; the failed child is reaped.
  Result<SpawnedProcess> spawn(const SpawnRequest& request);
  // Starts a stub that joins the given cgroups and waits; launch() with its ends (or, for a
  // stub the spawner kept, spawn() with request.stub set) turns it into the environment. The
  // stub is a child of the daemon: reap it if it is not used.
  Result<PreparedStub> prepareStub(const PrepareRequest& request);
  // Launches a stub whose ends the daemon holds: /tmp (the prepared mount when the request
  // names its device), the request itself, then the wait for the stub's report, all without the
  // spawner (request.snapshot: the spawner then adopts the snapshot's control socket). On
  // failure the stub is reaped. Thread-safe (each stub's ends belong to one caller).
  Result<SpawnedProcess> launch(StubEnds ends, pid_t pid, SpawnRequest request);
  // Starts a runtime zygote (request.argv/env: its interpreter and script) and waits until it
  // is ready; the reply's `stub` is the zygote's id for PrepareRequest::zygote, `pid` its pid
  // (a child of the daemon: kill and reap it when done). Thread-safe; blocks other requests
  // while the interpreter starts (once per runtime).
  Result<PrepareReply> startZygote(const SpawnRequest& request);
  // Whether the function snapshot `zygote` (SpawnedProcess::snapshot_zygote) has finished its
  // init and takes fork requests; an error once it is gone. Thread-safe.
  Result<bool> snapshotReady(uint32_t zygote);
  pid_t spawnerPid() const { return spawner_pid_; }

 private:
  // Sends one prepare-style request (stub or zygote) and reads its PrepareReply; `what` names it
  // in errors. Thread-safe (serialised by mu_).
  Result<PrepareReply> exchangePrepare(const std::string& data, const char* what,
                                       std::vector<sys::UniqueFd>* fds = nullptr,
                                       const std::vector<int>& send_fds = {});
  SpawnerClient(pid_t pid, sys::UniqueFd sock) : spawner_pid_(pid), sock_(std::move(sock)) {}
  const pid_t spawner_pid_;
  std::mutex mu_;
  sys::UniqueFd sock_;  // guarded by mu_
};

}  // namespace kindling::spawner
