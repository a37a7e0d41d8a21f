// --device simt (see simt_device.hpp). This source is compiled with CUVAE_SIMT (cuvae_app links
// cuvae_simt_backend), so host/cuda/cuda_backend.hpp declares the SIMT build's factory.
#include "app/simt_device.hpp"

#include "host/cuda/cuda_backend.hpp"

namespace cuvae {

std::unique_ptr<Backend> make_simt_backend(const CudaRunOptions& cuda) {
  CudaOptions o;
  o.precision = cuda::parse_precision(cuda.precision);
  o.gemm = cuda::parse_gemm_impl(cuda.gemm);
  o.conv = cuda::parse_conv_impl(cuda.conv);  // cudnn: the backend refuses it (no cuDNN on the SIMT device)
  o.graphs = cuda.graphs;
  if (o.gemm == cuda::GemmImpl::cublas) throw Error("--device simt --gemm cublas: the SIMT device has no cuBLAS");
  return make_cuda_backend(0, o);
}

}  // namespace cuvae
