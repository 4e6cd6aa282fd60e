// Lambda's concurrency accounting: an account-wide limit on concurrent executions (default
// 1,000), part of which functions may reserve for themselves (reserved concurrency), always
// leaving a minimum unreserved (default 100). A function with a reservation runs at most that
// many invocations at once (0 throttles everything); functions without one share what is left
// of the account limit after all reservations. Exceeding either answers 429
// TooManyRequestsException with the matching Reason. Acquire/release are O(1) under one mutex
// (a hash lookup); nothing is held across an invocation.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace kindling::scheduler {

struct ConcurrencyOptions {
  int account_limit = 1000;   // AccountLimit.ConcurrentExecutions
  int min_unreserved = 100;   // reservations must leave at least this much unreserved
};

enum class ThrottleReason {
  None,
  ReservedFunctionConcurrentInvocationLimitExceeded,
  ConcurrentInvocationLimitExceeded,
};
std::string_view throttleReasonName(ThrottleReason reason);

class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(ConcurrencyOptions options = {});

  // A slot taken by one invocation; give it back with release() exactly once.
  struct Slot {
    bool acquired = false;
    bool reserved_pool = false;  // counted against the function's reservation
  };
  // Takes a slot for one invocation of `function`, or says why it is throttled. Thread-safe.
  Slot tryAcquire(const std::string& function, ThrottleReason* reason);
  // Returns a slot. Thread-safe.
  void release(const std::string& function, Slot slot);

  // Checks that reserving `reserved` for `function` leaves the minimum unreserved, with AWS's
  // messages (InvalidArgument). Thread-safe.
  Status checkReservation(const std::string& function, int reserved) const;
  // Sets (value) or clears (nullopt) a function's reservation. In-flight invocations keep the
  // pool they were counted in. Thread-safe.
  void setReserved(const std::string& function, std::optional<int> reserved);
  // Forgets a function (deleted). Thread-safe.
  void removeFunction(const std::string& function);

  int accountLimit() const { return options_.account_limit; }
  // Account limit minus every reservation. Thread-safe.
  int unreservedLimit() const;
  // Invocations in flight for a function (both pools). Thread-safe.
  int inFlight(const std::string& function) const;

 private:
  struct FunctionState {
    std::optional<int> reserved;
    int in_flight_reserved = 0;    // invocations counted against the reservation
    int in_flight_unreserved = 0;  // invocations counted in the shared pool
  };
  const ConcurrencyOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, FunctionState> functions_;  // guarded by mu_
  int64_t reserved_total_ = 0;                                // guarded by mu_
  int unreserved_in_flight_ = 0;                              // guarded by mu_
};

}  // namespace kindling::scheduler
