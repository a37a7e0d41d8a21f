// IDX reader/writer (see idx.hpp). The header is trusted for nothing: every size it claims is
// checked against what the file (or, for gzip, what its compressed bytes) can actually hold,
// and gzip data are inflated into a buffer that grows with the bytes actually inflated, so
// memory follows the real data, never the header's claim.
#include "datasets/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "host/error.hpp"
#include "host/fileio.hpp"

namespace cuvae {
namespace {

constexpr std::uint8_t kTypeUint8 = 0x08;
// Deflate cannot expand more than ~1032:1, so a gzip file of n bytes inflates to at most
// about 1032*n bytes; a header claiming more is lying and is refused before allocating.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kGzipSlackBytes = 1024;
// zlib counts in uInt; feed it at most this much per call.
constexpr std::size_t kZlibChunk = std::size_t(1) << 30;
// The inflate buffer starts this small and doubles (capped at the header's claim) as data come.
constexpr std::size_t kFirstInflateBytes = std::size_t(1) << 16;

struct IdxKind {
  int rank;
  const char* what;  // for messages: "uint8 images, rank 3"
  const char* dim_names;  // for messages: "count x rows x cols"
};
constexpr IdxKind kImages{3, "uint8 images, rank 3", "count x rows x cols"};
constexpr IdxKind kLabels{1, "uint8 labels, rank 1", "count"};

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

const char* idx_type_name(std::uint8_t t) {
  switch (t) {
    case 0x08: return "uint8";
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown type";
  }
}

std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

void store_be32(std::string& out, std::uint32_t v) {
  out.push_back(char(v >> 24));
  out.push_back(char(v >> 16));
  out.push_back(char(v >> 8));
  out.push_back(char(v));
}

std::string fail_prefix(const std::filesystem::path& file) { return file.string() + ": "; }

void check_magic(const std::filesystem::path& file, const std::uint8_t* m, const IdxKind& kind) {
  const std::uint32_t found = load_be32(m);
  const std::uint32_t expected = (std::uint32_t(kTypeUint8) << 8) | std::uint32_t(kind.rank);
  const std::string both = "magic is " + hex32(found) + ", expected " + hex32(expected) + " (" + kind.what + ")";
  if (m[0] != 0 || m[1] != 0) throw Error(fail_prefix(file) + "wrong magic, not an IDX file: " + both);
  if (m[2] != kTypeUint8)
    throw Error(fail_prefix(file) + "wrong element type " + idx_type_name(m[2]) + ": " + both);
  if (m[3] != kind.rank)
    throw Error(fail_prefix(file) + "wrong rank " + std::to_string(m[3]) + ", expected " +
                std::to_string(kind.rank) + ": " + both);
}

std::string dims_text(const std::vector<std::uint32_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

// Data bytes the header implies; refuses zero dimensions and products that overflow.
std::uint64_t payload_bytes(const std::filesystem::path& file, const std::vector<std::uint32_t>& dims,
                            const IdxKind& kind) {
  std::uint64_t n = 1;
  for (std::uint32_t d : dims) {
    if (d == 0)
      throw Error(fail_prefix(file) + "zero-sized dimension: header says " + dims_text(dims) + " (" +
                  kind.dim_names + ")");
    if (__builtin_mul_overflow(n, std::uint64_t(d), &n))
      throw Error(fail_prefix(file) + "header dimensions " + dims_text(dims) + " are too large");
  }
  return n;
}

// "13.2 GB", "47.0 MB", "812 bytes": a size for messages, in decimal units.
std::string human_bytes(std::uint64_t n) {
  if (n < 1000) return std::to_string(n) + " bytes";
  const char* units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  double v = double(n);
  int u = -1;
  while (v >= 999.95 && u < 5) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

// Runs an allocation whose size comes from the header; a failure becomes an Error naming the
// file, the claimed size and the dimensions instead of an unnamed std::bad_alloc.
template <class F>
void allocate_or_fail(const std::filesystem::path& file, std::uint64_t bytes, const std::string& claim, F&& f) {
  try {
    f();
  } catch (const std::bad_alloc& e) {
    throw Error(fail_prefix(file) + human_bytes(bytes) + " claimed by the header (" + claim +
                "), cannot allocate: " + e.what());
  } catch (const std::length_error& e) {
    throw Error(fail_prefix(file) + human_bytes(bytes) + " claimed by the header (" + claim +
                "), cannot allocate: " + e.what());
  }
}

std::string header_claim(const std::vector<std::uint32_t>& dims, const IdxKind& kind, std::uint64_t payload,
                         std::size_t header) {
  return "header says " + dims_text(dims) + " (" + kind.dim_names + ") = " + std::to_string(payload) +
         " data bytes + " + std::to_string(header) + "-byte header = " + std::to_string(payload + header) +
         " bytes";
}

// Pulls inflated bytes out of an in-memory gzip file (one or more members), turning every zlib
// failure into an Error that names the file.
class GzipSource {
 public:
  GzipSource(const std::filesystem::path& file, std::string_view compressed) : file_(file) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    zs_.avail_in = 0;
    left_ = compressed.size();
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw Error(fail_prefix(file_) + "cannot initialise zlib");
  }
  ~GzipSource() { inflateEnd(&zs_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  std::uint64_t produced() const { return produced_; }

  // Fills dst[0..n); returns the count written, less than n only where the data ends.
  std::size_t read(std::uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n && !done_) {
      refill_input();
      const std::size_t want = std::min(n - got, kZlibChunk);
      zs_.next_out = dst + got;
      zs_.avail_out = uInt(want);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const std::size_t made = want - zs_.avail_out;
      got += made;
      produced_ += made;
      if (rc == Z_STREAM_END) {
        refill_input();
        if (zs_.avail_in == 0) {
          done_ = true;
        } else if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
          inflateReset(&zs_);  // another gzip member follows (concatenated .gz files are legal)
        } else {
          throw Error(fail_prefix(file_) + "corrupt gzip: " + std::to_string(zs_.avail_in + left_) +
                      " bytes of trailing garbage after the gzip stream");
        }
      } else if (rc == Z_BUF_ERROR || (rc == Z_OK && made == 0 && zs_.avail_in == 0 && left_ == 0)) {
        if (zs_.avail_in == 0 && left_ == 0)
          throw Error(fail_prefix(file_) + "truncated gzip: compressed data ends after " +
                      std::to_string(produced_) + " inflated bytes, before the end of the stream");
        throw Error(fail_prefix(file_) + "corrupt gzip: inflate made no progress");
      } else if (rc != Z_OK) {
        throw Error(fail_prefix(file_) + "corrupt gzip: " + (zs_.msg ? zs_.msg : "zlib error " + std::to_string(rc)));
      }
    }
    return got;
  }

 private:
  void refill_input() {
    if (zs_.avail_in == 0 && left_ > 0) {
      const std::size_t take = std::min(left_, kZlibChunk);
      zs_.avail_in = uInt(take);
      left_ -= take;
    }
  }

  const std::filesystem::path& file_;
  z_stream zs_{};
  std::size_t left_ = 0;  // compressed bytes not yet handed to zlib
  std::uint64_t produced_ = 0;
  bool done_ = false;
};

struct IdxContents {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};

IdxContents parse_raw(const std::filesystem::path& file, std::string_view bytes, const IdxKind& kind) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t header = 4 + 4 * std::size_t(kind.rank);
  if (bytes.size() < 4)
    throw Error(fail_prefix(file) + "truncated header: file has " + std::to_string(bytes.size()) +
                " bytes, an IDX header needs at least 4");
  check_magic(file, p, kind);
  if (bytes.size() < header)
    throw Error(fail_prefix(file) + "truncated header: file has " + std::to_string(bytes.size()) +
                " bytes, the header needs " + std::to_string(header));
  IdxContents out;
  for (int i = 0; i < kind.rank; ++i) out.dims.push_back(load_be32(p + 4 + 4 * i));
  const std::uint64_t payload = payload_bytes(file, out.dims, kind);
  const std::uint64_t have = bytes.size() - header;
  if (have < payload)
    throw Error(fail_prefix(file) + "truncated data: " + header_claim(out.dims, kind, payload, header) +
                ", but the file has " + std::to_string(bytes.size()) + " bytes");
  if (have > payload)
    throw Error(fail_prefix(file) + "dimensions disagree with the file size: " +
                header_claim(out.dims, kind, payload, header) + ", but the file has " +
                std::to_string(bytes.size()) + " bytes (" + std::to_string(have - payload) + " extra)");
  allocate_or_fail(file, payload, dims_text(out.dims), [&] { out.data.assign(p + header, p + header + payload); });
  return out;
}

// Inflates exactly `payload` bytes into `data`, growing it geometrically from 64 KiB (capped at
// `payload`) only as inflated bytes arrive; returns how many came (fewer: the stream ended).
std::size_t inflate_growing(GzipSource& src, std::vector<std::uint8_t>& data, std::size_t payload) {
  std::size_t filled = 0;
  while (filled < payload) {
    const std::size_t cap = std::min(payload, std::max(kFirstInflateBytes, 2 * filled));
    data.reserve(cap);  // exactly cap: never more than the header claims
    data.resize(cap);
    const std::size_t got = src.read(data.data() + filled, cap - filled);
    filled += got;
    if (filled < cap) break;  // the stream ended early
  }
  data.resize(filled);
  return filled;
}

IdxContents parse_gzip(const std::filesystem::path& file, std::string_view compressed, const IdxKind& kind) {
  GzipSource src(file, compressed);
  const std::size_t header = 4 + 4 * std::size_t(kind.rank);
  std::array<std::uint8_t, 16> head{};
  std::size_t got = src.read(head.data(), 4);
  if (got < 4)
    throw Error(fail_prefix(file) + "truncated header: gzip stream inflates to " + std::to_string(got) +
                " bytes, an IDX header needs at least 4");
  check_magic(file, head.data(), kind);
  got += src.read(head.data() + 4, header - 4);
  if (got < header)
    throw Error(fail_prefix(file) + "truncated header: gzip stream inflates to " + std::to_string(got) +
                " bytes, the header needs " + std::to_string(header));
  IdxContents out;
  for (int i = 0; i < kind.rank; ++i) out.dims.push_back(load_be32(head.data() + 4 + 4 * i));
  const std::uint64_t payload = payload_bytes(file, out.dims, kind);
  const std::uint64_t can_hold = std::uint64_t(compressed.size()) * kMaxDeflateRatio + kGzipSlackBytes;
  if (payload > can_hold)
    throw Error(fail_prefix(file) + "truncated or wrong header: " + header_claim(out.dims, kind, payload, header) +
                ", more than a " + std::to_string(compressed.size()) + "-byte gzip file can inflate to (at most " +
                std::to_string(can_hold) + ")");
  std::size_t data_got = 0;
  allocate_or_fail(file, payload, dims_text(out.dims),
                   [&] { data_got = inflate_growing(src, out.data, std::size_t(payload)); });
  if (data_got < payload)
    throw Error(fail_prefix(file) + "truncated data: " + header_claim(out.dims, kind, payload, header) +
                ", but the gzip stream inflates to only " + std::to_string(header + data_got) + " bytes");
  // Inflate a little further, never the whole excess: a stream that goes on past the header's
  // size is refused without being expanded (a gzip bomb stops here).
  std::array<std::uint8_t, kGzipSlackBytes> extra{};
  const std::size_t more = src.read(extra.data(), extra.size());
  if (more > 0)
    throw Error(fail_prefix(file) + "dimensions disagree with the data: " +
                header_claim(out.dims, kind, payload, header) + ", but the gzip stream inflates to more (at least " +
                std::to_string(header + payload + more) + " bytes)");
  return out;
}

IdxContents parse_idx(const std::filesystem::path& file, std::string_view bytes, const IdxKind& kind) {
  if (bytes.empty()) throw Error(fail_prefix(file) + "empty file");
  const bool gzip = bytes.size() >= 2 && std::uint8_t(bytes[0]) == 0x1f && std::uint8_t(bytes[1]) == 0x8b;
  return gzip ? parse_gzip(file, bytes, kind) : parse_raw(file, bytes, kind);
}

std::string gzip_compress(const std::filesystem::path& file, std::string_view in) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error(fail_prefix(file) + "cannot initialise zlib");
  std::string out;
  std::array<char, 1 << 16> buf;
  std::size_t left = in.size();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && left > 0) {
      const std::size_t take = std::min(left, kZlibChunk);
      zs.avail_in = uInt(take);
      left -= take;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = uInt(buf.size());
    rc = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      throw Error(fail_prefix(file) + "gzip compression failed (zlib error " + std::to_string(rc) + ")");
    }
    out.append(buf.data(), buf.size() - zs.avail_out);
  }
  deflateEnd(&zs);
  return out;
}

void write_idx(const std::filesystem::path& file, const IdxKind& kind, const std::vector<std::uint32_t>& dims,
               const std::uint8_t* data, std::size_t n) {
  std::string bytes;
  bytes.reserve(4 + 4 * dims.size() + n);
  store_be32(bytes, (std::uint32_t(kTypeUint8) << 8) | std::uint32_t(kind.rank));
  for (std::uint32_t d : dims) store_be32(bytes, d);
  bytes.append(reinterpret_cast<const char*>(data), n);
  if (file.extension() == ".gz") bytes = gzip_compress(file, bytes);
  write_file_atomic(file, bytes);
}

std::uint32_t checked_dim(const std::filesystem::path& file, const char* name, std::int64_t v) {
  if (v <= 0 || v > std::int64_t(UINT32_MAX))
    throw Error(fail_prefix(file) + "cannot write " + name + " = " + std::to_string(v) +
                " (IDX dimensions are 1..4294967295)");
  return std::uint32_t(v);
}

std::filesystem::path find_split_file(const std::filesystem::path& dir, const std::string& base) {
  std::error_code ec;
  for (const std::filesystem::path& p : {dir / base, dir / (base + ".gz")})
    if (std::filesystem::is_regular_file(p, ec)) return p;
  throw Error(fail_prefix(dir) + "dataset file not found: looked for " + base + " and " + base + ".gz");
}

}  // namespace

IdxImages parse_idx_images(const std::filesystem::path& file, std::string_view bytes) {
  IdxContents c = parse_idx(file, bytes, kImages);
  if (c.dims[1] > std::uint32_t(INT_MAX) || c.dims[2] > std::uint32_t(INT_MAX))
    throw Error(fail_prefix(file) + "image size " + std::to_string(c.dims[1]) + " x " + std::to_string(c.dims[2]) +
                " is too large");
  IdxImages out;
  out.count = c.dims[0];
  out.rows = int(c.dims[1]);
  out.cols = int(c.dims[2]);
  out.pixels = std::move(c.data);
  return out;
}

IdxImages read_idx_images(const std::filesystem::path& file) { return parse_idx_images(file, read_file(file)); }

std::vector<std::uint8_t> parse_idx_labels(const std::filesystem::path& file, std::string_view bytes, int num_classes) {
  if (num_classes < 1 || num_classes > 256)
    throw Error(fail_prefix(file) + "num_classes " + std::to_string(num_classes) + " is not in 1..256");
  IdxContents c = parse_idx(file, bytes, kLabels);
  for (std::size_t i = 0; i < c.data.size(); ++i)
    if (c.data[i] >= num_classes)
      throw Error(fail_prefix(file) + "label out of range at index " + std::to_string(i) + ": value " +
                  std::to_string(c.data[i]) + ", expected 0.." + std::to_string(num_classes - 1));
  return std::move(c.data);
}

std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& file, int num_classes) {
  if (num_classes < 1 || num_classes > 256)  // before reading the file
    throw Error(fail_prefix(file) + "num_classes " + std::to_string(num_classes) + " is not in 1..256");
  return parse_idx_labels(file, read_file(file), num_classes);
}

Dataset load_idx_dataset(const std::filesystem::path& dir, std::string_view split, std::int64_t limit) {
  if (split != "train" && split != "t10k")
    throw Error(fail_prefix(dir) + "unknown split '" + std::string(split) + "', expected \"train\" or \"t10k\"");
  if (limit < 0) throw Error(fail_prefix(dir) + "negative example limit " + std::to_string(limit));
  const std::string images_name = std::string(split) + "-images-idx3-ubyte";
  const std::string labels_name = std::string(split) + "-labels-idx1-ubyte";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(fail_prefix(dir) + "dataset directory not found (looked for " + images_name + "[.gz] and " +
                labels_name + "[.gz] in it; set CUVAE_DATA or pass the directory)");
  const std::filesystem::path images_file = find_split_file(dir, images_name);
  const std::filesystem::path labels_file = find_split_file(dir, labels_name);

  IdxImages img = read_idx_images(images_file);
  std::vector<std::uint8_t> labels = read_idx_labels(labels_file);
  if (std::uint64_t(img.count) != labels.size())
    throw Error(fail_prefix(images_file) + "image count " + std::to_string(img.count) + " differs from label count " +
                std::to_string(labels.size()) + " in " + labels_file.string());

  Dataset ds;
  ds.count = limit > 0 ? std::min(limit, img.count) : img.count;
  ds.rows = img.rows;
  ds.cols = img.cols;
  const std::size_t n = std::size_t(ds.count) * std::size_t(ds.dim());
  const std::string claim = std::to_string(img.count) + " x " + std::to_string(img.rows) + " x " +
                            std::to_string(img.cols) + (ds.count < img.count ? ", first " + std::to_string(ds.count) : "") +
                            " images as floats";
  allocate_or_fail(images_file, std::uint64_t(n) * sizeof(float), claim, [&] { ds.images.resize(n); });
  for (std::size_t i = 0; i < n; ++i) ds.images[i] = float(img.pixels[i]) / 255.0f;
  labels.resize(std::size_t(ds.count));
  ds.labels = std::move(labels);
  return ds;
}

std::filesystem::path default_data_dir() {
  const char* env = std::getenv("CUVAE_DATA");
  if (env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

void write_idx_images(const std::filesystem::path& file, const IdxImages& images) {
  const std::vector<std::uint32_t> dims = {checked_dim(file, "count", images.count),
                                           checked_dim(file, "rows", images.rows),
                                           checked_dim(file, "cols", images.cols)};
  std::uint64_t want = 0;
  const bool overflow = __builtin_mul_overflow(std::uint64_t(dims[0]) * dims[1], std::uint64_t(dims[2]), &want);
  if (overflow || images.pixels.size() != want)
    throw Error(fail_prefix(file) + "cannot write: " + dims_text(dims) + " images need " + std::to_string(want) +
                " pixels, got " + std::to_string(images.pixels.size()));
  write_idx(file, kImages, dims, images.pixels.data(), images.pixels.size());
}

void write_idx_labels(const std::filesystem::path& file, const std::vector<std::uint8_t>& labels) {
  const std::vector<std::uint32_t> dims = {checked_dim(file, "count", std::int64_t(labels.size()))};
  write_idx(file, kLabels, dims, labels.data(), labels.size());
}

}  // namespace cuvae
