// Checkpoint files in the safetensors format (huggingface/safetensors): F32 tensors plus a
// string->string metadata map, written atomically and read back with every field validated.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cuvae {

// A tensor to write: borrowed, contiguous row-major F32 data of product(shape) elements
// (shape [] is a scalar: one element).
struct TensorView {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* data;
};

// A tensor read from a file; owns its data.
struct TensorRecord {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<TensorRecord> tensors;  // in file order of data offsets

  const TensorRecord* find(std::string_view name) const;  // nullptr if absent
  const TensorRecord& at(std::string_view name) const;    // throws Error naming the tensor if absent
};

// Writes `tensors` (data in the given order) and `metadata` to `file` atomically
// (write_file_atomic). Duplicate or reserved ("__metadata__") names, negative dims, a null
// data pointer for a non-empty tensor or strings that are not valid UTF-8 are programming
// errors (CUVAE_CHECK).
void write_safetensors(const std::filesystem::path& file, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata);

// Reads and validates the whole file. Anything malformed (short file, bad header length,
// invalid JSON, wrong field types, offsets that overlap, leave gaps or run past the data, a
// dtype other than F32, ...) throws a one-line Error("<file>: <what is wrong>"); allocations
// never exceed the file's size.
SafetensorsFile read_safetensors(const std::filesystem::path& file);
// The same on a file's bytes (read_safetensors reads the file and calls this); `file` only
// names it in messages.
SafetensorsFile parse_safetensors(const std::filesystem::path& file, std::string_view bytes);

}  // namespace cuvae
