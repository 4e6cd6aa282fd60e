// The test payload's behaviours: parsing of _HANDLER and what each behaviour does in the init
// phase and per invocation. The catalogue with the exact output of each is at the top of
// payload_main.cc and in README.md.
// Not thread-safe: one Payload per process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kindling/lambda/runtime_client.h"

namespace kindling::payloads {

// The payload speaks the Runtime API through the C++ SDK's low-level client (runtimes/cpp).
using lambda::HttpHeader;
using lambda::Invocation;
using lambda::RuntimeClient;
inline constexpr std::string_view kUserAgent = "kindling-test-payload/1.0";

enum class BehaviourKind {
  Echo,
  Noop,
  Sleep,
  Crash,
  Segv,
  Exit,
  MemHog,
  ForkBomb,
  StdoutFlood,
  Stderr,
  Log,
  FillTmp,
  PrintEnv,
  Read,
  Kill,
  Net,
  Threads,
  Setuid,
  Mount,
  SlowInit,
  InitError,
  InitExit,
  Error,
  BigResponse,
  DoubleResponse,
  ChunkedEcho,
  Deadline,
  Cpu,
};

struct Behaviour {
  BehaviourKind kind = BehaviourKind::Echo;
  std::int64_t number = 0;  // the numeric argument (ms, MiB, code, pid, count, bytes)
  std::string text;         // the text argument (stderr/log text, path, host:port)
};

// Why _HANDLER was rejected: the init/error type to report and a message.
struct HandlerError {
  std::string error_type;  // Runtime.HandlerNotFound or Runtime.MalformedHandlerName
  std::string message;
};

// Parses a _HANDLER value ("name" or "name:argument"). Thread-safe (pure).
bool parseHandler(std::string_view handler, Behaviour& out, HandlerError& error);

// Canonical error bodies (also asserted by the tests).
inline constexpr std::string_view kInitErrorType = "Runtime.TestInitError";
inline constexpr std::string_view kInitErrorBody =
    R"({"errorMessage":"init failed","errorType":"Runtime.TestInitError"})";
inline constexpr std::string_view kFunctionErrorType = "Function.TestError";
inline constexpr std::string_view kFunctionErrorBody =
    R"({"errorMessage":"test error","errorType":"TestError","stackTrace":["frame1"]})";

class Payload {
 public:
  // `api` must outlive the payload.
  Payload(Behaviour behaviour, RuntimeClient& api);
  ~Payload();
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;

  // Init phase (before the first /next): sleeps for slow_init, posts init/error and exits for
  // init_error, exits for init_exit; nothing for the others. Not thread-safe.
  void runInit();

  // Handles one invocation, posting its result. Returns false if the Runtime API could not be
  // reached (the caller exits); a non-202 answer to a post is logged to stderr, not fatal.
  // May not return (crash, segv, exit). Not thread-safe.
  bool handle(const Invocation& invocation);

 private:
  // Computes the JSON result of a behaviour that answers with one plain /response.
  void computeResult(const Invocation& invocation);
  bool checkPost(int status);
  void releaseMemory();

  Behaviour behaviour_;
  RuntimeClient& api_;
  std::string result_;              // result body, reused between invocations
  std::string_view result_view_;    // what to post: result_ or a view of the event
  std::vector<void*> held_chunks_;  // memhog's mappings, released after the response
};

}  // namespace kindling::payloads
