#include "cli/daemon_session.h"

#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <sys/stat.h>

#include "cli/wire.h"

namespace kindling::cli {

namespace fs = std::filesystem;

DaemonSession::~DaemonSession() {
  client_.reset();
  if (embedded_ && hooks_.stop_embedded) hooks_.stop_embedded();
  if (!scratch_.empty()) {
    std::error_code ec;
    fs::remove_all(scratch_, ec);
  }
}

Status DaemonSession::open(const std::string& endpoint_url, std::string_view scratch_prefix,
                           std::ostream& out) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(scratch_prefix) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return errnoError("mkdtemp(\"" + tmpl + "\")");
  scratch_ = tmpl;

  auto ep = parseEndpointUrl(endpoint_url);
  if (!ep) return tl::unexpected(std::move(ep.error()));
  client_ = std::make_unique<HttpClient>(std::move(*ep));
  auto health = client_->request(HttpVerb::get, kHealthPath);
  if (health && health->result_int() == 200) {
    out << "Using the kindling daemon at " << client_->url() << "\n";
    return {};
  }
  client_.reset();
  if (!hooks_.start_embedded) {
    return makeError(ErrorCode::ShuttingDown,
                     "no daemon answers at " + endpoint_url +
                         " and this build cannot start one; run `kindling serve` first");
  }
  ServeOptions serve;
  serve.listen = "127.0.0.1:0";
  serve.data_dir = (scratch_ / "data").string();
  if (::mkdir(serve.data_dir.c_str(), 0700) != 0) {
    return errnoError("mkdir(\"" + serve.data_dir + "\")");
  }
  serve.log_level = "warn";
  auto url = hooks_.start_embedded(serve);
  if (!url) return tl::unexpected(std::move(url.error()).wrap("starting an embedded daemon"));
  embedded_ = true;
  auto embedded_ep = parseEndpointUrl(*url);
  if (!embedded_ep) return tl::unexpected(std::move(embedded_ep.error()).wrap("embedded daemon"));
  client_ = std::make_unique<HttpClient>(std::move(*embedded_ep));
  out << "No daemon at " << endpoint_url << "; started an embedded one at " << client_->url()
      << " (data in " << serve.data_dir << ")\n";
  return {};
}

}  // namespace kindling::cli
