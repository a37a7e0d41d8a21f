// PNG and JPEG decoding (see image_decode.hpp) on libpng's and libjpeg's low-level APIs, and PIL's BILINEAR
// resample. Both libraries report errors by longjmp: every call into them runs inside a small guard that holds
// the setjmp, owns nothing with a destructor, and returns false when the library jumped back; the message is kept
// in a fixed buffer and thrown as an Error once we are out of the library.
#include "datasets/image_decode.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstring>
#include <string>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "host/error.hpp"

namespace cuvae {
namespace {

std::string where_of(const std::filesystem::path& file) { return file.string() + ": "; }

// Width and height from a header, checked before anything their size is allocated.
void check_size(const std::string& where, std::uint64_t width, std::uint64_t height) {
  if (width >= 1 && height >= 1 && width * height <= std::uint64_t(kMaxDecodePixels)) return;
  throw Error(where + "image of " + std::to_string(width) + " x " + std::to_string(height) + " pixels is " +
              (width == 0 || height == 0 ? std::string("empty")
                                         : "too large (at most " + std::to_string(kMaxDecodePixels) + " pixels)"));
}

// --- PNG ------------------------------------------------------------------------------------------------------

struct PngSource {
  std::string_view bytes;
  std::size_t pos = 0;
  char message[256] = {};
};

[[noreturn]] void png_on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg ? msg : "unknown error");
  png_longjmp(png, 1);
}

// Warnings (a bad CRC on an ancillary chunk, which libpng then skips, and the like) are not printed.
void png_on_warning(png_structp, png_const_charp) {}

void png_read_from(png_structp png, png_bytep out, std::size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->bytes.size() - src->pos) png_error(png, "unexpected end of file");
  std::memcpy(out, src->bytes.data() + src->pos, n);
  src->pos += n;
}

// Runs f (calls into libpng, owning no objects with destructors); false when libpng reported an error.
template <class F>
bool png_guarded(png_structp png, F& f) {
  if (setjmp(png_jmpbuf(png))) return false;
  f();
  return true;
}

DecodedImage decode_png(const std::string& where, std::string_view bytes) {
  PngSource src{bytes};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
  if (!png) throw Error(where + "PNG: cannot create libpng's read state");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp png;
    png_infop info;
    ~Guard() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
  } guard{png, info};
  if (!info) throw Error(where + "PNG: cannot create libpng's info state");
  png_set_read_fn(png, &src, png_read_from);
  const auto failed = [&] { return Error(where + "PNG: " + src.message); };

  png_uint_32 width = 0, height = 0;
  int depth = 0, type = 0;
  auto header = [&] {
    png_read_info(png, info);
    png_get_IHDR(png, info, &width, &height, &depth, &type, nullptr, nullptr, nullptr);
  };
  if (!png_guarded(png, header)) throw failed();
  check_size(where, width, height);

  std::size_t channels = 0, rowbytes = 0;
  auto transforms = [&] {
    if (depth == 16) png_set_strip_16(png);  // the high byte, as PIL's RGB;16B / RGBA;16B / LA;16B unpackers
    png_set_expand(png);                     // palette -> RGB, 1/2/4-bit grey -> 8-bit, tRNS -> alpha
    png_set_strip_alpha(png);                // ... and no alpha at all: PIL's convert('RGB'/'L') drops it
    png_set_interlace_handling(png);         // Adam7: png_read_image runs the passes
    png_read_update_info(png, info);
    channels = png_get_channels(png, info);
    rowbytes = png_get_rowbytes(png, info);
  };
  if (!png_guarded(png, transforms)) throw failed();
  if ((channels != 1 && channels != 3) || rowbytes != std::size_t(width) * channels)
    throw Error(where + "PNG: unexpected layout after libpng's transforms (" + std::to_string(channels) +
                " channels, " + std::to_string(rowbytes) + " bytes a row)");

  DecodedImage img{int(width), int(height), int(channels), {}};
  img.pixels.resize(rowbytes * height);
  std::vector<png_bytep> rows(height);
  for (std::size_t y = 0; y < height; ++y) rows[y] = img.pixels.data() + y * rowbytes;
  auto body = [&] {
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);  // through IEND: a file cut short after the image data is an error too
  };
  if (!png_guarded(png, body)) throw failed();
  return img;
}

// --- JPEG -----------------------------------------------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr pub;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  cinfo->err->format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// The warnings that mean pixels are missing or made up: libjpeg goes on (filling in grey, or skipping to the
// next restart marker), PIL ignores them, we stop. The others (extraneous bytes between markers, an unknown
// JFIF revision or Adobe transform code, a bad ICC marker) do not touch the pixels.
bool damages_pixels(int code) {
  switch (code) {
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
      return true;
    default:
      return false;
  }
}

// level < 0: a warning; 0 and up: trace messages. Nothing is printed.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && damages_pixels(cinfo->err->msg_code)) jpeg_on_error(cinfo);
}
void jpeg_on_output(j_common_ptr) {}

template <class F>
bool jpeg_guarded(std::jmp_buf& jump, F& f) {
  if (setjmp(jump)) return false;
  f();
  return true;
}

DecodedImage decode_jpeg(const std::string& where, std::string_view bytes) {
  jpeg_decompress_struct cinfo{};  // zeroed: jpeg_destroy_decompress is safe whatever happened
  JpegErrors errors{};
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = jpeg_on_error;
  errors.pub.emit_message = jpeg_on_message;
  errors.pub.output_message = jpeg_on_output;
  struct Guard {
    jpeg_decompress_struct* cinfo;
    ~Guard() { jpeg_destroy_decompress(cinfo); }
  } guard{&cinfo};
  const auto failed = [&] { return Error(where + "JPEG: " + errors.message); };

  auto header = [&] {
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
  };
  if (!jpeg_guarded(errors.jump, header)) throw failed();
  int channels = 0;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE, channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo.out_color_space = JCS_RGB, channels = 3;
      break;
    case JCS_CMYK:
      throw Error(where + "JPEG: CMYK JPEGs are not supported (only grey and colour)");
    case JCS_YCCK:
      throw Error(where + "JPEG: YCCK JPEGs are not supported (only grey and colour)");
    default:
      throw Error(where + "JPEG: a colour space of " + std::to_string(cinfo.num_components) +
                  " components that is not grey or colour is not supported");
  }
  check_size(where, cinfo.image_width, cinfo.image_height);

  auto start = [&] { jpeg_start_decompress(&cinfo); };
  if (!jpeg_guarded(errors.jump, start)) throw failed();
  if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
      cinfo.output_components != channels)
    throw Error(where + "JPEG: unexpected output layout from libjpeg");

  DecodedImage img{int(cinfo.output_width), int(cinfo.output_height), channels, {}};
  const std::size_t stride = std::size_t(img.width) * std::size_t(channels);
  img.pixels.resize(stride * std::size_t(img.height));
  auto body = [&] {
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = img.pixels.data() + std::size_t(cinfo.output_scanline) * stride;
      if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) ERREXIT(&cinfo, JERR_INPUT_EOF);
    }
    jpeg_finish_decompress(&cinfo);  // through EOI: a file cut short after the last scan is an error too
  };
  if (!jpeg_guarded(errors.jump, body)) throw failed();
  return img;
}

// --- PIL's BILINEAR resample (Pillow's src/libImaging/Resample.c) -----------------------------------------------

constexpr int kPrecisionBits = 32 - 8 - 2;  // PRECISION_BITS: 8 bits of result, 2 of headroom

double triangle(double x) {  // bilinear_filter, support 1
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

std::uint8_t clip8(std::int32_t ss) {  // clip8: the lookup table clamps ss >> PRECISION_BITS to 0..255
  const std::int32_t v = ss >> kPrecisionBits;
  return std::uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// precompute_coeffs then normalize_coeffs_8bpc, for the output positions [begin, begin + n) of a resize of one
// axis from in_size to out_size: output i reads inputs first[i] .. first[i] + count[i] - 1 with weights k[i * ksize ..].
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> k;
};

Taps taps(int in_size, int out_size, int begin, int n) {
  // PIL's box is float[4] (0, 0, w, h): scale = (double)(in1 - in0) / outSize with float in1.
  const double scale = double(float(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // BILINEAR.support * filterscale
  const double inv_filterscale = 1.0 / filterscale;  // PIL multiplies by the reciprocal
  Taps t;
  t.ksize = int(std::ceil(support)) * 2 + 1;
  t.first.resize(std::size_t(n));
  t.count.resize(std::size_t(n));
  t.k.assign(std::size_t(n) * std::size_t(t.ksize), 0);
  std::vector<double> w(std::size_t(t.ksize));
  for (int i = 0; i < n; ++i) {
    const int xx = begin + i;
    const double center = (xx + 0.5) * scale;  // in0 + (xx + 0.5) * scale, in0 = 0
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    CUVAE_CHECK(xmax >= 1 && xmax <= t.ksize, "resample taps");
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[std::size_t(x)] = triangle((x + xmin - center + 0.5) * inv_filterscale);
      ww += w[std::size_t(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      double kx = w[std::size_t(x)];
      if (ww != 0.0) kx /= ww;
      t.k[std::size_t(i) * std::size_t(t.ksize) + std::size_t(x)] =
          kx < 0 ? int(-0.5 + kx * (1 << kPrecisionBits)) : int(0.5 + kx * (1 << kPrecisionBits));
    }
    t.first[std::size_t(i)] = xmin;
    t.count[std::size_t(i)] = xmax;
  }
  return t;
}

// Python's int(round(d / 2.0)) for d >= 0: half to even.
int half_round_even(std::int64_t d) {
  const std::int64_t k = d / 2;
  return int(d % 2 == 0 ? k : k + (k % 2));
}

}  // namespace

DecodedImage decode_image(const std::filesystem::path& file, std::string_view bytes) {
  const std::string where = where_of(file);
  const auto starts = [&](std::string_view magic) { return bytes.substr(0, magic.size()) == magic; };
  if (starts("\x89PNG")) return decode_png(where, bytes);
  if (starts("\xFF\xD8\xFF")) return decode_jpeg(where, bytes);
  throw Error(where + "not a PNG or JPEG file");
}

DecodedImage to_channels(const DecodedImage& img, int channels) {
  if ((channels != 1 && channels != 3) || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != std::size_t(img.width) * std::size_t(img.height) * std::size_t(img.channels))
    throw Error("to_channels: an image of " + std::to_string(img.channels) + " channels and " +
                std::to_string(img.pixels.size()) + " bytes to " + std::to_string(channels) + " channels");
  if (channels == img.channels) return img;
  const std::size_t n = std::size_t(img.width) * std::size_t(img.height);
  DecodedImage out{img.width, img.height, channels, std::vector<std::uint8_t>(n * std::size_t(channels))};
  const std::uint8_t* in = img.pixels.data();
  std::uint8_t* o = out.pixels.data();
  if (channels == 3) {
    for (std::size_t i = 0; i < n; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = in[i];
  } else {
    for (std::size_t i = 0; i < n; ++i)  // PIL's L24: ITU-R 601-2 luma in 16-bit fixed point
      o[i] = std::uint8_t((in[3 * i] * 19595u + in[3 * i + 1] * 38470u + in[3 * i + 2] * 7471u + 0x8000u) >> 16);
  }
  return out;
}

DecodedImage resize_center_crop(const DecodedImage& img, int size) {
  const int w = img.width, h = img.height, c = img.channels;
  if (size < 1 || w < 1 || h < 1 || (c != 1 && c != 3) ||
      img.pixels.size() != std::size_t(w) * std::size_t(h) * std::size_t(c))
    throw Error("resize_center_crop: a " + std::to_string(w) + " x " + std::to_string(h) + " image of " +
                std::to_string(c) + " channels and " + std::to_string(img.pixels.size()) + " bytes to " +
                std::to_string(size) + " x " + std::to_string(size));
  // torchvision's _compute_resized_output_size: int(size * long / short), in doubles as Python divides.
  const std::int64_t short_side = std::min(w, h), long_side = std::max(w, h);
  const auto new_long = std::int64_t(double(std::int64_t(size) * long_side) / double(short_side));
  if (new_long > INT_MAX)
    throw Error("resize_center_crop: a " + std::to_string(w) + " x " + std::to_string(h) + " image resized to " +
                std::to_string(size) + " on its short side is " + std::to_string(new_long) + " long");
  const int new_w = w <= h ? size : int(new_long), new_h = w <= h ? int(new_long) : size;
  const int left = half_round_even(new_w - size), top = half_round_even(new_h - size);
  const bool need_h = new_w != w, need_v = new_h != h;  // PIL skips a pass whose size does not change
  const std::size_t cs = std::size_t(c), s = std::size_t(size);
  constexpr std::int32_t kHalf = std::int32_t(1) << (kPrecisionBits - 1);

  // The input rows the vertical pass reads (PIL's ybox_first .. ybox_last), restricted to the rows kept.
  Taps tv;
  int r0 = top, r1 = top + size;
  if (need_v) {
    tv = taps(h, new_h, top, size);
    r0 = tv.first.front();
    r1 = tv.first.back() + tv.count.back();
  }
  // Horizontal pass into an 8-bit temporary of rows r0 .. r1 - 1, the kept columns only.
  const std::size_t rows = std::size_t(r1 - r0);
  std::vector<std::uint8_t> tmp(rows * s * cs);
  if (need_h) {
    const Taps th = taps(w, new_w, left, size);
    for (std::size_t y = 0; y < rows; ++y) {
      const std::uint8_t* line = img.pixels.data() + (std::size_t(r0) + y) * std::size_t(w) * cs;
      for (std::size_t xx = 0; xx < s; ++xx) {
        const std::int32_t* k = th.k.data() + xx * std::size_t(th.ksize);
        const std::uint8_t* px = line + std::size_t(th.first[xx]) * cs;
        for (std::size_t ch = 0; ch < cs; ++ch) {
          std::int32_t ss = kHalf;
          for (int x = 0; x < th.count[xx]; ++x) ss += px[std::size_t(x) * cs + ch] * k[x];
          tmp[(y * s + xx) * cs + ch] = clip8(ss);
        }
      }
    }
  } else {
    for (std::size_t y = 0; y < rows; ++y)
      std::memcpy(tmp.data() + y * s * cs, img.pixels.data() + ((std::size_t(r0) + y) * std::size_t(w) + std::size_t(left)) * cs,
                  s * cs);
  }
  if (!need_v) return DecodedImage{size, size, c, std::move(tmp)};

  // Vertical pass.
  DecodedImage out{size, size, c, std::vector<std::uint8_t>(s * s * cs)};
  for (std::size_t yy = 0; yy < s; ++yy) {
    const std::int32_t* k = tv.k.data() + yy * std::size_t(tv.ksize);
    const std::uint8_t* col = tmp.data() + std::size_t(tv.first[yy] - r0) * s * cs;
    for (std::size_t i = 0; i < s * cs; ++i) {
      std::int32_t ss = kHalf;
      for (int y = 0; y < tv.count[yy]; ++y) ss += col[std::size_t(y) * s * cs + i] * k[y];
      out.pixels[yy * s * cs + i] = clip8(ss);
    }
  }
  return out;
}

}  // namespace cuvae
