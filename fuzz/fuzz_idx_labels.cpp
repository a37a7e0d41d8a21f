// IDX1 label files, raw or gzip; every label must be below the class count.
#include "datasets/idx.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const std::vector<std::uint8_t> labels = parse_idx_labels(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    fuzz::require(!labels.empty(), "at least one label");
    for (std::uint8_t l : labels) fuzz::require(l < 10, "labels in 0..9");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
