// safetensors files: the u64 header length, the JSON header (tensor entries and the
// __metadata__ map) and the data offsets against the data bytes.
#include "host/safetensors.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const SafetensorsFile f = parse_safetensors(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    std::uint64_t bytes = 0;
    for (const TensorRecord& t : f.tensors) {
      std::uint64_t n = 1;
      for (std::int64_t d : t.shape) {
        fuzz::require(d >= 0, "dims >= 0");
        n *= std::uint64_t(d);
      }
      fuzz::require(t.data.size() == n, "data size == product(shape)");
      fuzz::require(f.find(t.name) != nullptr, "find() finds every tensor");
      bytes += 4 * n;
    }
    fuzz::require(bytes + 8 <= size, "tensors fit in the file");
    for (const auto& [key, value] : f.metadata) fuzz::require(key.size() + value.size() <= size, "metadata fits");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
