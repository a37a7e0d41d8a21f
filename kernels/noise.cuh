// kernels/noise.cuh: input corruption of a denoising autoencoder, one element at a time, in the one
// form the corrupt kernel (kernels/data.cuh) and the CPU reference (host/cpu/data.cpp) share.
#pragma once
#include <vector_types.h>  // __host__ __device__ (empty for a host compiler)

#include <cmath>

namespace cuvae::kernels::data {

enum NoiseCode : int { kNoiseMask = 1, kNoiseGaussian = 2, kNoiseSaltPepper = 3 };

// The corrupted value of x at uniform u in (0, 1] or normal n (the element's Philox draw), level P
// (mask, salt-and-pepper) or sigma (gaussian). Shared with the CPU reference (host/cpu/data.cpp).
__host__ __device__ inline float corrupt_value(int kind, float x, float u, float n, float level) {
  switch (kind) {
    case kNoiseMask: return u <= level ? 0.f : x;                        // dropped with probability P
    case kNoiseGaussian: return fminf(fmaxf(x + level * n, 0.f), 1.f);  // x + N(0, sigma^2), clipped
    case kNoiseSaltPepper: return u <= 0.5f * level ? 0.f : u <= level ? 1.f : x;  // P/2 black, P/2 white
  }
  return x;
}

}  // namespace cuvae::kernels::data
