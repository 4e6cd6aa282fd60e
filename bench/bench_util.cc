#include "bench/bench_util.h"

#include <stdlib.h>

#include <fstream>
#include <iterator>
#include <system_error>

#include "common/strings.h"
#include "store/zip.h"

namespace kindling::bench {

namespace fs = std::filesystem;

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errnoError("open(" + path.string() + ")");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data;
}

Result<std::string> packageBase64(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto zip = store::zipDirectory(path);
    if (!zip) return tl::unexpected(std::move(zip.error()).wrap("zip " + path.string()));
    return base64Encode(*zip);
  }
  auto bytes = readFile(path);
  if (!bytes) return tl::unexpected(std::move(bytes.error()));
  if (bytes->rfind("PK\x03\x04", 0) == 0) return base64Encode(*bytes);
  char tmpl[] = "/tmp/kindling-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return errnoError("mkdtemp(/tmp/kindling-bench-XXXXXX)");
  const fs::path dir = tmpl;
  Result<std::string> zip = makeError(ErrorCode::Internal, "unreachable");
  fs::copy_file(path, dir / "bootstrap", ec);
  if (ec) {
    zip = makeError(ErrorCode::Io, "copy " + path.string() + ": " + ec.message());
  } else {
    fs::permissions(dir / "bootstrap", fs::perms(0755), ec);
    zip = store::zipDirectory(dir);
  }
  fs::remove_all(dir, ec);
  if (!zip) return tl::unexpected(std::move(zip.error()));
  return base64Encode(*zip);
}

}  // namespace kindling::bench
