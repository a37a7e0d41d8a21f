// Whole-file I/O with the project's rules: reads are bounded and only of regular files (a FIFO
// or a device is refused, never waited on or read forever); writes go to a temporary name in the
// same directory and are renamed into place, so a crash never leaves a torn file, and never
// replace anything but a regular file (a symlink, a device or a FIFO is refused).
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace cuvae {

// Reads the whole file; throws Error("<path>: ...") if it is missing, not a regular file,
// unreadable, larger than max_bytes, or its size cannot be allocated.
std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes = std::uint64_t(1) << 34);

// Opens a regular file for reading (blocking reads), without ever blocking in open() on a FIFO;
// `size` gets its size. Throws Error naming the file.
std::FILE* open_regular_file(const std::filesystem::path& path, std::uint64_t& size);

// Writes `bytes` to `path` atomically (temporary file "<path>.tmp.<pid>" + fsync + rename).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Throws Error("<what> <path>: ...") unless `path` is a usable output name: not empty, and
// either absent or a regular file (not a directory, symlink, device or FIFO).
void check_output_file(const std::filesystem::path& path, const std::string& what = "");

// Removes "<dir>/<name>.tmp.<pid>" files left by writers that were killed (their process is
// gone); returns how many were removed.
int remove_stale_temporaries(const std::filesystem::path& dir);

}  // namespace cuvae
