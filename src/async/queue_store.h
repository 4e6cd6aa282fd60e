// Local SQS-style queues (table queue_messages of registry.db, own connection): the targets of
// SQS destinations and dead-letter queues, so asynchronous results can be observed without AWS.
// A queue is named by the last field of `arn:aws:sqs:<region>:<account>:<name>` and exists as
// soon as a message is sent to it. Receive follows SQS: up to N visible messages, oldest first,
// each hidden for a visibility timeout (receive_count counts deliveries) unless deleted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/sqlite.h"

namespace kindling::async {

struct QueueMessage {
  std::string message_id;  // uuid4
  std::string body;
  std::string attributes;  // JSON object of SQS MessageAttributes ("{}" when none)
  int64_t sent_ms = 0;     // epoch ms
  int receive_count = 0;   // deliveries including this one
};

struct QueueSummary {
  std::string name;
  int64_t visible = 0;    // messages a receive would return now
  int64_t in_flight = 0;  // received and hidden by a visibility timeout
};

// "arn:aws:sqs:<region>:<12 digits>:<name>" -> name; nullopt for anything else. Pure.
std::optional<std::string> sqsQueueName(std::string_view arn);
// True for SQS queue names: 1-80 of [A-Za-z0-9_-], optionally ending in ".fifo". Pure.
bool isValidQueueName(std::string_view name);
// "arn:aws:sqs:<region>:000000000000:<name>". Pure.
std::string sqsQueueArn(std::string_view region, std::string_view name);

class QueueStore {  // thread-safe
 public:
  // Opens its own connection to the registry database (migrated to schema 4 by Registry::open).
  // `clock` must outlive the store.
  static Result<std::unique_ptr<QueueStore>> open(const std::filesystem::path& db_path,
                                                  const Clock& clock);
  ~QueueStore();
  QueueStore(const QueueStore&) = delete;
  QueueStore& operator=(const QueueStore&) = delete;

  // Appends a message (committed on return); returns its message id. InvalidArgument for a bad
  // queue name. Thread-safe.
  Result<std::string> send(std::string_view queue, std::string_view body,
                           std::string_view attributes_json = "{}");
  // Receives up to max_messages (1-10) visible messages, oldest first; each is hidden for
  // visibility_timeout_ms, or deleted when delete_received. Thread-safe.
  Result<std::vector<QueueMessage>> receive(std::string_view queue, int max_messages,
                                            int64_t visibility_timeout_ms, bool delete_received);
  // Deletes one message; NotFound. Thread-safe.
  Status remove(std::string_view queue, std::string_view message_id);
  // Every queue holding messages, by name. Thread-safe.
  Result<std::vector<QueueSummary>> list() const;

 private:
  struct Statements;
  QueueStore(const Clock& clock);

  const Clock& clock_;
  mutable std::mutex mu_;
  store::sql::Connection conn_;        // guarded by mu_
  std::unique_ptr<Statements> stmts_;  // guarded by mu_
};

}  // namespace kindling::async
