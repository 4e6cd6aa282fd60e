// The AWS-compatible HTTP API (Lambda 2015-03-31 routes + a few kindling endpoints). It turns
// requests into typed operations on the registry, the code store and the engine, and renders
// AWS's wire shapes. Management operations run on a small blocking pool (SQLite, zip
// extraction); Invoke stays on the I/O threads and never touches SQLite (configs are cached).
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/thread_pool.hpp>

#include "http/server.h"
#include "observe/log_store.h"
#include "observe/metrics.h"
#include "scheduler/engine.h"
#include "scheduler/runtime_catalog.h"
#include "store/code_store.h"
#include "store/registry.h"

namespace kindling::api {

struct ApiDeps {
  store::Registry& registry;
  store::CodeStore& code;
  observe::LogStore& logs;
  observe::MetricsRegistry& metrics;
  const scheduler::RuntimeCatalog& catalog;
  scheduler::Engine& engine;
  boost::asio::thread_pool& blocking;
  std::string default_region = "us-east-1";
};

// Largest Invoke request body (AWS: "Request must be smaller than 6291456 bytes").
inline constexpr uint64_t kMaxInvokeRequestBytes = 6291456;
// Largest CreateFunction body: a 50 MB zip is ~70 MB of base64 JSON.
inline constexpr uint64_t kMaxCreateFunctionBytes = 70167211;

class ApiService {
 public:
  explicit ApiService(ApiDeps deps);
  // Loads every function's configuration into the in-memory cache.
  Status loadFunctions();
  // Handles one request (thread-safe).
  void handle(http::Request&& req, http::Responder responder);
  // Body limits and the 413 answers for the HTTP server.
  http::ServerOptions serverOptions() const;
  // Invocations in flight (for graceful shutdown).
  int64_t inFlight() const { return in_flight_.load(); }

  struct Ctx;  // one request in progress (defined in api_service.cc)

 private:
  struct Cached {
    std::shared_ptr<const store::FunctionConfig> config;
    std::filesystem::path code_dir;
  };
  void route(const std::shared_ptr<Ctx>& ctx);
  void invoke(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void createFunction(const std::shared_ptr<Ctx>& ctx);
  void getFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name, bool configuration_only);
  void listFunctions(const std::shared_ptr<Ctx>& ctx);
  void deleteFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void tags(const std::shared_ptr<Ctx>& ctx, const std::string& raw_arn);
  void logStreams(const std::shared_ptr<Ctx>& ctx, const std::string& name, const std::string* stream);
  void downloadCode(const std::shared_ptr<Ctx>& ctx, const std::string& name);
  // Resolves a FunctionName parameter to a cached function ($LATEST only for now).
  Result<Cached> resolve(const Ctx& ctx, const std::string& raw_name, bool allow_qualifier) const;
  std::string regionOf(const http::Request& req) const;

  ApiDeps deps_;
  std::atomic<int64_t> in_flight_{0};
  std::mutex mgmt_mu_;  // serialises management writes (create/delete/tag) against each other
  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;  // guarded by cache_mu_
};

}  // namespace kindling::api
