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

#include "async/invoker.h"
#include "http/server.h"
#include "observe/log_store.h"
#include "observe/metrics.h"
#include "scheduler/engine.h"
#include "scheduler/runtime_catalog.h"
#include "store/code_store.h"
#include "store/registry.h"

namespace kindling::store {
class LayerStore;
}
namespace kindling::async {
class AsyncService;
}
namespace kindling::scheduler {
class ConcurrencyLimiter;
}

namespace kindling::api {

struct Route;

struct ApiDeps {
  store::Registry& registry;
  store::CodeStore& code;
  observe::LogStore& logs;
  observe::MetricsRegistry& metrics;
  const scheduler::RuntimeCatalog& catalog;
  scheduler::Engine& engine;
  boost::asio::thread_pool& blocking;
  scheduler::ConcurrencyLimiter& limiter;
  store::LayerStore* layers = nullptr;   // layer versions and merged /opt trees
  async::AsyncService* async = nullptr;  // Event invocations, destinations, local queues
  std::string default_region = "us-east-1";
};

// Largest Invoke request body (AWS: "Request must be smaller than 6291456 bytes").
inline constexpr uint64_t kMaxInvokeRequestBytes = 6291456;
// Largest CreateFunction body: a 50 MB zip is ~70 MB of base64 JSON.
inline constexpr uint64_t kMaxCreateFunctionBytes = 70167211;

class ApiService : public async::FunctionInvoker {
 public:
  explicit ApiService(ApiDeps deps);
  // Loads every function (versions, aliases, settings) into the in-memory cache and applies
  // concurrency settings (reserved, provisioned) to the limiter and the engine.
  Status loadFunctions();
  // Every merged layer tree the cached functions use (for LayerStore::pruneMaterialized at
  // start-up). Thread-safe.
  std::vector<std::filesystem::path> optDirsInUse() const;
  // Handles one request (thread-safe).
  void handle(http::Request&& req, http::Responder responder);
  // Body limits and the 413 answers for the HTTP server.
  http::ServerOptions serverOptions() const;
  // Invocations in flight (for graceful shutdown).
  int64_t inFlight() const { return in_flight_.load(); }

  // async::FunctionInvoker (used by the async workers). Thread-safe.
  Result<async::AsyncTarget> asyncTarget(const std::string& function,
                                         const std::string& qualifier) override;
  void invokeAsyncEvent(const std::string& function, const std::string& qualifier,
                        std::string payload, std::string request_id,
                        std::function<void(async::InvokeOutcome)> done) override;

  struct Ctx;  // one request in progress (api_internal.h)

  // One function as the API sees it: an immutable snapshot, replaced on every write.
  struct Entry {
    scheduler::FunctionTarget latest;
    std::map<int, scheduler::FunctionTarget> versions;
    std::map<std::string, store::Alias> aliases;
    std::optional<int> reserved_concurrency;
    std::map<std::string, store::ProvisionedConfig> provisioned;
    std::map<std::string, store::EventInvokeConfig> event_invoke;
    int last_version = 0;
  };
  // A FunctionName (+ Qualifier) resolved against the cache.
  struct Resolved {
    std::shared_ptr<const Entry> entry;
    std::string qualifier;          // as given ("" when none); "$LATEST", "N" or an alias name
    const store::Alias* alias = nullptr;            // when the qualifier names an alias
    const scheduler::FunctionTarget* target = nullptr;  // version the qualifier names (an
                                                    // alias: its primary version)
  };

 private:
  void route(const std::shared_ptr<Ctx>& ctx);
  // --- functions and invoke (api_service.cc)
  void invoke(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void createFunction(const std::shared_ptr<Ctx>& ctx);
  void getFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name, bool configuration_only);
  void listFunctions(const std::shared_ptr<Ctx>& ctx);
  void deleteFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void tags(const std::shared_ptr<Ctx>& ctx, const std::string& raw_arn);
  void logStreams(const std::shared_ptr<Ctx>& ctx, const std::string& name, const std::string* stream);
  void downloadCode(const std::shared_ptr<Ctx>& ctx, const std::string& name);
  // --- versions, aliases, updates, concurrency, account (control_api.cc)
  void updateFunctionCode(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void updateFunctionConfiguration(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void publishVersion(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void listVersions(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name);
  void aliasOperation(const std::shared_ptr<Ctx>& ctx, const Route& route);
  void functionConcurrency(const std::shared_ptr<Ctx>& ctx, const Route& route);
  void provisionedConcurrency(const std::shared_ptr<Ctx>& ctx, const Route& route);
  void accountSettings(const std::shared_ptr<Ctx>& ctx);
  // --- layers (layers_api.cc)
  void layerOperation(const std::shared_ptr<Ctx>& ctx, const Route& route);
  // --- asynchronous invocation (async_api.cc)
  void eventInvokeConfig(const std::shared_ptr<Ctx>& ctx, const Route& route);
  void queueOperation(const std::shared_ptr<Ctx>& ctx, const Route& route);
  // Accepts an Event invocation of a resolved function: durably queued before the 202.
  void invokeEvent(const std::shared_ptr<Ctx>& ctx, const Resolved& fn, std::string payload);

  // Resolves a FunctionName parameter (+ ?Qualifier) against the cache. Unknown function,
  // version or alias: NotFound with AWS's message. `allow_qualifier` false refuses anything
  // but $LATEST/none (as operations on unqualified functions do).
  Result<Resolved> resolve(const Ctx& ctx, const std::string& raw_name, bool allow_qualifier) const;
  // The cached entry of a function by plain name, or null. Thread-safe.
  std::shared_ptr<const Entry> entry(const std::string& name) const;
  // The cached entry, or null after answering 404 "Function not found: <arn>". Thread-safe.
  std::shared_ptr<const Entry> entryOrNotFound(const std::shared_ptr<Ctx>& ctx,
                                               const std::string& name,
                                               const std::string& region) const;
  // Re-reads one function from the registry and replaces its cache entry (or drops it when the
  // function is gone). Caller holds mgmt_mu_.
  Status refresh(const std::string& name);
  // Builds the runnable target of a stored configuration (code dir, merged layers).
  Result<scheduler::FunctionTarget> makeTarget(const store::FunctionConfig& config) const;
  // Builds a cache entry from a registry record.
  Result<std::shared_ptr<const Entry>> makeEntry(const store::FunctionRecord& record) const;
  // Applies an entry's provisioned-concurrency configs to the engine.
  void applyProvisioned(const Entry& entry);
  // Picks the version an invocation of `fn` runs (weighted alias routing).
  const scheduler::FunctionTarget* pickTarget(const Resolved& fn) const;
  std::string regionOf(const http::Request& req) const;
  // Lambda's 250 MB limit on code plus layers, unzipped (InvalidArgument with AWS's text).
  Status checkUnzippedSize(const std::filesystem::path& code_dir,
                           const std::vector<store::LayerRef>& layers) const;
  // Deletes a code package when nothing references it any more. Caller holds mgmt_mu_.
  void collectCode(const std::string& sha256_hex);

  ApiDeps deps_;
  std::atomic<int64_t> in_flight_{0};
  std::mutex mgmt_mu_;  // serialises management writes against each other
  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> cache_;  // guarded by cache_mu_
};

}  // namespace kindling::api
