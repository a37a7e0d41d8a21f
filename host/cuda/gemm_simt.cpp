// The SIMT build of the GEMM launcher for cuvae_simt_backend: host/cuda/gemm.cu compiled by the
// host compiler with CUVAE_SIMT defined; test_gemm links it.
#include "host/cuda/gemm.cu"
