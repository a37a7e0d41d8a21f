// The model config JSON of a checkpoint's metadata: nlohmann's parser, then config_from_json.
// A JSON parse error or a one-line cuvae::Error naming the input is a rejection; an accepted
// config must round-trip.
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
    fuzz::check_rejection(e);  // one line naming the input, the field and what it wants
  }
  return 0;
}
