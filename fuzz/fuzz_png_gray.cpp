// The 8-bit grayscale PNG reader (our IHDR checks, then libpng's simplified API).
#include "host/image.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const PngImage img = parse_png_gray(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    fuzz::require(img.width > 0 && img.height > 0, "width, height > 0");
    fuzz::require(img.gray.size() == std::uint64_t(img.width) * std::uint64_t(img.height), "gray == width * height");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
