// safetensors writer and validating reader (see safetensors.hpp). Layout: u64 LE header
// length N, N bytes of JSON header (space-padded), then the tensors' bytes back to back.
#include "host/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/text.hpp"

namespace cuvae {
namespace {

// We copy float bytes straight to and from the file, which stores them little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

// The reference reader allows 100 MB, but a parsed JSON header takes ~30x its text in memory
// (a 9 MB header of empty arrays peaked at 260 MB), so a hostile 100 MB header would cost ~3 GB.
// cuvae's own headers are a few KB (one entry per tensor); 16 MB bounds the parse near 500 MB.
constexpr std::uint64_t kHeaderLimit = 16'000'000;
constexpr std::uint64_t kF32Bytes = 4;
constexpr std::string_view kMetadataKey = "__metadata__";

// Names and parser messages come from the file: printable() (host/text.hpp) keeps an error one
// line. Names are valid UTF-8 (the JSON parser checks); the parser's message may quote raw bytes,
// so there ascii_only escapes everything outside ASCII too.

// "an array", "a number", ...: the JSON kind of a value, for messages.
std::string kind_of(const nlohmann::json& v) {
  std::string t = v.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

// Built by append: `"'" + std::string` trips GCC 12's false -Wrestrict warning (PR 105329).
std::string quote_name(std::string_view name) {
  std::string q = "'";
  q += printable(name);
  q += '\'';
  return q;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Element count of a shape, or false on overflow. Dims are known to be >= 0.
bool element_count(const std::vector<std::int64_t>& shape, std::uint64_t& count) {
  count = 1;
  for (std::int64_t d : shape)
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) return false;
  return true;
}

// One tensor entry of the header, validated field by field before any data is touched.
struct Entry {
  std::string name;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

}  // namespace

const TensorRecord* SafetensorsFile::find(std::string_view name) const {
  for (const TensorRecord& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorRecord& SafetensorsFile::at(std::string_view name) const {
  if (const TensorRecord* t = find(name)) return *t;
  std::string have;
  for (std::size_t i = 0; i < tensors.size() && i < 8; ++i) have += (i ? ", " : "") + quote_name(tensors[i].name);
  if (tensors.size() > 8) have += ", ...";
  throw Error("checkpoint has no tensor named " + quote_name(name) + " (it has " +
              (tensors.empty() ? std::string("none") : have) + ")");
}

void write_safetensors(const std::filesystem::path& file, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the header in the caller's order, which is also the data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[std::string(kMetadataKey)] = std::move(meta);
  }
  std::set<std::string_view> seen;
  std::vector<std::uint64_t> sizes;
  std::uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    CUVAE_CHECK(t.name != kMetadataKey, "tensor name '__metadata__' is reserved by the format");
    CUVAE_CHECK(seen.insert(t.name).second, "duplicate tensor name " + quote_name(t.name));
    for (std::int64_t d : t.shape)
      CUVAE_CHECK(d >= 0, "tensor " + quote_name(t.name) + " has negative dimension in shape " + shape_string(t.shape));
    std::uint64_t count = 0, bytes = 0;
    CUVAE_CHECK(element_count(t.shape, count) && !__builtin_mul_overflow(count, kF32Bytes, &bytes),
                "tensor " + quote_name(t.name) + " shape " + shape_string(t.shape) + " is too large");
    CUVAE_CHECK(count == 0 || t.data != nullptr, "tensor " + quote_name(t.name) + " has no data for shape " +
                                                     shape_string(t.shape));
    header[t.name] = {{"dtype", "F32"},
                      {"shape", t.shape},
                      {"data_offsets", nlohmann::ordered_json::array({offset, offset + bytes})}};
    offset += bytes;
    sizes.push_back(bytes);
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8 in a name or metadata string
    CUVAE_FAIL(std::string("cannot encode safetensors header: ") + e.what());
  }
  // Pad so the data starts 8-byte aligned in the file, as the reference writer does.
  json.append((8 - json.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + json.size() + offset);
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += json;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (sizes[i] > 0) out.append(reinterpret_cast<const char*>(tensors[i].data), sizes[i]);
  write_file_atomic(file, out);
}

SafetensorsFile read_safetensors(const std::filesystem::path& file) {
  // Bound the read by the size on disk; read_file reports missing files and directories itself.
  std::error_code ec;
  std::uint64_t disk_size = std::filesystem::file_size(file, ec);
  return parse_safetensors(file, read_file(file, ec ? 0 : disk_size));
}

SafetensorsFile parse_safetensors(const std::filesystem::path& file, std::string_view bytes) {
  auto fail = [&](const std::string& what) -> Error { return Error(file.string() + ": " + what); };
  const std::uint64_t size = bytes.size();

  if (size < 8)
    throw fail("file is " + std::to_string(size) + " bytes, too short for a safetensors file (needs an 8-byte header length)");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > kHeaderLimit)
    throw fail("header length " + std::to_string(n) + " exceeds the " + std::to_string(kHeaderLimit) +
               "-byte limit (not a safetensors file?)");
  if (n > size - 8)
    throw fail("header length " + std::to_string(n) + " is larger than the " + std::to_string(size - 8) +
               " bytes that follow it (truncated or not a safetensors file)");
  const std::string_view header_text(bytes.data() + 8, n);
  const std::uint64_t data_size = size - 8 - n;
  const char* data = bytes.data() + 8 + n;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const std::bad_alloc& e) {  // the parsed tree takes several times the text's bytes
    throw fail("cannot allocate memory to parse the " + std::to_string(n) + "-byte JSON header: " + e.what());
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    std::string_view why = e.what();
    if (auto p = why.find("] "); p != std::string_view::npos) why.remove_prefix(p + 2);  // drop "[json.exception...]"
    throw fail("header is not valid JSON: " + printable(why, 160, true));
  }
  if (!header.is_object()) throw fail("header is not a JSON object (it is " + kind_of(header) + ")");
  // The reference reader rejects anything before the '{' (e.g. leading spaces); so do we.
  if (header_text.empty() || header_text[0] != '{') throw fail("header must start with '{'");

  // Offsets and dims: JSON integers >= 0. Returns false (with `why`) otherwise.
  auto get_uint = [](const nlohmann::json& v, std::uint64_t& out, std::string& why) {
    if (v.is_number_unsigned()) {
      out = v.get<std::uint64_t>();
      return true;
    }
    why = v.is_number_integer() ? "negative" : "not an integer (it is " + kind_of(v) + ")";
    return false;
  };

  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object())
        throw fail("\"__metadata__\" is not an object (it is " + kind_of(value) + ")");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw fail("metadata value for key " + quote_name(mk) + " is not a string (it is " + kind_of(mv) + ")");
        result.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string tname = "tensor " + quote_name(key);
    if (!value.is_object()) throw fail(tname + ": entry is not an object (it is " + kind_of(value) + ")");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field)) throw fail(tname + ": missing \"" + field + "\"");
    const auto& dtype = value.at("dtype");
    const auto& shape = value.at("shape");
    const auto& offsets = value.at("data_offsets");
    if (!dtype.is_string()) throw fail(tname + ": \"dtype\" is not a string (it is " + kind_of(dtype) + ")");
    if (!shape.is_array()) throw fail(tname + ": \"shape\" is not an array (it is " + kind_of(shape) + ")");
    if (!offsets.is_array() || offsets.size() != 2)
      throw fail(tname + ": \"data_offsets\" is not an array of two integers");

    Entry e;
    e.name = key;
    std::string why;
    // No dump() of file values in messages: it recurses, and a hostile header can nest deeply.
    for (std::size_t i = 0; i < shape.size(); ++i) {
      std::uint64_t dim = 0;
      if (!get_uint(shape[i], dim, why) || dim > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        throw fail(tname + ": shape dimension " + std::to_string(i) + " is " +
                   (why.empty() ? std::string("too large (") + std::to_string(dim) + ")" : why));
      e.shape.push_back(static_cast<std::int64_t>(dim));
    }
    for (std::size_t i = 0; i < 2; ++i)
      if (!get_uint(offsets[i], i == 0 ? e.begin : e.end, why))
        throw fail(tname + ": data_offsets[" + std::to_string(i) + "] is " + why);
    if (dtype.get<std::string>() != "F32")
      throw fail(tname + " has dtype " + printable(dtype.get<std::string>()) + "; only F32 is supported");
    if (e.end < e.begin)
      throw fail(tname + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                 "] end before they begin");
    std::uint64_t count = 0, need = 0;
    if (!element_count(e.shape, count) || __builtin_mul_overflow(count, kF32Bytes, &need))
      throw fail(tname + ": shape " + shape_string(e.shape) + " is too large");
    if (e.end - e.begin != need)
      throw fail(tname + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] span " +
                 std::to_string(e.end - e.begin) + " bytes but F32 shape " + shape_string(e.shape) + " needs " +
                 std::to_string(need));
    entries.push_back(std::move(e));
  }

  // The data buffer must be tiled exactly: tensors back to back from 0, no gaps, no overlap.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  std::uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin > covered)
      throw fail("gap in the data: bytes [" + std::to_string(covered) + ", " + std::to_string(e.begin) +
                 ") belong to no tensor (before tensor " + quote_name(e.name) + ")");
    if (e.begin < covered)
      throw fail("tensor " + quote_name(e.name) + " data_offsets [" + std::to_string(e.begin) + ", " +
                 std::to_string(e.end) + "] overlap tensor " + quote_name(prev->name) + " which ends at " +
                 std::to_string(covered));
    covered = e.end;
    prev = &e;
  }
  if (covered > data_size)
    throw fail("truncated or offsets out of range: the header describes " + std::to_string(covered) +
               " data bytes (tensor " + quote_name(prev->name) + " ends there) but the file holds " +
               std::to_string(data_size) + " data bytes; expected a file of " +
               (covered > std::numeric_limits<std::uint64_t>::max() - 8 - n ? std::string("more than 2^64")
                                                                            : std::to_string(8 + n + covered)) +
               " bytes, got " + std::to_string(size));
  if (covered < data_size)
    throw fail("the file holds " + std::to_string(data_size) + " data bytes but the header describes only " +
               std::to_string(covered) + " (" + std::to_string(data_size - covered) + " trailing bytes)");

  // The tensors tile the data exactly, so this allocates the file's data bytes, no more.
  result.tensors.reserve(entries.size());
  for (Entry& e : entries) {
    TensorRecord t;
    t.name = std::move(e.name);
    t.shape = std::move(e.shape);
    try {
      t.data.resize((e.end - e.begin) / kF32Bytes);
    } catch (const std::bad_alloc& ex) {
      throw fail("tensor " + quote_name(t.name) + ": cannot allocate " + std::to_string(e.end - e.begin) +
                 " bytes for shape " + shape_string(t.shape) + ": " + ex.what());
    }
    if (!t.data.empty()) std::memcpy(t.data.data(), data + e.begin, e.end - e.begin);
    result.tensors.push_back(std::move(t));
  }
  return result;
}

}  // namespace cuvae
