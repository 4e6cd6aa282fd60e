#include "scheduler/concurrency.h"

#include <fmt/format.h>

namespace kindling::scheduler {

std::string_view throttleReasonName(ThrottleReason reason) {
  switch (reason) {
    case ThrottleReason::None: return "";
    case ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded:
      return "ReservedFunctionConcurrentInvocationLimitExceeded";
    case ThrottleReason::ConcurrentInvocationLimitExceeded:
      return "ConcurrentInvocationLimitExceeded";
  }
  return "";
}

ConcurrencyLimiter::ConcurrencyLimiter(ConcurrencyOptions options) : options_(options) {}

ConcurrencyLimiter::Slot ConcurrencyLimiter::tryAcquire(const std::string& function,
                                                        ThrottleReason* reason) {
  std::lock_guard lock(mu_);
  FunctionState& fn = functions_[function];
  if (fn.reserved) {
    if (fn.in_flight_reserved >= *fn.reserved) {
      if (reason) *reason = ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded;
      return {};
    }
    ++fn.in_flight_reserved;
    return Slot{true, true};
  }
  if (unreserved_in_flight_ >= options_.account_limit - reserved_total_) {
    if (reason) *reason = ThrottleReason::ConcurrentInvocationLimitExceeded;
    return {};
  }
  ++fn.in_flight_unreserved;
  ++unreserved_in_flight_;
  return Slot{true, false};
}

void ConcurrencyLimiter::release(const std::string& function, Slot slot) {
  if (!slot.acquired) return;
  std::lock_guard lock(mu_);
  auto it = functions_.find(function);
  if (slot.reserved_pool) {
    if (it != functions_.end() && it->second.in_flight_reserved > 0) --it->second.in_flight_reserved;
  } else {
    if (it != functions_.end() && it->second.in_flight_unreserved > 0) {
      --it->second.in_flight_unreserved;
    }
    if (unreserved_in_flight_ > 0) --unreserved_in_flight_;
  }
  if (it != functions_.end() && !it->second.reserved && it->second.in_flight_reserved == 0 &&
      it->second.in_flight_unreserved == 0) {
    functions_.erase(it);
  }
}

Status ConcurrencyLimiter::checkReservation(const std::string& function, int reserved) const {
  std::lock_guard lock(mu_);
  int64_t others = reserved_total_;
  if (auto it = functions_.find(function); it != functions_.end() && it->second.reserved) {
    others -= *it->second.reserved;
  }
  const int64_t unreserved_now = options_.account_limit - others;
  if (reserved > unreserved_now) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("Specified ConcurrentExecutions for function is greater than "
                                 "account's unreserved concurrency [{}].",
                                 unreserved_now));
  }
  if (unreserved_now - reserved < options_.min_unreserved) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("Specified ReservedConcurrentExecutions for function decreases "
                                 "account's UnreservedConcurrentExecution below its minimum value "
                                 "of [{}].",
                                 options_.min_unreserved));
  }
  return {};
}

void ConcurrencyLimiter::setReserved(const std::string& function, std::optional<int> reserved) {
  std::lock_guard lock(mu_);
  FunctionState& fn = functions_[function];
  if (fn.reserved) reserved_total_ -= *fn.reserved;
  fn.reserved = reserved;
  if (fn.reserved) reserved_total_ += *fn.reserved;
}

void ConcurrencyLimiter::removeFunction(const std::string& function) {
  std::lock_guard lock(mu_);
  auto it = functions_.find(function);
  if (it == functions_.end()) return;
  if (it->second.reserved) reserved_total_ -= *it->second.reserved;
  it->second.reserved.reset();
  if (it->second.in_flight_reserved == 0 && it->second.in_flight_unreserved == 0) {
    functions_.erase(it);
  }
}

int ConcurrencyLimiter::unreservedLimit() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(options_.account_limit - reserved_total_);
}

int ConcurrencyLimiter::inFlight(const std::string& function) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(function);
  return it == functions_.end() ? 0 : it->second.in_flight_reserved + it->second.in_flight_unreserved;
}

}  // namespace kindling::scheduler
