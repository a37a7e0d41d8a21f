// Backend selection (see device.hpp).
#include "host/device.hpp"

#include <string>

#include "host/cuda/conv.hpp"  // the flags' parsers (header only: any build)
#include "host/cuda/gemm.hpp"
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

std::unique_ptr<Backend> make_backend(std::string_view device, int threads, std::ostream& log,
                                      const CudaRunOptions& cuda) {
  // Checked in every build, so a bad value is an error even where the CPU runs.
  const cuda::Precision precision = cuda::parse_precision(cuda.precision);
  [[maybe_unused]] const cuda::GemmImpl gemm = cuda::parse_gemm_impl(cuda.gemm);
  [[maybe_unused]] const cuda::ConvImpl conv = cuda::parse_conv_impl(cuda.conv);
  if (device != "auto" && device != "cuda" && device != "cpu")
    throw Error("--device '" + std::string(device) + "': expected auto, cpu or cuda");
  if (device != "cpu") {
#ifdef CUVAE_HAVE_CUDA
    std::string why = cuda_unavailable_reason();
    if (why.empty()) {
      CudaOptions o;
      o.precision = precision;
      o.gemm = gemm;
      o.conv = conv;
      o.graphs = cuda.graphs;
      return make_cuda_backend(0, o);
    }
#else
    std::string why = "this cuvae was built without the CUDA backend (configure with -DCUVAE_CUDA=ON)";
#endif
    if (device == "cuda") throw Error("--device cuda: " + why);
    log << "note: no usable GPU (" << why << "); running on the CPU\n";
  }
  if (precision != cuda::Precision::fp32) log << "note: --precision " << cuda.precision << " applies to the GPU; the CPU computes in fp32\n";
  if (const std::string note = blas_kernel_note(); !note.empty()) log << "note: " << note << "\n";
  return make_cpu_backend(threads);
}

}  // namespace cuvae
