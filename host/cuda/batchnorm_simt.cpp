// The SIMT build of the BatchNorm2d launcher for cuvae_simt_backend: host/cuda/batchnorm.cu compiled
// by the host compiler with CUVAE_SIMT defined (see conv_simt.cpp).
#include "host/cuda/batchnorm.cu"
