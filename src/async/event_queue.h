// The durable queue of asynchronous (Event) invocations, table async_events of registry.db on its
// own SQLite connection. An event is committed before enqueue() returns (the API answers 202
// only after that) and deleted only once its outcome has been recorded (complete()), so a crash
// at any point redelivers it after a restart: delivery is at least once, as on Lambda.
//
// Claims live in memory: claimDue() hands an event to one deliverer and hides it until it is
// rescheduled or completed; after a restart every stored event is claimable again. The due order
// (next_attempt_ms, id) of unclaimed events is an in-memory index loaded at open, so claiming
// never scans the table and the deliverer knows when to wake up without polling.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/sqlite.h"

namespace kindling::async {

struct AsyncEvent {
  int64_t id = 0;
  std::string request_id;
  std::string function;   // plain function name
  std::string qualifier;  // "" = $LATEST, a version or an alias
  std::string payload;    // the event (JSON)
  int64_t enqueued_ms = 0;      // epoch ms
  int attempts = 0;             // times the function ran
  int throttles = 0;            // consecutive throttles / system errors (backoff exponent)
  int64_t next_attempt_ms = 0;  // epoch ms the event is due
  std::string last_response;        // last function error payload ("" when none)
  std::string last_version;         // version that produced it
  std::string last_function_error;  // "Unhandled" or ""
};

class EventQueue {  // thread-safe
 public:
  // Opens its own connection to the registry database (Registry::open must have migrated it to
  // schema 4) and loads the due index of every stored event.
  static Result<std::unique_ptr<EventQueue>> open(const std::filesystem::path& db_path);
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Durably appends an event due at now_ms (committed on return); returns its id. Thread-safe.
  Result<int64_t> enqueue(std::string_view request_id, std::string_view function,
                          std::string_view qualifier, std::string_view payload, int64_t now_ms);
  // Claims up to `max` events due at now_ms, earliest first, and loads them. A claimed event is
  // not returned again until rescheduled or released. Thread-safe.
  Result<std::vector<AsyncEvent>> claimDue(int64_t now_ms, size_t max);
  // Persists a claimed event's attempts, throttles, next_attempt_ms and last_* fields and makes
  // it claimable again at next_attempt_ms. Thread-safe.
  Status reschedule(const AsyncEvent& event);
  // Releases a claim unchanged (the event stays due at `next_attempt_ms`). Thread-safe.
  void release(int64_t id, int64_t next_attempt_ms);
  // Deletes an event whose outcome has been recorded. Thread-safe.
  Status complete(int64_t id);
  // The stored payload of an event (e.g. to build a destination record); NotFound. Thread-safe.
  Result<std::string> payload(int64_t id) const;
  // Due time of the earliest unclaimed event, if any. Thread-safe.
  std::optional<int64_t> nextDueMs() const;
  // Events stored (claimed or not). Thread-safe.
  size_t size() const;
  // Events claimed and not yet rescheduled, released or completed. Thread-safe.
  size_t claimed() const;

 private:
  struct Statements;
  EventQueue();

  mutable std::mutex mu_;
  store::sql::Connection conn_;                  // guarded by mu_
  std::unique_ptr<Statements> stmts_;            // guarded by mu_
  std::set<std::pair<int64_t, int64_t>> due_;    // (next_attempt_ms, id) unclaimed; by mu_
  std::unordered_set<int64_t> claimed_;          // ids handed out by claimDue; by mu_
};

}  // namespace kindling::async
