#include "async/queue_store.h"

#include <fmt/format.h>

#include "common/strings.h"

namespace kindling::async {

using store::sql::columnText;
using store::sql::Stmt;
using store::sql::Transaction;
using store::sql::Use;

struct QueueStore::Statements {
  Stmt begin, commit, rollback;
  Stmt insert, select_visible, mark_received, remove_id, remove_message, list;
};

namespace {

constexpr const char* kInsertSql =
    "INSERT INTO queue_messages (queue, message_id, body, attributes, sent_ms) "
    "VALUES (?, ?, ?, ?, ?)";
constexpr const char* kSelectVisibleSql =
    "SELECT id, message_id, body, attributes, sent_ms, receive_count FROM queue_messages "
    "WHERE queue = ? AND visible_after_ms <= ? ORDER BY id LIMIT ?";
constexpr const char* kMarkReceivedSql =
    "UPDATE queue_messages SET receive_count = receive_count + 1, visible_after_ms = ? "
    "WHERE id = ?";
constexpr const char* kRemoveIdSql = "DELETE FROM queue_messages WHERE id = ?";
constexpr const char* kRemoveMessageSql =
    "DELETE FROM queue_messages WHERE queue = ? AND message_id = ?";
constexpr const char* kListSql =
    "SELECT queue, SUM(visible_after_ms <= ?), SUM(visible_after_ms > ?) FROM queue_messages "
    "GROUP BY queue ORDER BY queue";

bool isDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool isValidQueueName(std::string_view name) {
  std::string_view base = name;
  if (base.size() > 5 && base.substr(base.size() - 5) == ".fifo") {
    base.remove_suffix(5);
  }
  if (name.empty() || name.size() > 80 || base.empty()) return false;
  for (char c : base) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> sqsQueueName(std::string_view arn) {
  // arn : partition : sqs : region : account : name
  std::vector<std::string_view> parts = split(arn, ':');
  if (parts.size() != 6 || parts[0] != "arn" || !startsWith(parts[1], "aws") ||
      parts[2] != "sqs" || parts[3].empty() || !isDigits(parts[4]) || parts[4].size() != 12 ||
      !isValidQueueName(parts[5])) {
    return std::nullopt;
  }
  return std::string(parts[5]);
}

std::string sqsQueueArn(std::string_view region, std::string_view name) {
  return fmt::format("arn:aws:sqs:{}:000000000000:{}", region, name);
}

QueueStore::QueueStore(const Clock& clock) : clock_(clock), stmts_(std::make_unique<Statements>()) {}
QueueStore::~QueueStore() = default;

Result<std::unique_ptr<QueueStore>> QueueStore::open(const std::filesystem::path& db_path,
                                                     const Clock& clock) {
  auto conn = store::sql::Connection::open(db_path);
  if (!conn) return tl::unexpected(std::move(conn.error()).wrap("queue store"));
  std::unique_ptr<QueueStore> q(new QueueStore(clock));
  q->conn_ = std::move(*conn);
  sqlite3* db = q->conn_.get();
  Statements& s = *q->stmts_;
  KD_TRY_STATUS(s.begin.prepare(db, "BEGIN IMMEDIATE"));
  KD_TRY_STATUS(s.commit.prepare(db, "COMMIT"));
  KD_TRY_STATUS(s.rollback.prepare(db, "ROLLBACK"));
  KD_TRY_STATUS(s.insert.prepare(db, kInsertSql));
  KD_TRY_STATUS(s.select_visible.prepare(db, kSelectVisibleSql));
  KD_TRY_STATUS(s.mark_received.prepare(db, kMarkReceivedSql));
  KD_TRY_STATUS(s.remove_id.prepare(db, kRemoveIdSql));
  KD_TRY_STATUS(s.remove_message.prepare(db, kRemoveMessageSql));
  KD_TRY_STATUS(s.list.prepare(db, kListSql));
  return q;
}

Result<std::string> QueueStore::send(std::string_view queue, std::string_view body,
                                     std::string_view attributes_json) {
  if (!isValidQueueName(queue)) {
    return makeError(ErrorCode::InvalidArgument, fmt::format("invalid queue name '{}'", queue));
  }
  std::string message_id = uuid4();
  const int64_t now = clock_.epochMillis();
  std::lock_guard lock(mu_);
  Use use(conn_.get(), stmts_->insert);
  use.text(queue).text(message_id).text(body).text(attributes_json).i64(now);
  KD_TRY_STATUS(use.run("insert queue_messages"));
  return message_id;
}

Result<std::vector<QueueMessage>> QueueStore::receive(std::string_view queue, int max_messages,
                                                      int64_t visibility_timeout_ms,
                                                      bool delete_received) {
  if (max_messages < 1 || max_messages > 10) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("MaxNumberOfMessages must be 1-10, got {}", max_messages));
  }
  if (visibility_timeout_ms < 0) {
    return makeError(ErrorCode::InvalidArgument, "VisibilityTimeout must not be negative");
  }
  const int64_t now = clock_.epochMillis();
  std::lock_guard lock(mu_);
  sqlite3* db = conn_.get();
  Transaction tx(db, stmts_->begin, stmts_->commit, stmts_->rollback);
  KD_TRY_STATUS(tx.begun());
  std::vector<QueueMessage> out;
  std::vector<int64_t> ids;
  {
    Use use(db, stmts_->select_visible);
    use.text(queue).i64(now).i64(max_messages);
    for (;;) {
      auto row = use.step("select queue_messages");
      if (!row) return tl::unexpected(std::move(row.error()));
      if (!*row) break;
      sqlite3_stmt* st = use.get();
      ids.push_back(sqlite3_column_int64(st, 0));
      QueueMessage m;
      m.message_id = columnText(st, 1);
      m.body = columnText(st, 2);
      m.attributes = columnText(st, 3);
      m.sent_ms = sqlite3_column_int64(st, 4);
      m.receive_count = sqlite3_column_int(st, 5) + 1;
      out.push_back(std::move(m));
    }
  }
  for (int64_t id : ids) {
    if (delete_received) {
      Use use(db, stmts_->remove_id);
      use.i64(id);
      KD_TRY_STATUS(use.run("delete queue_messages"));
    } else {
      Use use(db, stmts_->mark_received);
      use.i64(now + visibility_timeout_ms).i64(id);
      KD_TRY_STATUS(use.run("update queue_messages"));
    }
  }
  KD_TRY_STATUS(tx.commit());
  return out;
}

Status QueueStore::remove(std::string_view queue, std::string_view message_id) {
  std::lock_guard lock(mu_);
  Use use(conn_.get(), stmts_->remove_message);
  use.text(queue).text(message_id);
  KD_TRY_STATUS(use.run("delete queue_messages"));
  if (sqlite3_changes(conn_.get()) == 0) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("message {} not found in queue {}", message_id, queue));
  }
  return {};
}

Result<std::vector<QueueSummary>> QueueStore::list() const {
  const int64_t now = clock_.epochMillis();
  std::lock_guard lock(mu_);
  Use use(conn_.get(), stmts_->list);
  use.i64(now).i64(now);
  std::vector<QueueSummary> out;
  for (;;) {
    auto row = use.step("list queue_messages");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    sqlite3_stmt* st = use.get();
    out.push_back(QueueSummary{columnText(st, 0), sqlite3_column_int64(st, 1),
                               sqlite3_column_int64(st, 2)});
  }
  return out;
}

}  // namespace kindling::async
