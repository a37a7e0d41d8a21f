// Picks the backend for --device auto|cpu|cuda.
#pragma once
#include <memory>
#include <ostream>
#include <string_view>

#include "host/backend.hpp"

namespace cuvae {

// "auto": the GPU if this build has the CUDA backend and a device is present, else the CPU
// with a one-line note on `log`. "cuda" without either is an Error saying which is missing.
std::unique_ptr<Backend> make_backend(std::string_view device, int threads, std::ostream& log);

// True when this binary was built with the CUDA backend.
bool cuda_backend_built();

}  // namespace cuvae
