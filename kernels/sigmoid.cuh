// kernels/sigmoid.cuh: the logistic sigmoid in the one form every backend computes it, for the
// kernels (GPU and SIMT builds) and the CPU backend alike, so their results agree bit for bit:
// 1 / (1 + e^-v) for v >= 0 and e^v / (1 + e^v) below, which overflows for no |v|.
#pragma once
#include <vector_types.h>  // crt/host_defines.h: __host__ and __device__, empty for a host compiler

#include <cmath>

namespace cuvae {

__host__ __device__ inline float stable_sigmoid(float v) {
  return v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v));
}

}  // namespace cuvae
