// SpawnerClient against a real spawner process: stubs the spawner clones itself (no zygote, no
// isolation), launched as /bin/true.
#include "spawner/spawner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"

namespace kindling::spawner {
namespace {

SpawnRequest runTrue() {
  SpawnRequest request;
  request.argv = {"/bin/true"};
  request.cwd = "/";
  request.seccomp = false;
  request.drop_capabilities = false;
  return request;
}

// Reaps a launched stub (a child of this process: the spawner clones with CLONE_PARENT) and
// returns its exit code.
int reap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The spawner hands a stub's ends to the daemon, which launches the stub itself: a stub that
// has not finished preparing (here: blocked opening its "cgroup.procs", a FIFO nobody reads
// yet) holds neither the spawner nor another stub's prepare and launch. (When the spawner
// launched stubs and waited for each one's report, every other request queued behind it: in
// the daemon, every cold start behind one stub's isolation.)
TEST(SpawnerClient, AStubStillPreparingDoesNotHoldOtherLaunches) {
  auto client = SpawnerClient::launch();
  ASSERT_TRUE(client) << client.error().message();
  fakes::TempDir dir;
  const std::string fifo = (dir.path() / "cgroup.procs").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  PrepareRequest held;
  held.cgroup_procs = {fifo};
  auto first = (*client)->prepareStub(held);
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_TRUE(first->ends) << "the spawner kept the ends of a stub it cloned itself";
  auto first_launch = std::async(std::launch::async, [&] {
    return (*client)->launch(std::move(*first->ends), first->reply.pid, runTrue());
  });

  auto second_launch = std::async(std::launch::async, [&]() -> Result<SpawnedProcess> {
    auto second = (*client)->prepareStub(PrepareRequest{});
    if (!second) return tl::unexpected(std::move(second.error()));
    if (!second->ends) return makeError(ErrorCode::Internal, "no ends handed over");
    return (*client)->launch(std::move(*second->ends), second->reply.pid, runTrue());
  });
  // A deadlock guard, not a timing: the second launch needs nothing from the first stub.
  const bool second_done =
      second_launch.wait_for(std::chrono::seconds(60)) == std::future_status::ready;

  // Lets the first stub go either way (it writes "0" into the FIFO, then runs /bin/true).
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  auto second = second_launch.get();
  auto launched = first_launch.get();
  char joined[8] = {};
  EXPECT_EQ(::read(reader, joined, sizeof joined), 1);
  ::close(reader);

  EXPECT_TRUE(second_done) << "the second stub's launch waited for the first stub";
  ASSERT_TRUE(second) << second.error().message();
  ASSERT_TRUE(launched) << launched.error().message();
  EXPECT_GT(launched->pidfd.get(), 2);
  EXPECT_EQ(reap(second->pid), 0);
  EXPECT_EQ(reap(launched->pid), 0);
}

// A stub that fails before it runs its program reports the step: the launch's error names it,
// and the failed stub is reaped by the client.
TEST(SpawnerClient, AFailedStubReportsItsStep) {
  auto client = SpawnerClient::launch();
  ASSERT_TRUE(client) << client.error().message();
  auto stub = (*client)->prepareStub(PrepareRequest{});
  ASSERT_TRUE(stub) << stub.error().message();
  ASSERT_TRUE(stub->ends);
  SpawnRequest request = runTrue();
  request.cwd = "/nonexistent-kindling-dir";
  auto spawned = (*client)->launch(std::move(*stub->ends), stub->reply.pid, request);
  ASSERT_FALSE(spawned);
  EXPECT_NE(spawned.error().message().find("chdir"), std::string::npos)
      << spawned.error().message();
  EXPECT_EQ(spawned.error().sys_errno, ENOENT);
  EXPECT_EQ(::waitpid(stub->reply.pid, nullptr, WNOHANG), -1);  // already reaped
  EXPECT_EQ(errno, ECHILD);
}

// What the program writes reaches the ends the daemon holds.
TEST(SpawnerClient, ALaunchedStubsOutputReachesTheDaemon) {
  auto client = SpawnerClient::launch();
  ASSERT_TRUE(client) << client.error().message();
  auto stub = (*client)->prepareStub(PrepareRequest{});
  ASSERT_TRUE(stub && stub->ends);
  SpawnRequest request = runTrue();
  request.argv = {"/bin/echo", "kindling"};
  auto spawned = (*client)->launch(std::move(*stub->ends), stub->reply.pid, request);
  ASSERT_TRUE(spawned) << spawned.error().message();
  pollfd readable{spawned->stdout_read.get(), POLLIN, 0};  // the pipe is non-blocking (Asio's)
  ASSERT_EQ(::poll(&readable, 1, 60'000), 1);  // a deadlock guard, not a timing
  char out[32] = {};
  EXPECT_EQ(::read(spawned->stdout_read.get(), out, sizeof out), 9);
  EXPECT_STREQ(out, "kindling\n");
  EXPECT_EQ(reap(spawned->pid), 0);
}

}  // namespace
}  // namespace kindling::spawner
