#include "cli/demo.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <ostream>
#include <system_error>

#include "cli/daemon_session.h"
#include "cli/wire.h"
#include "store/zip.h"

#ifndef KINDLING_BUILD_DIR
#define KINDLING_BUILD_DIR ""
#endif

namespace kindling::cli {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxShownResult = 240;

bool isDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// The repository, not a build tree (which also holds runtimes/ and examples/ output dirs).
bool isRepoRoot(const fs::path& p) {
  std::error_code ec;
  return isDir(p / "runtimes") && isDir(p / "examples") &&
         fs::is_regular_file(p / "CMakeLists.txt", ec);
}

std::string oneLine(std::string_view body) {
  std::string s;
  s.reserve(std::min(body.size(), kMaxShownResult) + 3);
  for (char c : body) {
    if (s.size() >= kMaxShownResult) {
      s += "...";
      break;
    }
    s.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Builds the zip for one example; a payload-binary example is zipped as a lone `bootstrap`.
Result<std::string> exampleZip(const DemoExample& ex, const fs::path& repo,
                               const fs::path& scratch) {
  constexpr std::string_view kBuilt = "build:";
  if (ex.source.substr(0, kBuilt.size()) == kBuilt) {
    const fs::path zip = fs::path(KINDLING_BUILD_DIR) / ex.source.substr(kBuilt.size());
    std::error_code ec;
    if (!fs::is_regular_file(zip, ec)) {
      return makeError(ErrorCode::NotFound,
                       zip.string() + " not built (scripts/setup.sh builds it)");
    }
    return loadCodeZip(zip.string());
  }
  if (!ex.source.empty()) {
    const fs::path dir = repo / ex.source;
    if (!isDir(dir)) {
      return makeError(ErrorCode::NotFound, std::string(ex.source) + " not found in " +
                                                repo.string());
    }
    return loadCodeZip(dir.string());
  }
  fs::path exe;
  {
    std::error_code ec;
    exe = fs::read_symlink("/proc/self/exe", ec);
  }
  auto bootstrap = findPayloadBootstrap(exe, KINDLING_BUILD_DIR);
  if (!bootstrap) return tl::unexpected(std::move(bootstrap.error()));
  const fs::path dir = scratch / "provided-code";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec) {
    fs::copy_file(*bootstrap, dir / "bootstrap", fs::copy_options::overwrite_existing, ec);
  }
  if (!ec) {
    fs::permissions(dir / "bootstrap", fs::perms(0755), fs::perm_options::replace, ec);
  }
  if (ec) {
    return tl::unexpected(Error{ErrorCode::Io, ec.value(),
                                "copy(\"" + bootstrap->string() + "\") to " + dir.string()});
  }
  return loadCodeZip(dir.string());
}

enum class Outcome { Ok, FunctionError, Failed };

// Creates the function, trying each runtime in order; returns the runtime that was accepted.
Result<std::string> deployExample(HttpClient& client, const DemoExample& ex,
                                  const std::string& zip, std::ostream& err) {
  DeployOptions spec;
  spec.name = std::string(ex.function_name);
  spec.handler = std::string(ex.handler);
  std::string rejected;
  for (std::string_view runtime : ex.runtimes) {
    spec.runtime = std::string(runtime);
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto res = createFunction(client, spec, zip);
      if (!res) return tl::unexpected(std::move(res.error()));
      if (res->result_int() / 100 == 2) return spec.runtime;
      ApiError error = parseApiError(*res);
      if (attempt == 0 && error.type == "ResourceConflictException") {
        // Left over from an interrupted demo: the demo owns these names, so recreate.
        auto del = deleteFunction(client, spec.name);
        if (!del) return tl::unexpected(std::move(del.error()));
        continue;
      }
      if (isRuntimeRejection(error)) {
        if (!rejected.empty()) rejected += ", ";
        rejected += spec.runtime;
        break;
      }
      err << "  " << renderApiError(error) << "\n";
      return makeError(ErrorCode::InvalidArgument, "CreateFunction failed");
    }
  }
  return makeError(ErrorCode::InvalidRuntime, "the daemon accepts none of: " + rejected);
}

Outcome invokeAndShow(HttpClient& client, const DemoExample& ex, std::string_view label,
                      std::ostream& out, std::ostream& err) {
  const auto started = std::chrono::steady_clock::now();
  auto res = invokeFunction(client, ex.function_name, std::string(ex.payload), {});
  const double round_trip_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
          .count();
  if (!res) {
    err << "  " << label << ": " << res.error().message() << "\n";
    return Outcome::Failed;
  }
  if (res->result_int() / 100 != 2) {
    err << "  " << label << ": " << renderApiError(parseApiError(*res)) << "\n";
    return Outcome::Failed;
  }
  const bool function_error = res->find(kHeaderFunctionError) != res->end();
  out << "  " << std::left << std::setw(6) << label << " result  " << oneLine(res->body());
  if (function_error) out << "   [function error: " << (*res)[kHeaderFunctionError] << "]";
  out << "\n";
  std::string report;
  if (auto log = res->find(kHeaderLogResult); log != res->end()) {
    if (auto decoded = decodeLogResult(log->value())) {
      report = formatReportLine(findReportLine(*decoded), /*drop_request_id=*/true);
    }
  }
  out << "         report  " << (report.empty() ? "(no REPORT line in the log tail)" : report)
      << "\n         client  " << std::fixed << std::setprecision(1) << round_trip_ms
      << " ms round trip\n";
  return function_error ? Outcome::FunctionError : Outcome::Ok;
}

}  // namespace

const std::vector<DemoExample>& demoExamples() {
  static const std::vector<DemoExample> kExamples = {
      {"python", "kindling-demo-python", "examples/python/hello", "app.handler",
       {"python3.12", "python3.11", "python3.10", "python3.9"}, R"({"name":"kindling"})"},
      {"node", "kindling-demo-node", "examples/node/hello", "index.handler",
       {"nodejs22.x", "nodejs20.x"}, R"({"name":"kindling"})"},
      {"ruby", "kindling-demo-ruby", "examples/ruby/hello", "function.handler",
       {"ruby3.1", "ruby3.2", "ruby3.3", "ruby3.4"}, R"({"name":"kindling"})"},
      {"java", "kindling-demo-java", "build:examples/java/hello.zip", "example.Hello",
       {"java17", "java25", "java21"}, R"({"name":"kindling"})"},
      {"provided", "kindling-demo-provided", "", "echo", {"provided.al2023"},
       R"({"hello":"from the kindling demo"})"},
  };
  return kExamples;
}

Result<fs::path> findRepoRoot(const char* kindling_home, const fs::path& exe_path) {
  if (kindling_home != nullptr && *kindling_home != '\0') {
    fs::path home(kindling_home);
    if (isRepoRoot(home)) return home;
    return makeError(ErrorCode::NotFound,
                     "KINDLING_HOME=" + home.string() + " has no runtimes/ and examples/");
  }
  for (fs::path dir = exe_path.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (isRepoRoot(dir)) return dir;
    if (dir == dir.root_path()) break;
  }
  return makeError(ErrorCode::NotFound,
                   "no directory with runtimes/ and examples/ above " + exe_path.string() +
                       " (set KINDLING_HOME to the kindling repository)");
}

Result<fs::path> findPayloadBootstrap(const fs::path& exe_path, const fs::path& build_dir_hint) {
  static constexpr std::string_view kCandidates[] = {"payloads/bootstrap",
                                                     "tests/payloads/bootstrap"};
  auto probe = [](const fs::path& dir) -> std::optional<fs::path> {
    for (std::string_view rel : kCandidates) {
      std::error_code ec;
      fs::path p = dir / rel;
      if (fs::is_regular_file(p, ec)) return p;
    }
    return std::nullopt;
  };
  for (fs::path dir = exe_path.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (auto p = probe(dir)) return *p;
    if (dir == dir.root_path()) break;
  }
  if (!build_dir_hint.empty()) {
    if (auto p = probe(build_dir_hint)) return *p;
  }
  return makeError(ErrorCode::NotFound,
                   "test payload binary <build>/payloads/bootstrap not found (build it first)");
}

int runDemo(const std::string& endpoint_url, const CliHooks& hooks, Console console) {
  std::ostream& out = console.out;
  std::ostream& err = console.err;
  DaemonSession session(hooks);
  if (auto ok = session.open(endpoint_url, "kindling-demo", out); !ok) {
    err << "error: " << ok.error().message() << "\n";
    return kExitFailure;
  }
  HttpClient& client = session.client();

  fs::path exe;
  {
    std::error_code ec;
    exe = fs::read_symlink("/proc/self/exe", ec);
  }
  auto repo = findRepoRoot(std::getenv("KINDLING_HOME"), exe);
  if (!repo) {
    err << "error: " << repo.error().message() << "\n";
    return kExitFailure;
  }

  int ran = 0;
  bool any_function_error = false;
  bool any_failure = false;
  std::vector<std::string_view> deployed;
  for (const DemoExample& ex : demoExamples()) {
    out << "\n[" << ex.label << "] " << ex.function_name << "\n";
    auto zip = exampleZip(ex, *repo, session.scratch());
    if (!zip) {
      out << "  skipped: " << zip.error().message() << "\n";
      continue;
    }
    auto runtime = deployExample(client, ex, *zip, err);
    if (!runtime) {
      out << "  not deployed: " << runtime.error().message() << "\n";
      any_failure = true;
      continue;
    }
    deployed.push_back(ex.function_name);
    out << "  deployed  runtime " << *runtime << ", handler " << ex.handler << ", " << zip->size()
        << " byte zip\n  payload   " << ex.payload << "\n";
    for (std::string_view label : {"cold", "warm"}) {
      const Outcome o = invokeAndShow(client, ex, label, out, err);
      any_function_error |= o == Outcome::FunctionError;
      any_failure |= o == Outcome::Failed;
    }
    ++ran;
  }

  out << "\nCleaning up:";
  for (std::string_view name : deployed) {
    auto res = deleteFunction(client, name);
    const bool ok = res && res->result_int() / 100 == 2;
    out << " " << name << (ok ? "" : " (delete failed)");
  }
  out << (session.embedded() ? "; stopping the embedded daemon" : "") << "\n";
  out.flush();

  if (ran == 0 || any_failure) return kExitFailure;
  return any_function_error ? kExitFunctionError : kExitOk;
}

}  // namespace kindling::cli
