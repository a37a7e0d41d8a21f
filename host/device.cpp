// Backend selection (see device.hpp).
#include "host/device.hpp"

#include <string>

#ifdef CUVAE_HAVE_CUDA
#include "host/cuda/cuda_backend.hpp"
#endif

namespace cuvae {

bool cuda_backend_built() {
#ifdef CUVAE_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Backend> make_backend(std::string_view device, int threads, std::ostream& log) {
  if (device == "cpu") return make_cpu_backend(threads);
  if (device != "auto" && device != "cuda")
    throw Error("--device '" + std::string(device) + "': expected auto, cpu or cuda");
#ifdef CUVAE_HAVE_CUDA
  std::string why = cuda_unavailable_reason();
  if (why.empty()) return make_cuda_backend(0);
#else
  std::string why = "this cuvae was built without the CUDA backend (configure with -DCUVAE_CUDA=ON)";
#endif
  if (device == "cuda") throw Error("--device cuda: " + why);
  log << "note: no usable GPU (" << why << "); running on the CPU\n";
  return make_cpu_backend(threads);
}

}  // namespace cuvae
