// Small string helpers shared by every folder: base64, hex, UUIDs, ISO timestamps, URL decoding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindling {

std::string base64Encode(std::string_view data);
// Returns nullopt on malformed input (standard alphabet, padding required as AWS sends it).
std::optional<std::string> base64Decode(std::string_view data);
std::string hexEncode(std::string_view bytes);
// Lowercase hex of the SHA-256 of `data` (64 characters).
std::string sha256Hex(std::string_view data);
// Random v4 UUID, lowercase with dashes (request ids, revision ids).
std::string uuid4();
// 32 random lowercase hex characters (log stream suffixes).
std::string randomHex32();
// "2020-04-10T19:06:32.563+0000" (AWS LastModified format) for an epoch-millis value.
std::string isoTimestampAws(int64_t epoch_millis);
// "2020-04-10T19:06:32.563Z" (log lines).
std::string isoTimestampZ(int64_t epoch_millis);
// Percent-decoding of a URL path segment or query component; nullopt on bad escapes.
std::optional<std::string> urlDecode(std::string_view in, bool plus_is_space = false);
std::vector<std::string_view> split(std::string_view s, char sep);
bool startsWith(std::string_view s, std::string_view prefix);
bool iequals(std::string_view a, std::string_view b);

}  // namespace kindling
