// kindling-init (src/spawner/init_main.cc), the freestanding pid 1 of forked environments: run
// as the parent of a "runtime" and of an orphan, as the stubs run it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct InitRun {
  bool reported = false;  // a whole int came back on the status pipe
  int runtime_status = 0;
  int init_status = 0;
};

// Forks a process that forks the runtime (exits with `code`, or is killed by `signal`, after
// leaving an orphan behind) and then execs kindling-init with `args` (empty: the real ones).
InitRun runInit(int code, int signal, const std::vector<std::string>& args = {}) {
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  const pid_t init = ::fork();
  if (init == 0) {
    ::close(pipefd[0]);
    const pid_t runtime = ::fork();
    if (runtime == 0) {
      if (::fork() == 0) {  // the orphan: re-parented to init, which must reap it
        ::usleep(20000);
        ::_exit(0);
      }
      ::usleep(50000);
      if (signal != 0) ::kill(::getpid(), signal);
      ::_exit(code);
    }
    const std::string fd = std::to_string(pipefd[1]);
    const std::string pid = std::to_string(runtime);
    std::vector<std::string> argv = args.empty() ? std::vector<std::string>{"init", fd, pid} : args;
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    char* envp[] = {nullptr};
    ::execve(KD_INIT_BINARY, raw.data(), envp);
    ::_exit(126);
  }
  ::close(pipefd[1]);
  InitRun run;
  int status = 0;
  run.reported = ::read(pipefd[0], &status, sizeof status) == static_cast<ssize_t>(sizeof status);
  run.runtime_status = status;
  ::close(pipefd[0]);
  EXPECT_EQ(::waitpid(init, &run.init_status, 0), init);
  return run;
}

TEST(KindlingInit, ReportsTheRuntimesExitStatusAndExits) {
  const InitRun run = runInit(7, 0);
  ASSERT_TRUE(run.reported);
  EXPECT_TRUE(WIFEXITED(run.runtime_status));
  EXPECT_EQ(WEXITSTATUS(run.runtime_status), 7);
  EXPECT_TRUE(WIFEXITED(run.init_status));
  EXPECT_EQ(WEXITSTATUS(run.init_status), 0);
}

TEST(KindlingInit, ReportsASignal) {
  const InitRun run = runInit(0, SIGKILL);
  ASSERT_TRUE(run.reported);
  EXPECT_TRUE(WIFSIGNALED(run.runtime_status));
  EXPECT_EQ(WTERMSIG(run.runtime_status), SIGKILL);
}

TEST(KindlingInit, RefusesBadArguments) {
  for (const auto& args : {std::vector<std::string>{"init"},
                           std::vector<std::string>{"init", "x", "12"},
                           std::vector<std::string>{"init", "3", "0"}}) {
    const InitRun run = runInit(0, 0, args);
    EXPECT_FALSE(run.reported);
    EXPECT_TRUE(WIFEXITED(run.init_status));
    EXPECT_EQ(WEXITSTATUS(run.init_status), 127);
  }
}

}  // namespace
