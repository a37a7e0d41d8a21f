// NumPy .npy files: a bounded reader for float32/uint8 image matrices and integer labels, and
// a float32 writer whose header is laid out as numpy's own np.save lays it out.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace cuvae {

// A 2-D float32 matrix read from a .npy file: rows = shape[0], cols = product of the rest.
struct NpyMatrix {
  std::vector<float> data;
  std::int64_t rows = 0, cols = 0;
  std::vector<std::int64_t> shape;  // as stored in the file
};

// Reads float32 ('<f4') or uint8 ('|u1', divided by 255 into [0,1]) arrays of shape [N, D],
// [N, H, W] or [N, C, H, W] with C 1 or 3 (C order only), .npy format versions 1.0, 2.0 and 3.0. Every
// problem (bad magic, unknown version, malformed header, big-endian, Fortran order, another
// dtype or rank, data shorter or longer than the shape says) throws Error("<file>: ...").
// Nothing is allocated for the data before its size has been checked against the file's.
NpyMatrix read_npy_matrix(const std::filesystem::path& file);
// The same on a file's bytes, through the same stream reader (a memory stream); `file` only
// names it in messages.
NpyMatrix parse_npy_matrix(const std::filesystem::path& file, std::string_view bytes);

// Integer labels: a 1-D array [N] of uint8, int32 or int64 ('|u1', '<i4', '<i8'), returned as
// int32 (an Error if a value does not fit).
std::vector<std::int32_t> read_npy_labels(const std::filesystem::path& file);
std::vector<std::int32_t> parse_npy_labels(const std::filesystem::path& file, std::string_view bytes);

// Writes a float32 C-order array of the given shape (any rank; a version 1.0 header padded to
// 64 bytes as numpy pads it) atomically: a temporary name in the same folder, then a rename.
// data may be null only when the shape holds no elements.
void write_npy(const std::filesystem::path& file, const float* data, std::span<const std::int64_t> shape);

}  // namespace cuvae
