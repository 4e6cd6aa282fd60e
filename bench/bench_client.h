// The benchmark's view of a kindling daemon: the AWS Lambda API over plain HTTP/1.1.
//
// Why its own client (and not cli::HttpClient): the invoke loop must add as little as possible
// to what it measures. An invoke request is serialised once into bytes (InvokeRequestBytes) and
// written as-is on every call; the reply is parsed into a reused Reply (its strings keep their
// capacity), so a warm round trip allocates almost nothing on the client side. One Connection
// is one keep-alive socket, owned by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kindling::bench {

// "http://host:port" (or "host:port") of the daemon's AWS API.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

// Parses "http://HOST:PORT[/]" or "HOST:PORT". Pure; thread-safe.
Result<Endpoint> parseEndpoint(std::string_view url);

// One HTTP response, reduced to what the benchmark needs.
struct Reply {
  int status = 0;
  std::string body;
  std::string function_error;  // X-Amz-Function-Error, empty when none
  std::string log_result;      // X-Amz-Log-Result (base64 log tail), empty when none
};

// A complete HTTP/1.1 request (keep-alive) as bytes. Pure; thread-safe.
std::string buildRequest(std::string_view method, std::string_view target,
                         const Endpoint& endpoint, std::string_view body,
                         std::string_view extra_headers = {});

// The bytes of POST /2015-03-31/functions/<name>/invocations (RequestResponse), with
// "X-Amz-Log-Type: Tail" when `tail`. Pure; thread-safe.
std::string invokeRequestBytes(const Endpoint& endpoint, std::string_view function_name,
                               std::string_view payload, bool tail);

// The bytes of the same invoke with "X-Amz-Invocation-Type: Event": the daemon answers 202 once
// the event is queued durably and runs it later. Pure; thread-safe.
std::string eventInvokeRequestBytes(const Endpoint& endpoint, std::string_view function_name,
                                    std::string_view payload);

class Connection {
 public:
  // Connects to the endpoint (TCP_NODELAY). Not thread-safe: one connection per thread.
  static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes `request` (complete bytes) and reads one response into `reply`. If the server had
  // closed a reused connection before answering, reconnects and retries once. Not thread-safe.
  Status roundTrip(std::string_view request, Reply& reply);

  struct Impl;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Management calls used by the benchmark (each over `conn`). Not thread-safe (per connection).
struct FunctionSpec {
  std::string name;
  std::string runtime;
  std::string handler;
  int memory_mb = 128;
  int timeout_s = 10;
  std::string_view zip_base64;  // Code.ZipFile
};

// POST /2015-03-31/functions. Error context carries the HTTP status and the AWS error message;
// ErrorCode::InvalidRuntime when the daemon refused the runtime (so callers can skip it).
Status createFunction(Connection& conn, const Endpoint& endpoint, const FunctionSpec& spec);
// DELETE /2015-03-31/functions/<name>; 204 and 404 both count as done.
Status deleteFunction(Connection& conn, const Endpoint& endpoint, std::string_view name);

// An event-invoke config of $LATEST: destination ARNs (empty = none) and MaximumRetryAttempts
// (nullopt = the default, 2).
struct EventInvokeSpec {
  std::string on_success;
  std::string on_failure;
  std::optional<int> max_retry_attempts;
};
// PUT /2019-09-25/functions/<name>/event-invoke-config (replaces the config); expects 200.
Status putEventInvokeConfig(Connection& conn, const Endpoint& endpoint, std::string_view name,
                            const EventInvokeSpec& spec);

// One local queue of GET /kindling/v1/queues (the daemon lists only queues holding messages).
struct QueueCount {
  std::string name;
  int64_t visible = 0;    // ApproximateNumberOfMessages
  int64_t in_flight = 0;  // ApproximateNumberOfMessagesNotVisible
};
// The bytes of GET /kindling/v1/queues, built once by pollers. Pure; thread-safe.
std::string queueListRequestBytes(const Endpoint& endpoint);
// Sends `request` (queueListRequestBytes) over `conn` and parses the reply into `out` (cleared
// first; its capacity is reused). Errors: transport, non-200, malformed JSON.
Status listQueues(Connection& conn, const std::string& request, Reply& reply,
                  std::vector<QueueCount>& out);

// GET /metrics: the daemon's Prometheus text. Errors: transport, non-200.
Result<std::string> scrapeMetrics(Connection& conn, const Endpoint& endpoint);
// The value of the sample `family{function="<function>"}` (the function label alone) in a
// Prometheus text; nullopt when absent. Pure; thread-safe.
std::optional<double> functionMetric(std::string_view prometheus_text, std::string_view family,
                                     std::string_view function);

// Figures from the REPORT line in a decoded log tail.
struct ReportFigures {
  double duration_ms = 0;
  std::optional<double> init_duration_ms;
};
// Finds the last "REPORT RequestId:" line of `log_tail` and reads "Duration" and, when present,
// "Init Duration". nullopt when there is no REPORT line or no Duration. Pure; thread-safe.
std::optional<ReportFigures> parseReportLine(std::string_view log_tail);

}  // namespace kindling::bench
