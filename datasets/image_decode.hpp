// Image decoding for image-folder data sets: PNG (libpng) and JPEG (libjpeg-turbo) bytes to 8-bit grey or RGB
// pixels as PIL (9.x) gives them, and torchvision's Resize(S) + CenterCrop(S) bit-exact with PIL's BILINEAR resize.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace cuvae {

// An 8-bit image, pixels interleaved row-major [height][width][channels], channels 1 or 3.
struct DecodedImage {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;
};

// The most pixels (width * height) decode_image accepts.
inline constexpr std::int64_t kMaxDecodePixels = std::int64_t(1) << 28;

// Decodes PNG or JPEG bytes, the format known from the magic bytes (PNG 89 50 4E 47, JPEG FF D8 FF). The image
// comes back in its own colour kind: 1 channel for grey (PNG grey or grey+alpha, grey JPEG), 3 otherwise (PNG
// RGB/RGBA/palette, colour JPEG). Alpha is dropped, as PIL's convert('RGB'/'L') drops it (no compositing).
// PNG: palette, 1/2/4-bit grey, tRNS and Adam7 interlacing are expanded by libpng; 16-bit samples keep their
// high byte (v >> 8), as PIL does for 16-bit RGB, RGBA and grey+alpha PNGs. No gamma correction (neither does PIL).
// JPEG: baseline and progressive, grey, YCbCr and RGB, with libjpeg's default (PIL's) decoder settings; CMYK and
// YCCK throw. A warning about damaged entropy-coded data (premature end of file, corrupt data segment, bad
// Huffman code, ...) throws; warnings libjpeg gives for harmless oddities (extraneous bytes between markers, an
// unknown JFIF revision or Adobe transform, a bad ICC marker) are ignored, as PIL ignores them. Nothing is printed.
// Every problem throws Error("<file>: <what>"), one line: "<file>: not a PNG or JPEG file", "<file>: PNG:
// <libpng's message>", "<file>: JPEG: <libjpeg's message>". The size is checked before the pixel buffer is
// allocated: width, height >= 1 and width * height <= kMaxDecodePixels. `file` only names the image in messages.
DecodedImage decode_image(const std::filesystem::path& file, std::string_view bytes);

// Converts between 1 and 3 channels as PIL does: RGB->L is (R*19595 + G*38470 + B*7471 + 0x8000) >> 16, L->RGB
// replicates. The same channel count returns a copy.
DecodedImage to_channels(const DecodedImage& img, int channels);

// torchvision's Resize(size) then CenterCrop(size) on a PIL image of mode L or RGB, bit-exact with PIL 9's
// Image.resize(..., BILINEAR) (a triangle filter widened by the scale when shrinking, so it antialiases): the
// short side becomes size and the long side int(size * long / short); then the centre size x size, its offsets
// int(round((new - size) / 2.0)) with Python's round (half to even). PIL's two passes (horizontal into an 8-bit
// temporary, then vertical; a pass whose size does not change is skipped) with its fixed-point coefficients,
// evaluated only for the output pixels the crop keeps. 1 or 3 channels; size >= 1.
DecodedImage resize_center_crop(const DecodedImage& img, int size);

}  // namespace cuvae
