// The SIMT build of the convolution launcher for cuvae_simt_backend: host/cuda/conv.cu compiled by
// the host compiler with CUVAE_SIMT defined (see gemm_simt.cpp).
#include "host/cuda/conv.cu"
