// The privilege facet (see privileges.h). The child-side steps use raw system calls: glibc's
// set*id wrappers broadcast the change to every thread the library believes exists (the
// SIGSETXID handshake), which is neither needed nor safe in a child created by a raw clone.
#include "sandbox/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <string>

namespace kindling::sandbox {

// ---- RlimitPlan ----------------------------------------------------------------------------

RlimitPlan RlimitPlan::lambdaDefaults() {
  RlimitPlan plan;
  plan.limits_[RLIMIT_NOFILE] = rlimit{1024, 1024};
  plan.limits_[RLIMIT_CORE] = rlimit{0, 0};
  return plan;
}

Status RlimitPlan::set(int resource, rlim_t soft, rlim_t hard) {
  if (resource < 0 || resource >= RLIMIT_NLIMITS) {
    return makeError(ErrorCode::InvalidArgument,
                     "rlimit resource " + std::to_string(resource) + " out of range");
  }
  if (soft > hard) {
    return makeError(ErrorCode::InvalidArgument, "rlimit " + std::to_string(resource) +
                                                     ": soft " + std::to_string(soft) +
                                                     " above hard " + std::to_string(hard));
  }
  limits_[static_cast<size_t>(resource)] = rlimit{soft, hard};
  return {};
}

std::optional<rlimit> RlimitPlan::get(int resource) const {
  if (resource < 0 || resource >= RLIMIT_NLIMITS) return std::nullopt;
  return limits_[static_cast<size_t>(resource)];
}

int applyRlimits(const RlimitPlan& plan) noexcept {
  for (size_t resource = 0; resource < plan.limits_.size(); ++resource) {
    if (!plan.limits_[resource]) continue;
    // glibc's setrlimit is a bare prlimit64 system call.
    if (::setrlimit(static_cast<__rlimit_resource>(resource), &*plan.limits_[resource]) != 0) {
      return errno;
    }
  }
  return 0;
}

// ---- Identity and capabilities -----------------------------------------------------------

int dropToUser(uid_t uid, gid_t gid) noexcept {
  // Without KEEPCAPS, leaving uid 0 empties the permitted set and dropCapabilities() could no
  // longer shrink the bounding set (capabilities(7), "Effect of user ID changes").
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return errno;
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) return errno;
  if (::syscall(SYS_setresgid, gid, gid, gid) != 0) return errno;
  if (::syscall(SYS_setresuid, uid, uid, uid) != 0) return errno;
  // Only stops later uid changes from keeping capabilities; the permitted set stays as it is.
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno;
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  if (::syscall(SYS_getresuid, &ruid, &euid, &suid) != 0) return errno;
  if (::syscall(SYS_getresgid, &rgid, &egid, &sgid) != 0) return errno;
  if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
    return EPERM;
  }
  return 0;
}

namespace {

int capset(const __user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

}  // namespace

int dropBoundingSet() noexcept {
  // Walk capabilities until the kernel says the number is unknown (it knows cap_last_cap);
  // drop only those still in the bounding set.
  for (unsigned long cap = 0;; ++cap) {
    int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) {
      if (errno == EINVAL) break;
      return errno;
    }
    if (present == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
  }
  return 0;
}

int dropCapabilities(bool bounding_dropped) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return errno;
  // After dropToUser() the effective set is empty but the permitted set is not: raise it so
  // CAP_SETPCAP is usable for PR_CAPBSET_DROP.
  for (auto& word : data) {
    word.effective = word.permitted;
    word.inheritable = 0;
  }
  if (int err = capset(data); err != 0) return err;
  if (!bounding_dropped) {
    if (int err = dropBoundingSet(); err != 0) return err;
  }
  // Ambient capabilities exist since Linux 4.3; EINVAL before that means there are none.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno;
  }
  const __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  return capset(none);
}

int setNoNewPrivs() noexcept {
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno;
}

// ---- UidPool -------------------------------------------------------------------------------

Status UidPool::validateRange(uid_t first, uint32_t count) {
  const std::string range = std::to_string(first) + "+" + std::to_string(count);
  if (count == 0) {
    return makeError(ErrorCode::InvalidArgument, "sandbox uid range " + range + " is empty");
  }
  if (first == 0) {
    return makeError(ErrorCode::InvalidArgument, "sandbox uid range " + range + " includes root");
  }
  // The last usable uid is (uid_t)-2: (uid_t)-1 means "unchanged" to set*id calls.
  constexpr uint64_t kLastValidUid = static_cast<uid_t>(-2);
  if (static_cast<uint64_t>(first) + count - 1 > kLastValidUid) {
    return makeError(ErrorCode::InvalidArgument, "sandbox uid range " + range +
                                                     " runs past uid " +
                                                     std::to_string(kLastValidUid));
  }
  return {};
}

UidPool::UidPool(uid_t first, uint32_t count)
    : first_(first), count_(count), used_((static_cast<size_t>(count) + 63) / 64, 0) {
  KD_CHECK(validateRange(first, count).has_value());
  // Mark the bits past the end of the range as used so searches never return them.
  if (const uint32_t tail = count % 64; tail != 0) used_.back() = ~uint64_t{0} << tail;
}

Result<uid_t> UidPool::acquire() {
  std::lock_guard lock(mutex_);
  if (in_use_ == count_) {
    return makeError(ErrorCode::TooManyRequests,
                     "sandbox uid pool " + std::to_string(first_) + "-" +
                         std::to_string(first_ + (count_ - 1)) + " exhausted (" +
                         std::to_string(count_) + " in use)");
  }
  // Search from next_ to the end, then wrap around once; a free bit exists (in_use_ < count_).
  const size_t words = used_.size();
  size_t word = next_ / 64;
  uint64_t skip_below = (next_ % 64) == 0 ? 0 : ~uint64_t{0} >> (64 - next_ % 64);
  for (size_t step = 0; step <= words; ++step) {
    const uint64_t free_bits = ~(used_[word] | skip_below);
    if (free_bits != 0) {
      const auto bit = static_cast<uint32_t>(std::countr_zero(free_bits));
      used_[word] |= uint64_t{1} << bit;
      const auto index = static_cast<uint32_t>(word * 64) + bit;
      ++in_use_;
      next_ = index + 1 == count_ ? 0 : index + 1;
      return static_cast<uid_t>(first_ + index);
    }
    skip_below = 0;  // only the starting word is partial (and it is revisited last in full)
    word = word + 1 == words ? 0 : word + 1;
  }
  // A free bit must exist since in_use_ < count_.
  checkFailed("UidPool bitmap agrees with in_use_", __FILE__, __LINE__);
}

void UidPool::release(uid_t uid) {
  std::lock_guard lock(mutex_);
  KD_CHECK(uid >= first_ && uid - first_ < count_);
  const uint32_t index = uid - first_;
  const uint64_t bit = uint64_t{1} << (index % 64);
  KD_CHECK((used_[index / 64] & bit) != 0);
  used_[index / 64] &= ~bit;
  --in_use_;
}

uint32_t UidPool::available() const {
  std::lock_guard lock(mutex_);
  return count_ - in_use_;
}

}  // namespace kindling::sandbox
