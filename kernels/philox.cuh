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

enum class RngPurpose : std::uint64_t { reparam = 1, eval = 2, sample = 3, init = 4, shuffle = 5, noise = 6, split = 7 };

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

// A Philox-keyed pseudo-random permutation of [0, n), evaluated index by index (no sort, no
// state), so the CPU backend and a GPU kernel produce the same order and a GPU thread needs only
// its own index: a balanced Feistel network on 2h-bit values whose round function is a Philox
// word of (key, round, right half), with cycle walking: the network is applied again until the
// value falls inside [0, n). The network is a bijection of [0, 4^h), so the walk ends and the
// result is a bijection of [0, n). 4^h is the smallest power of 4 >= n, but at least 256: with
// fewer than 4 bits a half, or fewer than 8 rounds, the position of a row is measurably
// non-uniform for small n (chi-square over many epochs; tests/test_shuffle.cpp). For n > 64
// there are fewer than 4 walks on average, 8 Philox words each.
struct Permutation {
  RngKey key;
  std::uint32_t n = 0;
  int half_bits = 0;
};
inline constexpr int kPermutationRounds = 8;

__host__ __device__ inline Permutation make_permutation(RngKey key, std::uint32_t n) {
  int h = 4;
  while (h < 16 && (std::uint64_t(1) << (2 * h)) < n) ++h;
  return Permutation{key, n, h};
}

// The position-i entry of the permutation; i < p.n.
__host__ __device__ inline std::uint32_t permute(const Permutation& p, std::uint32_t i) {
  const std::uint32_t mask = (std::uint32_t(1) << p.half_bits) - 1;
  std::uint32_t x = i;
  do {
    std::uint32_t left = x >> p.half_bits, right = x & mask;
    for (std::uint32_t round = 0; round < kPermutationRounds; ++round) {
      const std::uint32_t f = philox_bits4(p.key, (std::uint64_t(round) << 32) | right).x & mask;
      const std::uint32_t next = left ^ f;
      left = right;
      right = next;
    }
    x = (left << p.half_bits) | right;
  } while (x >= p.n);
  return x;
}

__host__ __device__ inline float float4_at(float4 v, unsigned i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

}  // namespace cuvae
