// IDX3 image files, raw or gzip (parse_idx_images detects gzip by its 1f 8b magic).
#include "datasets/idx.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const IdxImages img = parse_idx_images(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    fuzz::require(img.count > 0 && img.rows > 0 && img.cols > 0, "dimensions are positive");
    fuzz::require(img.pixels.size() == std::uint64_t(img.count) * std::uint64_t(img.rows) * std::uint64_t(img.cols),
                  "pixels == count * rows * cols");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
