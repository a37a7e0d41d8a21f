// Counter-based random numbers shared by the CPU backend and the kernels: curand's
// Philox4x32-10 keyed by (seed, stream) and indexed by element, so a value depends only on
// (seed, stream, element index), never on launch configuration, thread count or backend.
#pragma once
#include <cstdint>

// curand's device API is device-only under nvcc; its code is written for both sides
// (NV_IF_TARGET), and the CPU reference must draw the same numbers, so make it __host__ too.
// This header must come before any other include of curand_kernel.h in a CUDA source.
#if defined(__CUDACC__) && !defined(QUALIFIERS)
#define QUALIFIERS static __forceinline__ __host__ __device__
#endif
#include <curand_kernel.h>

namespace cuvae {

// seed: the run's seed. stream: which draw (purpose in the top byte, step/epoch below), the
// Philox subsequence. Elements 4g..4g+3 come from one Philox block g.
struct RngKey {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
};

enum class RngPurpose : std::uint64_t { reparam = 1, eval = 2, sample = 3, init = 4, shuffle = 5, noise = 6 };

__host__ __device__ inline RngKey rng_key(std::uint64_t seed, RngPurpose purpose, std::uint64_t counter) {
  return RngKey{seed, (static_cast<std::uint64_t>(purpose) << 56) | (counter & ((std::uint64_t(1) << 56) - 1))};
}

__host__ __device__ inline curandStatePhilox4_32_10_t philox_at(RngKey key, std::uint64_t group) {
  curandStatePhilox4_32_10_t s;
  curand_init(key.seed, key.stream, group * 4, &s);
  return s;
}

// Four standard normals for elements 4*group .. 4*group+3 (Box-Muller, as curand_normal4).
__host__ __device__ inline float4 philox_normal4(RngKey key, std::uint64_t group) {
  curandStatePhilox4_32_10_t s = philox_at(key, group);
  return curand_normal4(&s);
}

// Four uniforms in (0, 1] for elements 4*group .. 4*group+3.
__host__ __device__ inline float4 philox_uniform4(RngKey key, std::uint64_t group) {
  curandStatePhilox4_32_10_t s = philox_at(key, group);
  return curand_uniform4(&s);
}

// Four raw 32-bit words for elements 4*group .. 4*group+3.
__host__ __device__ inline uint4 philox_bits4(RngKey key, std::uint64_t group) {
  curandStatePhilox4_32_10_t s = philox_at(key, group);
  return curand4(&s);
}

__host__ __device__ inline float float4_at(float4 v, unsigned i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

}  // namespace cuvae
