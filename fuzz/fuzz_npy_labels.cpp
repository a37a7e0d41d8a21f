// .npy label vectors: uint8, int32 or int64 [N], returned as int32.
#include "datasets/npy.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const std::vector<std::int32_t> labels = parse_npy_labels(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    fuzz::require(labels.size() <= size, "at most one label per byte of the file");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
