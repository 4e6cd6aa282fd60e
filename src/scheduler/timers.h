// Timers: one-shot callbacks after a delay. Production uses Asio steady timers; unit tests use a
// fake driven by a FakeClock, so timeouts and keep-alive are deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"

namespace kindling::scheduler {

using TimerId = uint64_t;

class Timers {
 public:
  virtual ~Timers() = default;
  // Runs fn once after delay, on an engine thread. Thread-safe.
  virtual TimerId schedule(Clock::Duration delay, std::function<void()> fn) = 0;
  // Cancels a pending timer (no-op if it already ran). Thread-safe.
  virtual void cancel(TimerId id) = 0;
};

class AsioTimers final : public Timers {
 public:
  explicit AsioTimers(boost::asio::io_context& io) : io_(io) {}
  TimerId schedule(Clock::Duration delay, std::function<void()> fn) override;
  void cancel(TimerId id) override;

 private:
  boost::asio::io_context& io_;
  std::mutex mu_;
  TimerId next_ = 1;                                                      // guarded by mu_
  std::unordered_map<TimerId, std::shared_ptr<boost::asio::steady_timer>> timers_;  // by mu_
};

}  // namespace kindling::scheduler
