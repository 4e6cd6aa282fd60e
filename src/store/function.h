// The function model: one function's configuration as the registry stores it and the API returns
// it (AWS FunctionConfiguration field names live in api/, not here).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace kindling::store {

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
  std::string version = "$LATEST";
};

}  // namespace kindling::store
