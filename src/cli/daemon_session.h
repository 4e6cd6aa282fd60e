// The daemon a client-side session (demo, bench, tune) talks to: the one answering at the
// endpoint, or, when none does, an embedded in-process daemon started through CliHooks with its
// data in a scratch directory. Owns both and tears them down in the right order (daemon first,
// so it lets go of the data dir before the scratch directory is removed).
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/result.h"

namespace kindling::cli {

class DaemonSession {
 public:
  explicit DaemonSession(const CliHooks& hooks) : hooks_(hooks) {}
  DaemonSession(const DaemonSession&) = delete;
  DaemonSession& operator=(const DaemonSession&) = delete;
  ~DaemonSession();

  // Creates the scratch directory (<tmp>/<prefix>-XXXXXX), then connects to `endpoint_url` if a
  // daemon answers its health check there, else starts an embedded one (log level warn). Says
  // which on `out`. Not thread-safe.
  Status open(const std::string& endpoint_url, std::string_view scratch_prefix, std::ostream& out);

  // Valid after a successful open(). Not thread-safe.
  HttpClient& client() { return *client_; }
  const std::filesystem::path& scratch() const { return scratch_; }
  bool embedded() const { return embedded_; }

 private:
  const CliHooks& hooks_;
  std::filesystem::path scratch_;
  std::unique_ptr<HttpClient> client_;
  bool embedded_ = false;
};

}  // namespace kindling::cli
