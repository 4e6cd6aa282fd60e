#include "cli/lab_driver.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "cli/commands.h"
#include "cli/wire.h"
#include "observe/report.h"

namespace kindling::cli {

namespace fs = std::filesystem;
using nlohmann::json;

lab::Sample measureInvoke(HttpClient& client, std::string_view name, const std::string& payload,
                          bool expect_cold, std::string_view qualifier) {
  lab::Sample s;
  s.cold = expect_cold;
  const auto started = std::chrono::steady_clock::now();
  auto res = invokeFunction(client, name, payload, qualifier);
  s.client_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                          started)
                    .count();
  if (!res) {
    s.error = "transport: " + res.error().message();
    return s;
  }
  if (res->result_int() / 100 != 2) {
    ApiError e = parseApiError(*res);
    s.error = e.type.empty() ? "HTTP " + std::to_string(res->result_int()) : e.type;
    return s;
  }
  std::optional<observe::ParsedReport> report;
  if (auto log = res->find(kHeaderLogResult); log != res->end()) {
    if (auto decoded = decodeLogResult(log->value())) {
      report = observe::parseReportLine(findReportLine(*decoded));
    }
  }
  if (report) {
    s.cold = report->init_duration_ms.has_value() || report->restore_duration_ms.has_value();
    s.init_ms = report->init_duration_ms ? report->init_duration_ms
                                         : report->restore_duration_ms;
    s.duration_ms = report->duration_ms;
    s.billed_ms = report->billed_duration_ms;
    s.max_memory_mb = report->max_memory_used_mb;
  }
  if (auto fe = res->find(kHeaderFunctionError); fe != res->end()) {
    // The error type the runtime reported ("Sandbox.Timedout", "Runtime.ExitError", a handler's
    // exception class), else the header's Unhandled/Handled.
    const json body = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
    std::string type;
    if (body.is_object()) {
      if (auto it = body.find("errorType"); it != body.end() && it->is_string()) type = *it;
    }
    s.error = type.empty() ? std::string(fe->value()) : type;
  } else if (!report) {
    s.error = "no REPORT line in the log tail";
  }
  return s;
}

Status updateConfiguration(HttpClient& client, std::string_view name, const json& body) {
  auto res = client.request(HttpVerb::put, functionTarget(name) + "/configuration", body.dump(),
                            {{"Content-Type", "application/json"}});
  if (!res) return tl::unexpected(std::move(res.error()));
  if (res->result_int() / 100 != 2) {
    return makeError(ErrorCode::InvalidArgument,
                     "UpdateFunctionConfiguration " + std::string(name) + ": " +
                         renderApiError(parseApiError(*res)));
  }
  return {};
}

Result<std::string> publishVersion(HttpClient& client, std::string_view name) {
  auto res = client.request(HttpVerb::post, functionTarget(name) + "/versions", "{}",
                            {{"Content-Type", "application/json"}});
  if (!res) return tl::unexpected(std::move(res.error()));
  if (res->result_int() / 100 != 2) {
    return makeError(ErrorCode::InvalidArgument,
                     "PublishVersion " + std::string(name) + ": " + renderApiError(parseApiError(*res)));
  }
  const json j = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("Version") || !j["Version"].is_string()) {
    return makeError(ErrorCode::Internal, "PublishVersion: no Version in the answer");
  }
  return j["Version"].get<std::string>();
}

Result<json> getConfiguration(HttpClient& client, std::string_view name) {
  auto res = client.request(HttpVerb::get, functionTarget(name) + "/configuration");
  if (!res) return tl::unexpected(std::move(res.error()));
  if (res->result_int() / 100 != 2) {
    return makeError(ErrorCode::NotFound, "GetFunctionConfiguration " + std::string(name) + ": " +
                                              renderApiError(parseApiError(*res)));
  }
  json j = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return makeError(ErrorCode::Internal, "GetFunctionConfiguration: the answer is not JSON");
  }
  return j;
}

Result<lab::Pricing> pricingFrom(const PriceOptions& opts) {
  auto arch = lab::parseArchitecture(opts.architecture);
  if (!arch) return tl::unexpected(std::move(arch.error()));
  lab::Pricing p = lab::defaultPricing(*arch);
  if (opts.gb_second_usd) p.gb_second_usd = *opts.gb_second_usd;
  if (opts.request_usd) p.request_usd = *opts.request_usd;
  return p;
}

Status writeTextFile(const fs::path& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return errnoError("open(\"" + path.string() + "\")");
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) return errnoError("write(\"" + path.string() + "\")");
  return {};
}

std::string compactUtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

namespace {

std::string formatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

}  // namespace

Progress::Progress(std::ostream& err, int64_t total_units, bool is_tty)
    : err_(err), total_(total_units > 0 ? total_units : 1), tty_(is_tty),
      started_(std::chrono::steady_clock::now()) {}

std::string Progress::bar(std::string_view current) const {
  constexpr int kWidth = 28;
  const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
  const int filled = static_cast<int>(frac * kWidth);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double eta = done_ > 0 ? elapsed / static_cast<double>(done_) *
                                     static_cast<double>(total_ - done_)
                               : NAN;
  std::string s = "[";
  s.append(static_cast<size_t>(filled), '#');
  s.append(static_cast<size_t>(kWidth - filled), '.');
  char buf[96];
  std::snprintf(buf, sizeof buf, "] %3d%% %lld/%lld  ETA %s  ", static_cast<int>(frac * 100),
                static_cast<long long>(done_), static_cast<long long>(total_),
                formatEta(eta).c_str());
  s += buf;
  s += current.substr(0, 48);
  return s;
}

void Progress::advance(int64_t units, std::string_view current) {
  done_ += units;
  if (!tty_) return;  // plain output: one line per finished cell (line())
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  err_ << "\r\033[K" << bar(current) << std::flush;
  drawn_ = true;
}

void Progress::line(std::string_view text) {
  if (tty_) {
    err_ << "\r\033[K" << text << "\n" << bar("") << std::flush;
    drawn_ = true;
  } else {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const double eta = done_ > 0 ? elapsed / static_cast<double>(done_) *
                                       static_cast<double>(total_ - done_)
                                 : NAN;
    err_ << "[" << done_ << "/" << total_ << ", ETA " << formatEta(eta) << "] " << text << "\n"
         << std::flush;
  }
}

void Progress::finish() {
  if (tty_ && drawn_) err_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace kindling::cli
