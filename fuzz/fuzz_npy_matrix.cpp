// .npy image matrices: float32 or uint8, [N, D], [N, H, W] or [N, 1, H, W].
#include "datasets/npy.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const NpyMatrix m = parse_npy_matrix(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    fuzz::require(m.rows >= 0 && m.cols >= 0, "rows, cols >= 0");
    fuzz::require(m.data.size() == std::uint64_t(m.rows) * std::uint64_t(m.cols), "data == rows * cols");
    fuzz::require(m.shape.size() >= 2 && m.shape.size() <= 4 && m.shape[0] == m.rows, "shape matches");
    fuzz::require(m.data.size() <= size, "at most one float per byte of the file");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
