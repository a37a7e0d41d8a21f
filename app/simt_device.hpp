// --device simt: the CUDA backend built against the SIMT-on-CPU runtime, so every program runs its
// real kernels (and graphs) end to end on a machine without a GPU, as CI does; slow, for testing.
#pragma once
#include <memory>

#include "host/device.hpp"

namespace cuvae {

std::unique_ptr<Backend> make_simt_backend(const CudaRunOptions& cuda);

}  // namespace cuvae
