// Whole-file I/O with the project's rules: reads are bounded, writes go to a temporary
// name in the same directory and are renamed into place, so a crash never leaves a torn file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cuvae {

// Reads the whole file; throws Error("<path>: ...") if it is missing, unreadable or larger
// than max_bytes.
std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes = std::uint64_t(1) << 34);

// Writes `bytes` to `path` atomically (temporary file + fsync + rename).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace cuvae
