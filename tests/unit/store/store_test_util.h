// Helpers shared by the store unit tests: unique temp dirs, file writing, and hand-built zips
// (libarchive) for entries zipDirectory() would never produce (zip-slip, devices, ...).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

namespace kindling::store::testing {

// A fresh directory under $TMPDIR, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "kd-store-test-XXXXXX").string();
    const char* made = ::mkdtemp(templ.data());
    if (made == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
    }
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void writeFile(const std::filesystem::path& path, const std::string& content,
                      mode_t mode = 0644) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline mode_t modeOf(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

struct RawEntry {
  std::string name;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;  // file content, or symlink target for AE_IFLNK
};

inline la_ssize_t appendCallback(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// Builds a zip with exactly these entries, names and types unchecked.
inline std::string buildZip(const std::vector<RawEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, appendCallback, nullptr), ARCHIVE_OK);
  for (const RawEntry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.perm);
    if (e.type == AE_IFLNK) {
      archive_entry_set_symlink(entry, e.data.c_str());
    } else if (e.type == AE_IFREG) {
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    }
    EXPECT_GE(archive_write_header(a, entry), ARCHIVE_WARN) << archive_error_string(a);
    if (e.type == AE_IFREG && !e.data.empty()) {
      EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

}  // namespace kindling::store::testing

namespace kindling::store::testing {

// Rewrites the unix mode (high half of "external file attributes") of the central-directory
// record named `name`: the way to get fifo/device entries, which libarchive's writer refuses.
inline bool patchCentralMode(std::string& zip, const std::string& name, uint16_t mode) {
  size_t pos = 0;
  while ((pos = zip.find("PK\x01\x02", pos)) != std::string::npos) {
    if (pos + 46 > zip.size()) return false;
    auto u16 = [&](size_t off) {
      return static_cast<uint16_t>(static_cast<unsigned char>(zip[pos + off]) |
                                   (static_cast<unsigned char>(zip[pos + off + 1]) << 8));
    };
    const uint16_t name_len = u16(28);
    if (zip.compare(pos + 46, name_len, name) == 0 && name_len == name.size()) {
      zip[pos + 5] = 3;  // made by: unix
      zip[pos + 40] = static_cast<char>(mode & 0xff);
      zip[pos + 41] = static_cast<char>(mode >> 8);
      return true;
    }
    pos += 4;
  }
  return false;
}

// Overwrites a 32-bit little-endian field at `offset` of the central-directory record `name`.
inline bool patchCentralU32(std::string& zip, const std::string& name, size_t offset,
                            uint32_t value) {
  size_t pos = 0;
  while ((pos = zip.find("PK\x01\x02", pos)) != std::string::npos) {
    if (pos + 46 > zip.size()) return false;
    const size_t name_len = static_cast<unsigned char>(zip[pos + 28]) |
                            (static_cast<unsigned char>(zip[pos + 29]) << 8);
    if (name_len == name.size() && zip.compare(pos + 46, name_len, name) == 0) {
      for (size_t i = 0; i < 4; ++i) {
        zip[pos + offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
      }
      return true;
    }
    pos += 4;
  }
  return false;
}

// Same for the local file header (`offset` relative to its "PK\3\4" signature).
inline bool patchLocalU32(std::string& zip, const std::string& name, size_t offset,
                          uint32_t value) {
  size_t pos = 0;
  while ((pos = zip.find("PK\x03\x04", pos)) != std::string::npos) {
    if (pos + 30 > zip.size()) return false;
    const size_t name_len = static_cast<unsigned char>(zip[pos + 26]) |
                            (static_cast<unsigned char>(zip[pos + 27]) << 8);
    if (name_len == name.size() && zip.compare(pos + 30, name_len, name) == 0) {
      for (size_t i = 0; i < 4; ++i) {
        zip[pos + offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
      }
      return true;
    }
    pos += 4;
  }
  return false;
}

}  // namespace kindling::store::testing
