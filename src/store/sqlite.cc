#include "store/sqlite.h"

namespace kindling::store::sql {

Connection::~Connection() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = other.db_;
    other.db_ = nullptr;
  }
  return *this;
}

Result<Connection> Connection::open(const std::filesystem::path& path) {
  Connection c;
  // NOMUTEX: each connection is used under its owner's mutex only.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &c.db_, flags, nullptr) != SQLITE_OK) {
    if (c.db_ == nullptr) return makeError(ErrorCode::Internal, "sqlite3_open_v2: out of memory");
    return dbError(c.db_, "open");
  }
  sqlite3_extended_result_codes(c.db_, 1);
  sqlite3_busy_timeout(c.db_, 5000);
  {
    Stmt wal;
    KD_TRY_STATUS(wal.prepare(c.db_, "PRAGMA journal_mode=WAL"));
    Use use(c.db_, wal);
    auto row = use.step("PRAGMA journal_mode=WAL");
    if (!row) return tl::unexpected(std::move(row.error()));
    // ":memory:" databases report "memory" and cannot use WAL; that is fine for them.
    const std::string mode = *row ? columnText(wal.get(), 0) : std::string();
    if (mode != "wal" && !(mode == "memory" && path == ":memory:")) {
      return makeError(ErrorCode::Io, "cannot switch to WAL journal mode");
    }
  }
  KD_TRY_STATUS(execScript(c.db_, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", "pragmas"));
  return c;
}

}  // namespace kindling::store::sql
