// Small RAII helpers over the SQLite C API shared by kindling's stores: a connection opened the
// way every store wants it (WAL, synchronous=NORMAL, foreign keys, busy timeout), cached
// statements, one-use bind/step scopes and IMMEDIATE transactions. Each store owns one
// Connection and guards it with its own mutex; several connections share one database file
// (WAL lets readers run beside the one writer). Schema migrations live in registry.cc.
#pragma once

#include <sqlite3.h>

#include <climits>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/result.h"

namespace kindling::store::sql {

inline tl::unexpected<Error> dbError(sqlite3* db, std::string_view what) {
  return makeError(ErrorCode::Io, fmt::format("sqlite {}: {} (code {})", what, sqlite3_errmsg(db),
                                              sqlite3_extended_errcode(db)));
}

class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status prepare(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      return dbError(db, fmt::format("prepare({})", sql));
    }
    return {};
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a cached statement: binds parameters left to right, and on scope exit resets it
// and clears the bindings (they point into the caller's strings: SQLITE_STATIC, no copies).
class Use {
 public:
  Use(sqlite3* db, const Stmt& stmt) : db_(db), stmt_(stmt.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& text(std::string_view v) {
    if (rc_ == SQLITE_OK) {
      rc_ = v.size() > INT_MAX ? SQLITE_TOOBIG
                               : sqlite3_bind_text(stmt_, index_, v.data() ? v.data() : "",
                                                   static_cast<int>(v.size()), SQLITE_STATIC);
    }
    ++index_;
    return *this;
  }
  Use& i64(int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, index_, v);
    ++index_;
    return *this;
  }
  // Steps once: true for a row, false when done; errors carry `what`.
  Result<bool> step(std::string_view what) {
    if (rc_ != SQLITE_OK) {
      return makeError(rc_ == SQLITE_TOOBIG ? ErrorCode::InvalidArgument : ErrorCode::Internal,
                       fmt::format("sqlite {}: bind: {}", what, sqlite3_errstr(rc_)));
    }
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return dbError(db_, what);
  }
  // Steps a statement that returns no rows.
  Status run(std::string_view what) {
    auto r = step(what);
    if (!r) return tl::unexpected(std::move(r.error()));
    return {};
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int rc_ = SQLITE_OK;
  int index_ = 1;
};

inline std::string columnText(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

inline Status execScript(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return makeError(ErrorCode::Io, fmt::format("sqlite {}: {}", what, msg));
  }
  return {};
}

// BEGIN IMMEDIATE ... COMMIT on cached statements; rolls back unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, const Stmt& begin, const Stmt& commit, const Stmt& rollback)
      : db_(db), commit_(commit), rollback_(rollback) {
    Use use(db_, begin);
    status_ = use.run("BEGIN");
  }
  ~Transaction() {
    if (status_ && !committed_) {
      Use use(db_, rollback_);
      (void)use.run("ROLLBACK");
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  const Status& begun() const { return status_; }
  Status commit() {
    Use use(db_, commit_);
    KD_TRY_STATUS(use.run("COMMIT"));
    committed_ = true;
    return {};
  }

 private:
  sqlite3* db_;
  const Stmt& commit_;
  const Stmt& rollback_;
  Status status_;
  bool committed_ = false;
};


// One SQLite connection (closed on destruction). Not thread-safe: the owner serialises use.
class Connection {
 public:
  // Opens/creates the file (":memory:" gives a private in-memory db) with WAL journaling,
  // synchronous=NORMAL (durable against process crashes), foreign keys and a 5 s busy timeout.
  static Result<Connection> open(const std::filesystem::path& path);
  Connection() = default;
  ~Connection();
  Connection(Connection&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace kindling::store::sql
