// Compiles every sample kernel (kernels/samples/) with nvcc, and cuvae::launch's CUDA branch, so CI
// checks that the SIMT-tested sources also build for the GPU. Nothing here runs.
#include "kernels/samples/block_reduce.cuh"
#include "kernels/samples/sgemm_tiled.cuh"
#include "kernels/samples/warp_reduce.cuh"
#include "kernels/samples/wmma_gemm.cuh"

namespace cuvae::samples {

void nvcc_check_instantiate_samples(cudaStream_t s) {
  const float* f = nullptr;
  float* out = nullptr;
  launch(sgemm_tiled<16>, dim3(1, 1), dim3(16, 16), 0, s, 1, 1, 1, f, f, out);
  launch(sgemm_tiled<32>, dim3(1, 1), dim3(32, 32), 0, s, 1, 1, 1, f, f, out);
  launch(warp_reduce_sum, dim3(1), dim3(256), 0, s, f, 1, out);
  launch(block_reduce_sum, dim3(1), dim3(256), 256 * sizeof(float), s, f, 1, out);
  const dim3 wmma_block(32, kWmmaWarps);
  launch(wmma_gemm<__half>, dim3(1), wmma_block, 0, s, 16, 16, 16, static_cast<const __half*>(nullptr), static_cast<const __half*>(nullptr), out);
  launch(wmma_gemm<__nv_bfloat16>, dim3(1), wmma_block, 0, s, 16, 16, 16, static_cast<const __nv_bfloat16*>(nullptr),
         static_cast<const __nv_bfloat16*>(nullptr), out);
  launch(wmma_gemm<float>, dim3(1), wmma_block, 0, s, 16, 16, 8, f, f, out);
}

}  // namespace cuvae::samples
