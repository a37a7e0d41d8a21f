// The model config JSON of a checkpoint's metadata: nlohmann's parser, then config_from_json.
// A JSON parse error or a cuvae::Error is a rejection; an accepted config must round-trip.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"
#include "models/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cuvae;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {  // parse_error, and out_of_range for "1e999"
    return 0;
  }
  try {
    const ModelConfig c = config_from_json(j, std::string(fuzz::kName));
    const nlohmann::json again = to_json(c);
    fuzz::require(to_json(config_from_json(again, std::string(fuzz::kName))) == again, "config round-trips");
  } catch (const Error& e) {
    // A rejection. Its text is not checked here: config_from_json's caller (the checkpoint
    // reader) owns the message, and validate() reports an unknown model without the name.
    fuzz::report(e);
  }
  return 0;
}
