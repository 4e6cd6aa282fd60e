#include "scheduler/timers.h"

namespace kindling::scheduler {

TimerId AsioTimers::schedule(Clock::Duration delay, std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
  TimerId id;
  {
    std::lock_guard lock(mu_);
    id = next_++;
    timers_[id] = timer;
  }
  timer->async_wait([this, id, fn = std::move(fn)](const boost::system::error_code& ec) {
    {
      std::lock_guard lock(mu_);
      timers_.erase(id);
    }
    if (!ec) fn();
  });
  return id;
}

void AsioTimers::cancel(TimerId id) {
  std::shared_ptr<boost::asio::steady_timer> timer;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    timer = it->second;
    timers_.erase(it);
  }
  timer->cancel();
}

}  // namespace kindling::scheduler
