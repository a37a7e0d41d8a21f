// Elementwise float math for the fast CPU ops (host/cpu/fast/): exp, log1p on [0, 1] and the
// stable sigmoid, written with +, -, *, /, compares and bit casts only, so that GCC vectorises a
// loop that calls them (SSE2 or AVX2 lanes) and every lane computes exactly what the scalar code
// does: with -ffp-contract=off (set for these sources in host/CMakeLists.txt) a value does not
// depend on the instruction set, the vector width, the loop's peeling or the thread that ran it.
// Accuracy (tests/test_fast_math.cpp): exp_approx within 2 ulp of exp over its normal range,
// log1p_unit within 3 ulp (and 1e-7 absolute) of log1p on [0, 1].
#pragma once
#include <bit>
#include <cstdint>
#include <limits>

// A function whose loops call these, compiled twice: for AVX2 and for baseline x86-64 (SSE2); the
// loader picks the one this CPU runs (GCC function multi-versioning, an ifunc). Both compute the
// same bits (see above). A build for a CPU with AVX2 already (-march=native) needs one version, and
// the TSan build gets one too: the loader runs the ifunc's resolver before TSan's runtime is up,
// and TSan's instrumentation of it crashes the program there.
#if defined(__x86_64__) && !defined(__AVX2__) && !defined(__SANITIZE_THREAD__)
#define CUVAE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CUVAE_VECTOR_CLONES
#endif

namespace cuvae::cpu::fast {

// e^x for any float: Cephes' expf (x = n ln2 + r, |r| <= ln2 / 2, degree-5 polynomial for e^r),
// with n rounded by the 1.5 * 2^23 trick (no floor, so SSE2 vectorises it too) and 2^n applied
// as two factors, so that the whole normal range is reached. Below -87.33 (a result under
// FLT_MIN) it gives 0 where expf gives a subnormal (off by < 1.2e-38); above 88.72, +inf; NaN
// stays NaN.
[[gnu::always_inline]] inline float exp_approx(float x) {
  constexpr float kMagic = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + kMagic;
  const float n = t - kMagic;
  const auto ni = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(t) - std::bit_cast<std::uint32_t>(kMagic));
  float r = x - n * 0.693359375f;  // ln 2 in two parts: n * 0.693359375 is exact
  r = r - n * -2.12194440e-4f;
  const float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.f;
  const std::int32_t n1 = ni >> 1, n2 = ni - n1;  // 2^n = 2^n1 2^n2, each a normal float for n in [-126, 128]
  const float s1 = std::bit_cast<float>(static_cast<std::uint32_t>(n1 + 127) << 23);
  const float s2 = std::bit_cast<float>(static_cast<std::uint32_t>(n2 + 127) << 23);
  float y = p * s1 * s2;
  y = x < -87.33654475f ? 0.f : y;
  y = x > 88.72283905f ? std::numeric_limits<float>::infinity() : y;
  return y;
}

// log(1 + e) for e in [0, 1] (the Bernoulli likelihood's log(1 + e^-|l|)): 2 atanh(s) with
// s = e / (2 + e) in [0, 1/3], as s (2 + t P(t)), t = s^2, P a degree-3 minimax fit of
// (2 atanh(s) / s - 2) / t on [0, 1/9] (relative error 5e-9 before rounding).
[[gnu::always_inline]] inline float log1p_unit(float e) {
  const float s = e / (2.f + e);
  const float t = s * s;
  float p = 2.802446485e-1f;
  p = p * t + 2.799913883e-1f;
  p = p * t + 4.002169967e-1f;
  p = p * t + 6.666641235e-1f;
  return s * (2.f + t * p);
}

// The logistic sigmoid of v from e = e^-|v|: 1 / (1 + e) for v >= 0, e / (1 + e) below (the
// form of kernels/sigmoid.cuh, which never overflows).
[[gnu::always_inline]] inline float sigmoid_from(float v, float e) { return (v >= 0.f ? 1.f : e) / (1.f + e); }

[[gnu::always_inline]] inline float sigmoid_approx(float v) { return sigmoid_from(v, exp_approx(v >= 0.f ? -v : v)); }

// Row sums in a fixed order: element j of a row goes to lane j % 8, each lane a float64 added in
// element order, and the lanes are added as a fixed tree. A row is summed block by block
// (values computed into a buffer by a vectorised loop, then added to the lanes), so that the order
// is the same in every build, for any vector width and any alignment of the row.
inline constexpr int kLanes = 8;
inline constexpr std::int64_t kBlock = 256;  // elements per block (a multiple of kLanes)

struct Lanes {
  double v[kLanes] = {};
  // Adds x[0..n) with x[0] at lane 0 (n a multiple of kLanes except in a row's last block).
  template <class T>
  [[gnu::always_inline]] void add(const T* x, std::int64_t n) {
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int k = 0; k < kLanes; ++k) v[k] += static_cast<double>(x[j + k]);
    for (int k = 0; j + k < n; ++k) v[k] += static_cast<double>(x[j + k]);
  }
  double sum() const { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }
};

}  // namespace cuvae::cpu::fast
