// kindling's test payload: a provided.al2023 custom-runtime `bootstrap` whose behaviour is picked
// by _HANDLER, so that every fault the engine must survive is a one-line test, and whose `noop`
// is the function of the latency benchmark (the Runtime API client is a raw keep-alive socket,
// see http_client.h; per-invoke cost is a few syscalls and no heap allocation).
//
// Environment: AWS_LAMBDA_RUNTIME_API=host:port (required), _HANDLER=<behaviour>[:<argument>].
// Every result is JSON, posted to /invocation/<id>/response with Content-Type: application/json.
// errno fields below are {"errno": n, "error": "ENAME" or "", "message": strerror or ""}.
//
//   echo                 respond with the event bytes unchanged
//   noop                 respond {}
//   sleep:<ms>           sleep, then {"slept_ms":ms}
//   crash                abort() -> SIGABRT during the invocation, nothing posted
//   segv                 write through a null pointer -> SIGSEGV, nothing posted
//   exit:<code>          _exit(code) during the invocation (0..255), nothing posted
//   memhog:<MiB>         mmap + touch 1 MiB chunks until <MiB> or mmap fails, then
//                        {"requested_mib","allocated_mib",errno...}; freed after responding
//                        (under a memory cgroup the OOM killer usually ends it first)
//   forkbomb[:<max>]     fork sleeping children until fork fails (or <max> children), SIGKILL and
//                        reap them, then {"forked","reaped","capped",errno...}
//   stdout_flood:<MiB>   write <MiB> MiB of text lines to stdout, then
//                        {"requested_mib","written_bytes",errno...}
//   stderr:<text>        write text + "\n" to stderr, then {"stderr":text}
//   log:<text>           write text + "\n" to stdout, then {"stdout":text}
//   fill_tmp:<MiB>       write /tmp/fill (truncated first) until <MiB> MiB or a write/fsync error,
//                        then {"path","requested_mib","written_bytes","stage",errno...}
//                        (stage: "", "open", "write" or "fsync"); the file is left in place
//   print_env            {"NAME":"value",...} of the whole environment
//   read:<path>          {"path","bytes","truncated","content"} (content capped at 4 MiB, invalid
//                        UTF-8 replaced by U+FFFD) or {"path",errno...}
//   kill:<pid>           kill(pid, SIGKILL) -> {"pid","signal":"SIGKILL","ok",errno...}
//                        (pid may be negative or -1: do not run kill:-1 as root outside a sandbox)
//   net:<host:port>      TCP connect with a 3 s timeout -> {"target","address","connected",
//                        errno...} or {"target","connected":false,"gai_error"}
//   threads:<n>          start n pthreads (64 KiB stacks), join them ->
//                        {"requested","started","joined","ran",errno...}
//   setuid               setuid(0) -> {"uid_before","euid_before","ok",errno...,"uid_after",
//                        "euid_after"}
//   mount                mount a 64 KiB tmpfs on a fresh /tmp/kd-payload-mount-XXXXXX, unmount,
//                        rmdir -> {"target","stage","ok",errno...[,"unmounted"]}
//   slow_init:<ms>       sleep before the first /next, then behave as echo
//   init_error           POST /init/error (Lambda-Runtime-Function-Error-Type:
//                        Runtime.TestInitError) with {"errorMessage":"init failed",
//                        "errorType":"Runtime.TestInitError"}, exit 1
//   init_exit:<code>     exit(code) before the first /next
//   error                POST /invocation/<id>/error (Lambda-Runtime-Function-Error-Type:
//                        Function.TestError) with {"errorMessage":"test error","errorType":
//                        "TestError","stackTrace":["frame1"]}
//   big_response:<bytes> respond with a JSON string "xxx..." whose encoding is exactly <bytes>
//                        bytes including both quotes (minimum 2)
//   double_response      POST /response {"response":"first"} then {"response":"second"} for the
//                        same id; print "double_response: first_status=S1 second_status=S2" on
//                        stdout
//   chunked_echo         echo with Transfer-Encoding: chunked (about 3 chunks, at most 32 KiB
//                        each) and "Trailer: Lambda-Runtime-Function-Error-Body,
//                        Lambda-Runtime-Function-Error-Type" with an empty trailer section, as
//                        aws-lambda-go sends
//   deadline             {"request_id","deadline_ms","remaining_ms","headers":{every
//                        Lambda-Runtime-* header of /next as received}} (remaining = deadline -
//                        now; null if the deadline header was missing)
//   cpu:<n>              {"n":n,"sum":"<decimal>"}: sum of i*i mod 2^64 for i in [0, n)
//
// Unknown behaviour: POST /init/error Runtime.HandlerNotFound, exit 1. Bad argument:
// Runtime.MalformedHandlerName, exit 1. A post answered with a status other than 202 is logged
// to stderr and the loop goes on; a failed connection or a /next status other than 200 is logged
// and the process exits 1. Missing AWS_LAMBDA_RUNTIME_API: exit 2.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "behaviours.h"
#include "kindling/lambda/http_client.h"
#include "kindling/lambda/runtime_client.h"

namespace {

using kindling::payloads::Behaviour;
using kindling::payloads::HandlerError;
using kindling::lambda::HttpClient;
using kindling::lambda::HttpError;
using kindling::lambda::Invocation;
using kindling::payloads::Payload;
using kindling::lambda::RuntimeClient;

void logError(std::string_view message) {
  std::string line = "kindling-test-payload: ";
  line.append(message).push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

int run() {
  // What the process was started with, before the line below changes it (printenv shows it:
  // the sandbox tests check that no ignored disposition is inherited).
  struct sigaction at_start {};
  if (::sigaction(SIGPIPE, nullptr, &at_start) == 0) {
    ::setenv("KINDLING_PAYLOAD_SIGPIPE_AT_START",
             at_start.sa_handler == SIG_IGN ? "ignored" : "default", 1);
  }
  // Peer closes surface as EPIPE (sockets use MSG_NOSIGNAL; this also covers stdout pipes).
  ::signal(SIGPIPE, SIG_IGN);
  const char* api_address = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api_address == nullptr || *api_address == '\0') {
    logError("AWS_LAMBDA_RUNTIME_API is not set");
    return 2;
  }
  HttpClient http;
  HttpError http_error;
  if (!http.init(api_address, http_error)) {
    logError(http_error.message());
    return 1;
  }
  RuntimeClient api(http, kindling::payloads::kUserAgent);

  const char* handler = std::getenv("_HANDLER");
  Behaviour behaviour;
  HandlerError handler_error;
  if (!kindling::payloads::parseHandler(handler != nullptr ? handler : "", behaviour,
                                        handler_error)) {
    nlohmann::json body{{"errorMessage", handler_error.message},
                        {"errorType", handler_error.error_type}};
    logError(handler_error.message);
    if (api.postInitError(handler_error.error_type,
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) !=
        202) {
      logError(api.failureMessage());
    }
    return 1;
  }

  Payload payload(std::move(behaviour), api);
  payload.runInit();
  Invocation invocation;
  for (;;) {
    if (!api.next(invocation)) {
      logError(api.failureMessage());
      return 1;
    }
    if (!payload.handle(invocation)) return 1;
  }
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    logError(std::string("fatal: ") + e.what());
  } catch (...) {
    logError("fatal: unknown exception");
  }
  return 1;
}
