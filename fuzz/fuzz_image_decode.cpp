// The image folders' decoder (PNG through libpng, JPEG through libjpeg-turbo), and the resize of
// what it accepts.
#include "datasets/image_decode.hpp"
#include "host/error.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const DecodedImage img = decode_image(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    fuzz::require(img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3), "a size and 1 or 3 channels");
    fuzz::require(img.pixels.size() == std::uint64_t(img.width) * std::uint64_t(img.height) * std::uint64_t(img.channels),
                  "pixels == width * height * channels");
    if (std::int64_t(img.width) * img.height <= 4096) {  // small ones: the resize and the conversion too
      const DecodedImage r = resize_center_crop(to_channels(img, 3), 5);
      fuzz::require(r.width == 5 && r.height == 5 && r.pixels.size() == 75, "a 5 x 5 RGB crop");
    }
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
