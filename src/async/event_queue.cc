#include "async/event_queue.h"

#include <fmt/format.h>

namespace kindling::async {

using store::sql::columnText;
using store::sql::Stmt;
using store::sql::Use;

struct EventQueue::Statements {
  Stmt insert, select, update, remove, payload;
};

namespace {

constexpr const char* kInsertSql =
    "INSERT INTO async_events (request_id, function_name, qualifier, payload, enqueued_ms, "
    "next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?)";
constexpr const char* kSelectSql =
    "SELECT request_id, function_name, qualifier, payload, enqueued_ms, attempts, throttles, "
    "next_attempt_ms, last_response, last_version, last_function_error FROM async_events "
    "WHERE id = ?";
constexpr const char* kUpdateSql =
    "UPDATE async_events SET attempts = ?, throttles = ?, next_attempt_ms = ?, "
    "last_response = ?, last_version = ?, last_function_error = ? WHERE id = ?";
constexpr const char* kDeleteSql = "DELETE FROM async_events WHERE id = ?";
constexpr const char* kPayloadSql = "SELECT payload FROM async_events WHERE id = ?";

std::string columnBlob(sqlite3_stmt* s, int col) {
  const void* p = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

}  // namespace

EventQueue::EventQueue() : stmts_(std::make_unique<Statements>()) {}
EventQueue::~EventQueue() = default;

Result<std::unique_ptr<EventQueue>> EventQueue::open(const std::filesystem::path& db_path) {
  auto conn = store::sql::Connection::open(db_path);
  if (!conn) return tl::unexpected(std::move(conn.error()).wrap("event queue"));
  std::unique_ptr<EventQueue> q(new EventQueue());
  q->conn_ = std::move(*conn);
  sqlite3* db = q->conn_.get();
  Statements& s = *q->stmts_;
  KD_TRY_STATUS(s.insert.prepare(db, kInsertSql));
  KD_TRY_STATUS(s.select.prepare(db, kSelectSql));
  KD_TRY_STATUS(s.update.prepare(db, kUpdateSql));
  KD_TRY_STATUS(s.remove.prepare(db, kDeleteSql));
  KD_TRY_STATUS(s.payload.prepare(db, kPayloadSql));
  // Every stored event is due again: claims of a previous process died with it.
  Stmt all;
  KD_TRY_STATUS(all.prepare(db, "SELECT next_attempt_ms, id FROM async_events"));
  Use use(db, all);
  for (;;) {
    auto row = use.step("load async_events");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    q->due_.emplace(sqlite3_column_int64(all.get(), 0), sqlite3_column_int64(all.get(), 1));
  }
  return q;
}

Result<int64_t> EventQueue::enqueue(std::string_view request_id, std::string_view function,
                                    std::string_view qualifier, std::string_view payload,
                                    int64_t now_ms) {
  std::lock_guard lock(mu_);
  sqlite3* db = conn_.get();
  Use use(db, stmts_->insert);
  // Autocommit: the insert is durable (WAL, synchronous=NORMAL) once step returns.
  use.text(request_id).text(function).text(qualifier).text(payload).i64(now_ms).i64(now_ms);
  KD_TRY_STATUS(use.run("insert async_events"));
  const int64_t id = sqlite3_last_insert_rowid(db);
  due_.emplace(now_ms, id);
  return id;
}

Result<std::vector<AsyncEvent>> EventQueue::claimDue(int64_t now_ms, size_t max) {
  std::lock_guard lock(mu_);
  std::vector<AsyncEvent> out;
  sqlite3* db = conn_.get();
  while (out.size() < max && !due_.empty() && due_.begin()->first <= now_ms) {
    const int64_t id = due_.begin()->second;
    Use use(db, stmts_->select);
    use.i64(id);
    auto row = use.step("select async_events");
    if (!row) return tl::unexpected(std::move(row.error()));
    due_.erase(due_.begin());
    if (!*row) continue;  // deleted behind our back (cannot happen with one owner): skip
    sqlite3_stmt* st = use.get();
    AsyncEvent e;
    e.id = id;
    e.request_id = columnText(st, 0);
    e.function = columnText(st, 1);
    e.qualifier = columnText(st, 2);
    e.payload = columnBlob(st, 3);
    e.enqueued_ms = sqlite3_column_int64(st, 4);
    e.attempts = sqlite3_column_int(st, 5);
    e.throttles = sqlite3_column_int(st, 6);
    e.next_attempt_ms = sqlite3_column_int64(st, 7);
    e.last_response = columnText(st, 8);
    e.last_version = columnText(st, 9);
    e.last_function_error = columnText(st, 10);
    claimed_.insert(id);
    out.push_back(std::move(e));
  }
  return out;
}

Status EventQueue::reschedule(const AsyncEvent& e) {
  std::lock_guard lock(mu_);
  Use use(conn_.get(), stmts_->update);
  use.i64(e.attempts)
      .i64(e.throttles)
      .i64(e.next_attempt_ms)
      .text(e.last_response)
      .text(e.last_version)
      .text(e.last_function_error)
      .i64(e.id);
  KD_TRY_STATUS(use.run("update async_events"));
  if (claimed_.erase(e.id) == 0) {
    // Not claimed: drop its old index entry before adding the new one.
    for (auto it = due_.begin(); it != due_.end(); ++it) {
      if (it->second == e.id) {
        due_.erase(it);
        break;
      }
    }
  }
  due_.emplace(e.next_attempt_ms, e.id);
  return {};
}

void EventQueue::release(int64_t id, int64_t next_attempt_ms) {
  std::lock_guard lock(mu_);
  if (claimed_.erase(id) != 0) due_.emplace(next_attempt_ms, id);
}

Status EventQueue::complete(int64_t id) {
  std::lock_guard lock(mu_);
  Use use(conn_.get(), stmts_->remove);
  use.i64(id);
  KD_TRY_STATUS(use.run("delete async_events"));
  if (claimed_.erase(id) == 0) {
    for (auto it = due_.begin(); it != due_.end(); ++it) {
      if (it->second == id) {
        due_.erase(it);
        break;
      }
    }
  }
  return {};
}

Result<std::string> EventQueue::payload(int64_t id) const {
  std::lock_guard lock(mu_);
  Use use(conn_.get(), stmts_->payload);
  use.i64(id);
  auto row = use.step("select async_events payload");
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return makeError(ErrorCode::NotFound, fmt::format("async event {} not found", id));
  return columnBlob(use.get(), 0);
}

std::optional<int64_t> EventQueue::nextDueMs() const {
  std::lock_guard lock(mu_);
  if (due_.empty()) return std::nullopt;
  return due_.begin()->first;
}

size_t EventQueue::size() const {
  std::lock_guard lock(mu_);
  return due_.size() + claimed_.size();
}

size_t EventQueue::claimed() const {
  std::lock_guard lock(mu_);
  return claimed_.size();
}

}  // namespace kindling::async
