// The SIMT build of the GEMM launcher for cuvae_simt_backend: host/cuda/gemm.cu compiled by the
// host compiler with CUVAE_GEMM_SIMT defined (as tests/test_gemm_simt.cpp does for test_gemm).
#include "host/cuda/gemm.cu"
