#include "scheduler/launch_files.h"

#include <sys/stat.h>

#include <optional>
#include <utility>

namespace kindling::scheduler {

namespace fs = std::filesystem;

fs::path hostPath(const sandbox::SpawnSpec& spec, const fs::path& inside, bool isolated) {
  if (!isolated) return inside;
  const std::string text = inside.lexically_normal().string();
  auto under = [&](const fs::path& mount_point, const fs::path& source) -> std::optional<fs::path> {
    if (source.empty()) return std::nullopt;
    const std::string mp = mount_point.string();
    if (text == mp) return source;
    if (text.size() > mp.size() && text.compare(0, mp.size(), mp) == 0 && text[mp.size()] == '/') {
      return source / text.substr(mp.size() + 1);
    }
    return std::nullopt;
  };
  for (const auto& [source, mount_point] : spec.view.extra_read_only) {
    if (auto p = under(mount_point, source)) return *p;
  }
  for (const auto& [mount_point, source] :
       {std::pair<fs::path, const fs::path*>{"/var/task", &spec.view.task_root},
        {"/var/runtime", &spec.view.runtime_dir},
        {"/var/lang", &spec.view.lang_dir},
        {"/opt", &spec.view.opt_dir}}) {
    if (auto p = under(mount_point, *source)) return *p;
  }
  return inside;  // system directories are bound at the same path
}

Result<std::string> fileStamp(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errnoError("stat(" + path.string() + ")");
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace kindling::scheduler
