// The function model: one function's configuration as the registry stores it and the API returns
// it (AWS FunctionConfiguration field names live in api/, not here).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindling::store {

// A layer version a function uses, pinned to its content: deleting the layer version later does
// not change functions (or published versions) that already use it, as on Lambda.
struct LayerRef {
  std::string arn;              // arn:aws:lambda:<region>:<account>:layer:<name>:<version>
  std::string code_sha256_hex;  // code store key of the layer's zip
  int64_t code_size = 0;        // zip bytes
  bool operator==(const LayerRef&) const = default;
};

struct FunctionConfig {
  std::string name;                 // 1-64 chars [a-zA-Z0-9-_]
  std::string runtime;              // e.g. "python3.11", "provided.al2023"
  std::string handler;              // e.g. "app.handler"
  std::string role;                 // IAM role ARN as given (not enforced)
  std::string description;
  int memory_mb = 128;              // 128..10240
  int timeout_s = 3;                // 1..900
  int ephemeral_storage_mb = 512;   // 512..10240
  std::string architecture = "x86_64";
  std::string package_type = "Zip";
  std::string tracing_mode = "PassThrough";
  std::string log_format = "Text";
  std::map<std::string, std::string> environment;
  std::map<std::string, std::string> tags;
  std::string code_sha256;          // base64 of the zip's SHA-256 (AWS CodeSha256)
  std::string code_sha256_hex;      // same digest, hex (code store key)
  int64_t code_size = 0;            // zip bytes
  int64_t last_modified_ms = 0;     // epoch millis
  std::string revision_id;          // uuid4, changes on every update
  std::string version = "$LATEST";  // "$LATEST" or a published version number "1", "2", ...
  std::vector<LayerRef> layers;     // up to 5, extracted in this order under /opt
  std::string dead_letter_arn;      // DeadLetterConfig.TargetArn, "" when none
  // SnapStart.ApplyOn: "None" or "PublishedVersions". On $LATEST it is the setting; on a
  // published version it is the value at publish time (see snapStartOn()).
  std::string snap_start_apply_on = "None";
};

inline constexpr std::string_view kSnapStartNone = "None";
inline constexpr std::string_view kSnapStartPublishedVersions = "PublishedVersions";

// SnapStart's OptimizationStatus "On": a published version (never $LATEST) created while
// ApplyOn was PublishedVersions. Its environments initialise with
// AWS_LAMBDA_INITIALIZATION_TYPE=snap-start and report Restore Duration. Thread-safe (pure).
inline bool snapStartOn(const FunctionConfig& fn) {
  return fn.version != "$LATEST" && fn.snap_start_apply_on == kSnapStartPublishedVersions;
}

// An alias: a name for one version, optionally routing a share of invocations to a second one.
struct Alias {
  std::string name;
  std::string function_version;                        // a version number or "$LATEST"
  std::string description;
  std::map<std::string, double> additional_weights;    // RoutingConfig.AdditionalVersionWeights
  std::string revision_id;
};

// PutProvisionedConcurrencyConfig for one version or alias.
struct ProvisionedConfig {
  std::string qualifier;
  int requested = 0;
  int64_t last_modified_ms = 0;
};

// PutFunctionEventInvokeConfig for $LATEST, a version or an alias.
struct EventInvokeConfig {
  std::string qualifier;
  std::optional<int> max_retry_attempts;  // 0..2; unset = Lambda's default 2
  std::optional<int> max_event_age_s;     // 60..21600; unset = Lambda's default 21600
  std::string on_success;                 // destination ARN or ""
  std::string on_failure;                 // destination ARN or ""
  int64_t last_modified_ms = 0;
};

// Everything the registry keeps about one function (loaded at start into the API's cache).
struct FunctionRecord {
  FunctionConfig latest;                             // $LATEST (tags included)
  std::map<int, FunctionConfig> versions;            // published, immutable; version = "N"
  std::map<std::string, Alias> aliases;              // by alias name
  std::optional<int> reserved_concurrency;           // PutFunctionConcurrency
  std::map<std::string, ProvisionedConfig> provisioned;      // by qualifier
  std::map<std::string, EventInvokeConfig> event_invoke;     // by qualifier
  int last_version = 0;                              // highest version number ever published
};

}  // namespace kindling::store
