// The SIMT build of the CUDA backend (target cuvae_simt_backend): host/cuda/cuda_backend.cu
// compiled by the host compiler against the SIMT runtime, with CUVAE_SIMT defined. Included
// rather than listed, because a source file's LANGUAGE is one per directory: cuda_backend.cu stays
// a CUDA source for cuvae_lib. See host/cuda/cuda_backend.cmake.
#include "host/cuda/cuda_backend.cu"
