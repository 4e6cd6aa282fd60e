#include "spawner/protocol.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace kindling::spawner {
namespace {

TEST(SpawnerProtocol, RequestRoundTrips) {
  SpawnRequest r;
  r.stub = 7;
  r.argv = {"/var/task/bootstrap", "arg with spaces", ""};
  r.env = {"A=1", "EMPTY=", std::string("BIN=\0x", 6)};
  r.cwd = "/var/task";
  r.cgroup_procs = {"/sys/fs/cgroup/memory/k/env-1/cgroup.procs"};
  r.nofile = 1024;
  r.seccomp = false;
  r.drop_capabilities = true;
  r.task_root = "/srv/code/abc";
  r.opt_dir = "/srv/opt/def";
  auto decoded = decodeRequest(encodeRequest(r));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->stub, 7u);
  EXPECT_EQ(decoded->argv, r.argv);
  EXPECT_EQ(decoded->env, r.env);
  EXPECT_EQ(decoded->cwd, r.cwd);
  EXPECT_EQ(decoded->cgroup_procs, r.cgroup_procs);
  EXPECT_EQ(decoded->nofile, 1024u);
  EXPECT_FALSE(decoded->seccomp);
  EXPECT_TRUE(decoded->drop_capabilities);
  EXPECT_EQ(decoded->task_root, "/srv/code/abc");
  EXPECT_EQ(decoded->opt_dir, "/srv/opt/def");
  EXPECT_FALSE(decoded->snapshot);
}

TEST(SpawnerProtocol, SnapshotFlagRoundTripsBesideTheOthers) {
  SpawnRequest r;
  r.argv = {"/var/lang/bin/python3"};
  r.snapshot = true;
  r.network_none = true;
  auto decoded = decodeRequest(encodeRequest(r));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->snapshot);
  EXPECT_FALSE(decoded->tmp_premounted);
  EXPECT_TRUE(decoded->network_none);
  EXPECT_TRUE(decoded->seccomp);
  EXPECT_FALSE(decoded->isolate);
}

// The receiver is out of fds (EMFILE): the kernel installs what fits and sets MSG_CTRUNC. The
// message still arrives, flagged, with the fds that fit; nothing leaks and nothing is fatal.
TEST(SpawnerProtocol, TruncatedFdsAreFlaggedNotFatal) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  std::vector<int> passed;
  for (int i = 0; i < 3; ++i) passed.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(sendMessage(pair[0], "reply", passed));
  for (int fd : passed) ::close(fd);
  // Room for exactly one more fd: the lowest free number is the only slot under the limit.
  const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  auto msg = receiveMessage(pair[1], 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(msg) << msg.error().message();
  EXPECT_EQ(msg->data, "reply");
  EXPECT_TRUE(msg->fds_truncated);
  EXPECT_LE(msg->fds.size(), 1u);
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST(SpawnerProtocol, WholeFdsAreNotFlagged) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(sendMessage(pair[0], "x", {fd, fd}));
  ::close(fd);
  auto msg = receiveMessage(pair[1], 64);
  ASSERT_TRUE(msg);
  EXPECT_FALSE(msg->fds_truncated);
  EXPECT_EQ(msg->fds.size(), 2u);
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST(SpawnerProtocol, MalformedRequestsAreRejected) {
  SpawnRequest r;
  r.argv = {"/bin/true"};
  const std::string good = encodeRequest(r);
  EXPECT_TRUE(decodeRequest(good).has_value());
  EXPECT_FALSE(decodeRequest(good.substr(0, good.size() - 1)).has_value());  // truncated
  EXPECT_FALSE(decodeRequest(good + "x").has_value());                      // trailing bytes
  EXPECT_FALSE(decodeRequest("").has_value());
  SpawnRequest empty;  // no argv
  EXPECT_FALSE(decodeRequest(encodeRequest(empty)).has_value());
}

TEST(SpawnerProtocol, PrepareRoundTrips) {
  PrepareRequest p;
  p.cgroup_procs = {"/a/cgroup.procs", "/b/cgroup.procs"};
  p.tmp_device = "/dev/loop7";
  p.staging = "/var/lib/kindling/sandbox/root";
  auto decoded = decodePrepare(encodePrepare(p));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->cgroup_procs, p.cgroup_procs);
  EXPECT_EQ(decoded->tmp_device, "/dev/loop7");
  EXPECT_EQ(decoded->staging, "/var/lib/kindling/sandbox/root");
  EXPECT_FALSE(decodePrepare("\x05").has_value());
}

TEST(SpawnerProtocol, PrepareCarriesTheZygoteAndPidNamespace) {
  PrepareRequest p;
  p.new_pid_namespace = true;
  p.zygote = 7;
  auto decoded = decodePrepare(encodePrepare(p));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->new_pid_namespace);
  EXPECT_FALSE(decoded->drop_bounding_set);
  EXPECT_EQ(decoded->zygote, 7u);
  EXPECT_TRUE(decoded->cgroup_procs.empty());
  p.new_pid_namespace = false;
  p.drop_bounding_set = true;
  decoded = decodePrepare(encodePrepare(p));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(decoded->new_pid_namespace);
  EXPECT_TRUE(decoded->drop_bounding_set);
  // The zygote's copy of this encoding (runtimes/python/zygote.py passes it through to
  // libkindling_zygote.so) is 20 bytes without cgroups, /tmp device and staging: no field may
  // be dropped silently.
  EXPECT_EQ(encodePrepare(PrepareRequest{}).size(), 20u);
  const std::string good = encodePrepare(p);
  EXPECT_FALSE(decodePrepare(good.substr(0, good.size() - 4)).has_value());
}

TEST(SpawnerProtocol, MessagesCarryUpToTwelveFileDescriptors) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  sys::UniqueFd a(pair[0]), b(pair[1]);
  std::vector<sys::UniqueFd> owned;
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    owned.emplace_back(p[0]);
    owned.emplace_back(p[1]);
    fds.push_back(p[0]);
    fds.push_back(p[1]);
  }
  ASSERT_TRUE(sendMessage(a.get(), "six", fds).has_value());  // a zygote stub's six fds
  auto msg = receiveMessage(b.get(), 64);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->fds.size(), 6u);
  // A function snapshot's prepare: the six plus four cgroup.procs files (cgroup v1).
  std::vector<int> ten(fds);
  ten.insert(ten.end(), {fds[0], fds[1], fds[2], fds[3]});
  ASSERT_TRUE(sendMessage(a.get(), "ten", ten).has_value());
  auto ten_msg = receiveMessage(b.get(), 64);
  ASSERT_TRUE(ten_msg.has_value());
  EXPECT_EQ(ten_msg->fds.size(), 10u);
  EXPECT_FALSE(ten_msg->fds_truncated);
  std::vector<int> thirteen(13, fds[0]);
  EXPECT_FALSE(sendMessage(a.get(), "thirteen", thirteen).has_value());
}

TEST(SpawnerProtocol, MessagesCarryFileDescriptors) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  sys::UniqueFd a(pair[0]), b(pair[1]);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  sys::UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  ASSERT_TRUE(sendMessage(a.get(), "hello", {r.get(), w.get()}).has_value());
  auto msg = receiveMessage(b.get(), 64);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->data, "hello");
  ASSERT_EQ(msg->fds.size(), 2u);
  // The received write end feeds the original read end.
  ASSERT_EQ(::write(msg->fds[1].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  a.reset();
  auto eof = receiveMessage(b.get(), 64);
  ASSERT_TRUE(eof.has_value());
  EXPECT_TRUE(eof->data.empty());
}

}  // namespace
}  // namespace kindling::spawner
