// Checkpoints as every command reads them: the safetensors file, then check_checkpoint: the
// metadata (format, the model config, the training state, each field typed and in range), the
// tensors against the model the config describes (registered, never allocated), no extra tensor,
// every value finite. A rejection must be one line naming the input.
#include <cmath>

#include "fuzz/fuzz_support.hpp"
#include "models/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  try {
    const SafetensorsFile f = parse_safetensors(std::string(fuzz::kName), fuzz::as_bytes(data, size));
    const Checkpoint ck = check_checkpoint(std::string(fuzz::kName), f);
    fuzz::require(ck.config.latent >= 1 && ck.config.latent <= ck.config.input_dim, "latent in 1..input_dim");
    for (const TensorRecord& t : f.tensors)
      for (float v : t.data) fuzz::require(std::isfinite(v), "accepted values are finite");
    if (ck.train) fuzz::require(ck.train->adam.lr > 0 && ck.train->batch_size >= 1, "training state in range");
  } catch (const Error& e) {
    fuzz::check_rejection(e);
  }
  return 0;
}
