// The SIMT build of the GEMM launcher and kernels, for test_gemm: host/cuda/gemm.cu compiled by the
// host compiler against the SIMT runtime (kernels/portable.cuh). Included rather than listed as a
// source so that gemm.cu stays a CUDA source wherever cuvae_lib builds it; the target defines
// CUVAE_GEMM_SIMT, which puts these symbols in their own inline namespace (host/cuda/gemm.hpp).
#include "host/cuda/gemm.cu"
