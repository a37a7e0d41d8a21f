// .npy reader/writer (see npy.hpp). The header is trusted for nothing: its length, its dict and
// the size its shape implies are all checked against the file before anything is allocated for
// the data, and the data are then read with exact-size reads, never past the file's end.
#include "datasets/npy.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "host/error.hpp"
#include "host/fileio.hpp"

namespace cuvae {
namespace {

// The data are copied to and from the file as they lie in memory.
static_assert(std::endian::native == std::endian::little, "the .npy reader assumes a little-endian host");

constexpr std::string_view kMagic("\x93NUMPY", 6);
// numpy itself refuses headers over 10000 bytes by default; ours need a few hundred. The
// limit only bounds what a corrupt length field can make us read and parse.
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t(1) << 20;
// More dimensions than numpy allows (64) is a corrupt header, not an array.
constexpr std::size_t kMaxRank = 64;
constexpr std::size_t kChunkBytes = std::size_t(1) << 15;  // on the stack
// numpy pads the header so the data start on a 64-byte boundary, after leaving room for the
// first dimension to grow to 21 digits (numpy >= 1.23 writes exactly this layout).
constexpr std::size_t kArrayAlign = 64;
constexpr std::size_t kGrowthDigits = 21;

std::string fail_prefix(const std::filesystem::path& file) { return file.string() + ": "; }

// Text from the file, made printable and one line for an error message.
std::string escaped(std::string_view s, std::size_t max_chars = 200) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max_chars) return out + "...";
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(char(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string hex_bytes(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(s[i]));
    out += (i ? " " : "") + std::string(buf);
  }
  return out;
}

// The shape as Python prints a tuple: "(3, 4)", "(3,)", "()".
std::string shape_text(std::span<const std::int64_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Product of dims (or elements * itemsize) with int64 overflow detection.
bool checked_product(std::span<const std::int64_t> dims, std::int64_t& out) {
  out = 1;
  for (std::int64_t d : dims)
    if (__builtin_mul_overflow(out, d, &out)) return false;
  return true;
}

enum class Dtype { f32, u8, i32, i64 };
struct DtypeInfo {
  std::string_view descr;
  Dtype type;
  std::int64_t size;
  const char* name;
};
constexpr std::array kMatrixDtypes{DtypeInfo{"<f4", Dtype::f32, 4, "float32"}, DtypeInfo{"|u1", Dtype::u8, 1, "uint8"}};
constexpr std::array kLabelDtypes{DtypeInfo{"|u1", Dtype::u8, 1, "uint8"}, DtypeInfo{"<i4", Dtype::i32, 4, "int32"},
                                  DtypeInfo{"<i8", Dtype::i64, 8, "int64"}};

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// Parses the header: a Python dict literal with exactly the keys 'descr' (a string),
// 'fortran_order' (True/False) and 'shape' (a tuple of ints), as numpy writes it. Accepts the
// literal syntax numpy and hand-written headers use, nothing that would need an evaluator.
class HeaderParser {
 public:
  HeaderParser(const std::filesystem::path& file, std::string_view text) : file_(file), text_(text) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_ws();
    expect('{', "expected '{' to open the header dict");
    while (true) {
      skip_ws();
      if (eat('}')) break;
      if (!at('\'') && !at('"')) fail("expected a quoted key or '}'");
      const std::string key = parse_string();
      skip_ws();
      expect(':', "expected ':' after the key '" + escaped(key) + "'");
      skip_ws();
      bool* seen = nullptr;
      if (key == "descr") {
        seen = &seen_descr;
        if (at('[')) throw Error(fail_prefix(file_) + "structured dtypes are not supported ('descr' is a list)");
        if (!at('\'') && !at('"')) fail("'descr' must be a quoted string");
        h.descr = parse_string();
      } else if (key == "fortran_order") {
        seen = &seen_order;
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        seen = &seen_shape;
        h.shape = parse_shape();
      } else {
        throw Error(fail_prefix(file_) + "header dict has an unexpected key '" + escaped(key) +
                    "' (want exactly 'descr', 'fortran_order' and 'shape')");
      }
      if (*seen) throw Error(fail_prefix(file_) + "header dict has the key '" + key + "' twice");
      *seen = true;
      skip_ws();
      if (eat(',')) continue;
      if (eat('}')) break;
      fail("expected ',' or '}' after the value of '" + key + "'");
    }
    skip_ws();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    const char* missing = !seen_descr ? "descr" : !seen_order ? "fortran_order" : !seen_shape ? "shape" : nullptr;
    if (missing) throw Error(fail_prefix(file_) + "header dict has no '" + missing + "' key");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string_view shown = text_;
    while (!shown.empty() && is_ws(shown.back())) shown.remove_suffix(1);  // numpy's padding
    throw Error(fail_prefix(file_) + "malformed header: " + what + " at offset " + std::to_string(pos_) + " of " +
                escaped(shown));
  }
  static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool eat(char c) {
    if (!at(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const std::string& what) {
    if (!eat(c)) fail(what);
  }
  void skip_ws() {
    while (pos_ < text_.size() && is_ws(text_[pos_])) ++pos_;
  }
  bool eat_word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  // A '...' or "..." literal on one line, without escapes (numpy never writes any).
  std::string parse_string() {
    const std::size_t open = pos_;
    const char quote = text_[pos_++];
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escape sequences are not supported");
      if (text_[pos_] == '\n') break;
      ++pos_;
    }
    if (!at(quote)) {
      pos_ = open;
      fail("unterminated string");
    }
    return std::string(text_.substr(open + 1, pos_++ - open - 1));
  }

  bool parse_bool() {
    if (eat_word("True")) return true;
    if (eat_word("False")) return false;
    fail("'fortran_order' must be True or False");
  }

  std::int64_t parse_dim() {
    const std::size_t start = pos_;
    const bool negative = eat('-');
    if (!negative) eat('+');
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected an integer in 'shape'");
    std::int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (__builtin_mul_overflow(v, std::int64_t(10), &v) || __builtin_add_overflow(v, text_[pos_] - '0', &v)) {
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
        throw Error(fail_prefix(file_) + "shape dimension " + escaped(text_.substr(start, pos_ - start)) +
                    " does not fit in int64");
      }
      ++pos_;
    }
    return negative ? -v : v;
  }

  // A tuple of ints: "()", "(3,)", "(3, 4)", "(3, 4,)". "(3)" is an int in Python, not a tuple.
  std::vector<std::int64_t> parse_shape() {
    expect('(', "'shape' must be a tuple of integers");
    std::vector<std::int64_t> shape;
    skip_ws();
    if (eat(')')) return shape;
    while (true) {
      if (shape.size() == kMaxRank) fail("'shape' has more than " + std::to_string(kMaxRank) + " dimensions");
      shape.push_back(parse_dim());
      skip_ws();
      if (eat(',')) {
        skip_ws();
        if (eat(')')) return shape;
        continue;
      }
      if (shape.size() == 1 && at(')')) fail("'shape' is not a tuple (a 1-element tuple needs a trailing comma)");
      if (eat(')')) return shape;
      fail("expected ',' or ')' in 'shape'");
    }
  }

  const std::filesystem::path& file_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

// An open .npy stream (a regular file, or bytes in memory through fmemopen) whose header has
// been read and checked: what remains is exactly the data.
class NpyFile {
 public:
  // Takes ownership of f, which holds `size` bytes.
  NpyFile(const std::filesystem::path& file, std::FILE* f, std::uint64_t size) : file_(file), f_(f), size_(size) {
    try {
      read_preamble();
    } catch (...) {
      std::fclose(f_);
      throw;
    }
  }
  ~NpyFile() { std::fclose(f_); }
  NpyFile(const NpyFile&) = delete;
  NpyFile& operator=(const NpyFile&) = delete;

  const Header& header() const { return header_; }

  // The dtype from `allowed` that the header names; `want` lists them for messages.
  const DtypeInfo& dtype(std::span<const DtypeInfo> allowed, const std::string& want) const {
    const std::string& d = header_.descr;
    for (const DtypeInfo& t : allowed)
      if (d == t.descr) return t;
    // '>' marks big-endian; name the little-endian equivalent if that would be accepted.
    if (d.size() > 1 && d[0] == '>')
      for (const DtypeInfo& t : allowed)
        if (t.size > 1 && t.descr.substr(1) == std::string_view(d).substr(1))
          throw Error(fail_prefix(file_) + "dtype '" + escaped(d) + "' is big-endian (want little-endian '" +
                      std::string(t.descr) + "')");
    throw Error(fail_prefix(file_) + "dtype '" + escaped(d) + "' is not supported (want " + want + ")");
  }

  void require_c_order() const {
    if (header_.fortran_order)
      throw Error(fail_prefix(file_) + "fortran_order is True, only C-order arrays are supported");
  }

  // Checks that the file holds exactly `elements` items of `t` after the header.
  void require_data_size(std::int64_t elements, const DtypeInfo& t) const {
    std::int64_t bytes = 0;
    if (__builtin_mul_overflow(elements, t.size, &bytes)) throw too_large();
    const std::uint64_t have = size_ - data_offset_;
    const std::string claim = "shape " + shape_text(header_.shape) + " of " + t.name + " needs " +
                              std::to_string(bytes) + " bytes after the " + std::to_string(data_offset_) +
                              "-byte header, but " + std::to_string(have) + " follow it";
    if (have < std::uint64_t(bytes)) throw Error(fail_prefix(file_) + "truncated data: " + claim);
    if (have > std::uint64_t(bytes))
      throw Error(fail_prefix(file_) + std::to_string(have - std::uint64_t(bytes)) + " trailing bytes: " + claim);
  }

  Error too_large() const {
    return Error(fail_prefix(file_) + "shape " + shape_text(header_.shape) +
                 " is too large (its size overflows int64)");
  }

  // Reads the next n bytes; the size check makes a short read mean the file changed under us.
  void read_exact(void* dst, std::size_t n) {
    if (n > 0 && std::fread(dst, 1, n, f_) != n)
      throw Error(fail_prefix(file_) + (std::ferror(f_) ? "read error" : "file shrank while being read"));
  }

 private:
  void read_preamble() {
    // magic (6), version (2), header length (2 in version 1.0, 4 in 2.0 and 3.0)
    std::array<char, 12> pre{};
    const std::size_t got = std::fread(pre.data(), 1, pre.size(), f_);
    if (std::ferror(f_)) throw Error(fail_prefix(file_) + "read error");
    const std::string_view head(pre.data(), got);
    const std::size_t magic_len = std::min(got, kMagic.size());
    if (head.substr(0, magic_len) != kMagic.substr(0, magic_len))
      throw Error(fail_prefix(file_) + "not a .npy file: bad magic " + hex_bytes(head.substr(0, magic_len)) +
                  " (want " + hex_bytes(kMagic) + ", \"\\x93NUMPY\")");
    if (got < 10)
      throw Error(fail_prefix(file_) + "too short: the file has " + std::to_string(size_) +
                  " bytes, a .npy file needs at least 10");
    const int major = static_cast<unsigned char>(pre[6]), minor = static_cast<unsigned char>(pre[7]);
    const std::string version = std::to_string(major) + "." + std::to_string(minor);
    if (minor != 0 || major < 1 || major > 3)
      throw Error(fail_prefix(file_) + "unsupported .npy format version " + version + " (want 1.0, 2.0 or 3.0)");
    const std::size_t preamble = major == 1 ? 10 : 12;
    if (got < preamble)
      throw Error(fail_prefix(file_) + "too short: the file has " + std::to_string(size_) + " bytes, the version " +
                  version + " preamble needs " + std::to_string(preamble));
    const auto byte = [&](std::size_t i) { return std::uint64_t(static_cast<unsigned char>(pre[i])); };
    const std::uint64_t header_len =
        major == 1 ? byte(8) | byte(9) << 8 : byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    data_offset_ = preamble + header_len;
    if (data_offset_ > size_)
      throw Error(fail_prefix(file_) + "header length " + std::to_string(header_len) +
                  " runs past the end of the file: the header would end at byte " + std::to_string(data_offset_) +
                  ", the file has " + std::to_string(size_) + " bytes");
    if (header_len > kMaxHeaderBytes)
      throw Error(fail_prefix(file_) + "header length " + std::to_string(header_len) + " is over the " +
                  std::to_string(kMaxHeaderBytes) + "-byte limit");
    std::string text(header_len, '\0');
    // The preamble read may have taken bytes of a version 1.0 header already.
    const std::size_t taken = got - preamble;
    std::memcpy(text.data(), pre.data() + preamble, std::min<std::size_t>(taken, header_len));
    if (taken > header_len) {
      if (std::fseek(f_, long(data_offset_), SEEK_SET) != 0) throw Error(fail_prefix(file_) + "seek failed");
    } else {
      read_exact(text.data() + taken, header_len - taken);
    }
    header_ = HeaderParser(file_, text).parse();
  }

  const std::filesystem::path& file_;
  std::FILE* f_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t data_offset_ = 0;
  Header header_;
};

// The bytes as a read-only memory stream, so the bytes entry points run the file readers' code.
std::FILE* open_memory(const std::filesystem::path& file, std::string_view bytes) {
  static constexpr char kNothing[1] = {0};  // fmemopen wants a buffer even for no bytes
  void* buf = const_cast<char*>(bytes.empty() ? kNothing : bytes.data());  // mode "rb": never written
  std::FILE* f = ::fmemopen(buf, bytes.size(), "rb");
  if (!f) throw Error(fail_prefix(file) + "cannot open the bytes as a stream: " + std::strerror(errno));
  return f;
}

// Runs the allocation of `bytes` for the data; a failure becomes an Error naming the file.
template <class F>
void allocate_or_fail(const std::filesystem::path& file, std::uint64_t bytes, const std::string& what, F&& f) {
  try {
    f();
  } catch (const std::bad_alloc& e) {
    throw Error(fail_prefix(file) + "cannot allocate " + std::to_string(bytes) + " bytes for " + what + ": " + e.what());
  } catch (const std::length_error& e) {
    throw Error(fail_prefix(file) + "cannot allocate " + std::to_string(bytes) + " bytes for " + what + ": " + e.what());
  }
}

// Reads `count` elements of T in chunks, handing each to put(index, value).
template <class T, class Put>
void read_chunked(NpyFile& f, std::int64_t count, Put&& put) {
  std::array<T, kChunkBytes / sizeof(T)> buf;
  for (std::int64_t done = 0; done < count;) {
    const std::size_t n = std::size_t(std::min<std::int64_t>(count - done, std::int64_t(buf.size())));
    f.read_exact(buf.data(), n * sizeof(T));
    for (std::size_t i = 0; i < n; ++i) put(done + std::int64_t(i), buf[i]);
    done += std::int64_t(n);
  }
}

NpyMatrix read_matrix(const std::filesystem::path& file, NpyFile& f) {
  const DtypeInfo& t = f.dtype(kMatrixDtypes, "float32 '<f4' or uint8 '|u1'");
  f.require_c_order();
  const std::vector<std::int64_t>& shape = f.header().shape;
  const std::string shape_str = shape_text(shape);
  for (std::int64_t d : shape)
    if (d < 0) throw Error(fail_prefix(file) + "shape " + shape_str + " has a negative dimension");
  const std::size_t rank = shape.size();
  if (rank < 2 || rank > 4)
    throw Error(fail_prefix(file) + "shape " + shape_str + " has rank " + std::to_string(rank) +
                " (want [N, D], [N, H, W] or [N, C, H, W])");
  if (rank == 4 && shape[1] != 1 && shape[1] != 3)
    throw Error(fail_prefix(file) + "shape " + shape_str + " has " + std::to_string(shape[1]) +
                " channels (want [N, C, H, W] with 1 or 3 channels)");
  NpyMatrix m;
  m.rows = shape[0];
  std::int64_t elements = 0;
  if (!checked_product(std::span(shape).subspan(1), m.cols) || !checked_product(shape, elements))
    throw f.too_large();
  f.require_data_size(elements, t);
  m.shape = shape;
  allocate_or_fail(file, std::uint64_t(elements) * sizeof(float), "shape " + shape_str + " as float32",
                   [&] { m.data.resize(std::size_t(elements)); });
  if (t.type == Dtype::f32) {
    f.read_exact(m.data.data(), std::size_t(elements) * sizeof(float));
  } else {
    read_chunked<std::uint8_t>(f, elements, [&](std::int64_t i, std::uint8_t v) {
      m.data[std::size_t(i)] = float(v) / 255.0f;  // as the IDX loader scales pixels
    });
  }
  return m;
}

std::vector<std::int32_t> read_labels(const std::filesystem::path& file, NpyFile& f) {
  const DtypeInfo& t = f.dtype(kLabelDtypes, "uint8 '|u1', int32 '<i4' or int64 '<i8'");
  f.require_c_order();
  const std::vector<std::int64_t>& shape = f.header().shape;
  if (shape.size() != 1)
    throw Error(fail_prefix(file) + "shape " + shape_text(shape) + " has rank " + std::to_string(shape.size()) +
                " (want 1-D labels [N])");
  if (shape[0] < 0) throw Error(fail_prefix(file) + "shape " + shape_text(shape) + " has a negative dimension");
  const std::int64_t n = shape[0];
  f.require_data_size(n, t);
  std::vector<std::int32_t> labels;
  allocate_or_fail(file, std::uint64_t(n) * sizeof(std::int32_t), "shape " + shape_text(shape) + " as int32",
                   [&] { labels.resize(static_cast<std::size_t>(n)); });
  const auto put = [&](std::int64_t i, std::int64_t v) {
    if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
      throw Error(fail_prefix(file) + "label " + std::to_string(v) + " at index " + std::to_string(i) +
                  " does not fit in int32");
    labels[std::size_t(i)] = std::int32_t(v);
  };
  switch (t.type) {
    case Dtype::u8: read_chunked<std::uint8_t>(f, n, put); break;
    case Dtype::i32: f.read_exact(labels.data(), std::size_t(n) * sizeof(std::int32_t)); break;
    case Dtype::i64: read_chunked<std::int64_t>(f, n, put); break;
    case Dtype::f32: break;  // not a label dtype: dtype() has refused it
  }
  return labels;
}

}  // namespace

NpyMatrix read_npy_matrix(const std::filesystem::path& file) {
  std::uint64_t size = 0;
  std::FILE* fp = open_regular_file(file, size);  // never blocks on a FIFO
  NpyFile f(file, fp, size);
  return read_matrix(file, f);
}

NpyMatrix parse_npy_matrix(const std::filesystem::path& file, std::string_view bytes) {
  NpyFile f(file, open_memory(file, bytes), bytes.size());
  return read_matrix(file, f);
}

std::vector<std::int32_t> read_npy_labels(const std::filesystem::path& file) {
  std::uint64_t size = 0;
  std::FILE* fp = open_regular_file(file, size);  // never blocks on a FIFO
  NpyFile f(file, fp, size);
  return read_labels(file, f);
}

std::vector<std::int32_t> parse_npy_labels(const std::filesystem::path& file, std::string_view bytes) {
  NpyFile f(file, open_memory(file, bytes), bytes.size());
  return read_labels(file, f);
}

void write_npy(const std::filesystem::path& file, const float* data, std::span<const std::int64_t> shape) {
  const std::string shape_str = shape_text(shape);
  for (std::int64_t d : shape)
    if (d < 0) throw Error(fail_prefix(file) + "cannot write shape " + shape_str + ": negative dimension");
  std::int64_t elements = 0, bytes = 0;
  if (!checked_product(shape, elements) || __builtin_mul_overflow(elements, std::int64_t(sizeof(float)), &bytes))
    throw Error(fail_prefix(file) + "cannot write shape " + shape_str + ": its size overflows int64");
  if (data == nullptr && elements > 0)
    throw Error(fail_prefix(file) + "cannot write shape " + shape_str + ": data is null");

  // Byte for byte what np.save writes for a C-order '<f4' array.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_str + ", }";
  if (!shape.empty()) dict.append(kGrowthDigits - std::to_string(shape[0]).size(), ' ');
  const std::size_t preamble = kMagic.size() + 2 + 2;
  const std::size_t pad = kArrayAlign - (preamble + dict.size() + 1) % kArrayAlign;
  dict.append(pad, ' ');
  dict.push_back('\n');
  if (dict.size() > 0xffff)
    throw Error(fail_prefix(file) + "cannot write shape " + shape_str + ": its header is " +
                std::to_string(dict.size()) + " bytes, over the 65535 a version 1.0 header holds");

  std::string out;
  out.reserve(preamble + dict.size() + std::size_t(bytes));
  out.append(kMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(char(dict.size() & 0xff));
  out.push_back(char(dict.size() >> 8));
  out += dict;
  if (bytes > 0) out.append(reinterpret_cast<const char*>(data), std::size_t(bytes));
  write_file_atomic(file, out);
}

}  // namespace cuvae
