// Atomics across blocks on several OS threads, math functions and fast intrinsics, float4, half and
// bf16 conversions, and curand's Philox4x32-10 (raw output against Random123's known answers).
#include <curand_kernel.h>

#include <algorithm>
#include <cstring>

#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
namespace simt = cuvae::simt;

struct AtomicOut {
  int count = 0, sub = 1000000, imax = -1, imin = 1 << 30, cas_count = 0, exch = -1;
  float fsum = 0, fmax = -2, fmin = 2;
  unsigned inc = 0, dec = 0, or_bits = 0, and_bits = 0xffffffffu, xor_bits = 0;
  unsigned long long big = 0;
  double dsum = 0;
};

__global__ void atomics(AtomicOut* o, int* exch_seen) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&o->count, 1);
  atomicSub(&o->sub, 2);
  atomicAdd(&o->fsum, 0.5f);
  atomicAdd(&o->dsum, 0.25);
  atomicAdd(&o->big, 1ull << 33);
  atomicMax(&o->imax, (i * 7919) % 100003);
  atomicMin(&o->imin, (i * 7919) % 100003 - 50000);
  atomicMax(&o->fmax, sinf(float(i)));
  atomicMin(&o->fmin, sinf(float(i)));
  atomicInc(&o->inc, 9u);   // counts 0..9 and wraps
  atomicDec(&o->dec, 9u);
  atomicOr(&o->or_bits, 1u << (i % 32));
  atomicAnd(&o->and_bits, ~(1u << (i % 31)));
  atomicXor(&o->xor_bits, 1u << (i % 32));
  int old = 0, assumed;  // the classic CAS loop, from a guess (a plain read would race with the atomics)
  do {
    assumed = old;
    old = atomicCAS(&o->cas_count, assumed, assumed + 1);
  } while (old != assumed);
  exch_seen[i] = atomicExch(&o->exch, i);
}

TEST(SimtAtomics, AtomicAcrossBlocksAndOsThreads) {
  const simt::Settings saved = simt::settings();
  simt::set_threads(4);  // more OS threads than cores: blocks really interleave
  const int blocks = simt_test::kSanitized ? 16 : 128, threads = 128, n = blocks * threads;
  AtomicOut o;
  std::vector<int> seen(n, -2);
  launch(atomics, dim3(blocks), dim3(threads), 0, nullptr, &o, seen.data());
  simt::set_threads(saved.threads);

  int imax = -1, imin = 1 << 30;
  float fmax = -2, fmin = 2;
  for (int i = 0; i < n; ++i) {
    imax = std::max(imax, (i * 7919) % 100003);
    imin = std::min(imin, (i * 7919) % 100003 - 50000);
    fmax = std::max(fmax, sinf(float(i)));
    fmin = std::min(fmin, sinf(float(i)));
  }
  EXPECT_EQ(o.count, n);
  EXPECT_EQ(o.sub, 1000000 - 2 * n);
  EXPECT_EQ(o.fsum, 0.5f * n);  // exact: small integers and halves
  EXPECT_EQ(o.dsum, 0.25 * n);
  EXPECT_EQ(o.big, (1ull << 33) * n);
  EXPECT_EQ(o.imax, imax);
  EXPECT_EQ(o.imin, imin);
  EXPECT_EQ(o.fmax, fmax);
  EXPECT_EQ(o.fmin, fmin);
  EXPECT_EQ(o.inc, unsigned(n % 10));
  EXPECT_EQ(o.dec, unsigned((10 - n % 10) % 10));
  EXPECT_EQ(o.or_bits, 0xffffffffu);
  EXPECT_EQ(o.and_bits, 0x80000000u);
  EXPECT_EQ(o.xor_bits, 0u);  // each bit flipped n / 32 times, an even number
  EXPECT_EQ(o.cas_count, n);
  // atomicExch hands every value on exactly once: the old values plus the final one are -1, 0..n-1.
  seen.push_back(o.exch);
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i <= n; ++i) ASSERT_EQ(seen[i], i - 1);
}

struct MathOut {
  float v[24];
  int i[12];
};

__global__ void math_functions(float x, MathOut* o) {
  float s, c;
  __sincosf(x, &s, &c);
  float* v = o->v;
  v[0] = __expf(x);
  v[1] = __logf(x);
  v[2] = __fdividef(x, 3.0f);
  v[3] = rsqrtf(x);
  v[4] = fmaf(x, 2.0f, 0.5f);
  v[5] = __saturatef(x);
  v[6] = __saturatef(-x);
  v[7] = __saturatef(x * 1000.0f);
  v[8] = __saturatef(nanf(""));
  v[9] = __sinf(x);
  v[10] = __cosf(x);
  v[11] = s;
  v[12] = c;
  v[13] = __powf(x, 1.5f);
  v[14] = expf(x) + logf(x) + sqrtf(x) + tanhf(x) + erff(x);
  v[15] = __log2f(x) + __exp10f(x);
  v[16] = min(x, 0.25f);
  v[17] = max(x, 0.25f);
  v[18] = __int_as_float(__float_as_int(x));
  v[19] = normcdff(0.0f);
  v[20] = __frcp_rn(x) + __fsqrt_rn(x);
  int* k = o->i;
  k[0] = __float_as_int(1.0f);
  k[1] = __popc(0xf0f0u);
  k[2] = __clz(1);
  k[3] = __ffs(8);
  k[4] = int(__brev(1u) >> 1);
  k[5] = min(3, -4);
  k[6] = max(3, -4);
  k[7] = __float2int_rn(2.5f);
  k[8] = __float2int_rn(3.5f);
  k[9] = __float2int_rz(-2.7f);
  k[10] = __umulhi(0x80000000u, 6u);
  k[11] = __popcll(~0ull);
}

TEST(SimtMath, FunctionsAndIntrinsics) {
  const float x = 0.7f;
  MathOut o;
  launch(math_functions, dim3(1), dim3(1), 0, nullptr, x, &o);
  const float tol = 1e-6f;
  EXPECT_NEAR(o.v[0], std::exp(x), tol * 4);
  EXPECT_NEAR(o.v[1], std::log(x), tol);
  EXPECT_NEAR(o.v[2], x / 3.0f, tol);
  EXPECT_NEAR(o.v[3], 1.0f / std::sqrt(x), tol * 2);
  EXPECT_EQ(o.v[4], std::fma(x, 2.0f, 0.5f));
  EXPECT_EQ(o.v[5], x);
  EXPECT_EQ(o.v[6], 0.0f);
  EXPECT_EQ(o.v[7], 1.0f);
  EXPECT_EQ(o.v[8], 0.0f);  // __saturatef(NaN) is 0 on the GPU
  EXPECT_NEAR(o.v[9], std::sin(x), tol);
  EXPECT_NEAR(o.v[10], std::cos(x), tol);
  EXPECT_NEAR(o.v[11], std::sin(x), tol);
  EXPECT_NEAR(o.v[12], std::cos(x), tol);
  EXPECT_NEAR(o.v[13], std::pow(x, 1.5f), tol);
  EXPECT_NEAR(o.v[14], std::exp(x) + std::log(x) + std::sqrt(x) + std::tanh(x) + std::erf(x), 1e-5);
  EXPECT_NEAR(o.v[15], std::log2(x) + std::pow(10.0f, x), 1e-5);
  EXPECT_EQ(o.v[16], 0.25f);
  EXPECT_EQ(o.v[17], x);
  EXPECT_EQ(o.v[18], x);
  EXPECT_EQ(o.v[19], 0.5f);
  EXPECT_NEAR(o.v[20], 1.0f / x + std::sqrt(x), 1e-6);
  const int want[12] = {0x3f800000, 8, 31, 4, 0x40000000, -4, 3, 2, 4, -2, 3, 64};
  for (int j = 0; j < 12; ++j) EXPECT_EQ(o.i[j], want[j]) << "integer result " << j;
}

__global__ void vector_types(const float4* in, float4* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float4 a = in[i];
  out[i] = make_float4(a.w, a.z * 2.0f, a.y + 1.0f, a.x);
}

TEST(SimtTypes, Float4) {
  const int n = 37;
  static_assert(alignof(float4) == 16);
  std::vector<float4> in(n), out(n, make_float4(NAN, NAN, NAN, NAN));
  for (int i = 0; i < n; ++i) in[i] = make_float4(float(i), float(2 * i), float(3 * i), float(4 * i) + 0.5f);
  launch(vector_types, dim3(2), dim3(32), 0, nullptr, in.data(), out.data(), n);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(out[i].x, in[i].w);
    EXPECT_EQ(out[i].y, in[i].z * 2.0f);
    EXPECT_EQ(out[i].z, in[i].y + 1.0f);
    EXPECT_EQ(out[i].w, in[i].x);
  }
}

struct LowPrecisionOut {
  unsigned short half_bits[6], bf16_bits[4];
  float back[6];
};

__global__ void low_precision(LowPrecisionOut* o) {
  const __half h[6] = {__float2half(1.0f + 1.0f / 2048), __float2half(1.0f + 3.0f / 2048), __float2half(65520.0f),
                       __float2half(-2.5f), __hadd(__float2half(1.5f), __float2half(0.25f)),
                       __hmul(__float2half(3.0f), __float2half(-0.5f))};
  for (int k = 0; k < 6; ++k) {
    o->half_bits[k] = __half_as_ushort(h[k]);
    o->back[k] = __half2float(h[k]);
  }
  const __nv_bfloat16 b[4] = {__float2bfloat16(1.0f + 1.0f / 256), __float2bfloat16(1.0f + 3.0f / 256),
                              __float2bfloat16(3.140625f), __hadd(__float2bfloat16(1.0f), __float2bfloat16(-0.5f))};
  for (int k = 0; k < 4; ++k) o->bf16_bits[k] = __bfloat16_as_ushort(b[k]);
  const __half2 p = __floats2half2_rn(0.5f, -4.0f);
  const float2 f = __half22float2(p);
  o->back[0] += f.x + f.y;  // 1.0 + 0.5 - 4.0
}

TEST(SimtTypes, HalfAndBf16Conversions) {
  LowPrecisionOut o{};
  launch(low_precision, dim3(1), dim3(1), 0, nullptr, &o);
  EXPECT_EQ(o.half_bits[0], 0x3c00);  // tie: rounds to even (1.0)
  EXPECT_EQ(o.half_bits[1], 0x3c02);  // tie: rounds to even (1 + 2^-9)
  EXPECT_EQ(o.half_bits[2], 0x7c00);  // overflows to +inf
  EXPECT_EQ(o.half_bits[3], 0xc100);
  EXPECT_EQ(o.back[4], 1.75f);
  EXPECT_EQ(o.back[5], -1.5f);
  EXPECT_EQ(o.back[0], 1.0f + 0.5f - 4.0f);
  EXPECT_EQ(o.bf16_bits[0], 0x3f80);  // tie to even
  EXPECT_EQ(o.bf16_bits[1], 0x3f82);
  EXPECT_EQ(o.bf16_bits[2], 0x4049);  // 3.140625 is exact in bf16
  EXPECT_EQ(o.bf16_bits[3], 0x3f00);
}

// ---- curand Philox4x32-10 ----------------------------------------------------------------------

struct Kat {
  uint4 ctr;
  uint2 key;
  uint4 want;
};
// Random123 kat_vectors, "philox4x32 10": counter, key, expected output.
const Kat kKat[3] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

__global__ void philox_raw(const Kat* kat, uint4* out) { out[threadIdx.x] = curand_Philox4x32_10(kat[threadIdx.x].ctr, kat[threadIdx.x].key); }

// curand_init(seed, subsequence, offset): key = seed, counter = (offset / 4, subsequence).
__global__ void philox_through_curand(unsigned long long seed, unsigned long long subsequence, unsigned long long offset, unsigned* out) {
  curandStatePhilox4_32_10_t st;
  curand_init(seed, subsequence, offset, &st);
  for (int k = 0; k < 4; ++k) out[k] = curand(&st);
}

TEST(SimtCurand, PhiloxMatchesRandom123KnownAnswers) {
  std::vector<uint4> out(3);
  launch(philox_raw, dim3(1), dim3(3), 0, nullptr, kKat, out.data());
  for (int v = 0; v < 3; ++v) {
    EXPECT_EQ(out[v].x, kKat[v].want.x) << "vector " << v;
    EXPECT_EQ(out[v].y, kKat[v].want.y) << "vector " << v;
    EXPECT_EQ(out[v].z, kKat[v].want.z) << "vector " << v;
    EXPECT_EQ(out[v].w, kKat[v].want.w) << "vector " << v;
  }
  unsigned zero[4];
  launch(philox_through_curand, dim3(1), dim3(1), 0, nullptr, 0ull, 0ull, 0ull, zero);
  EXPECT_EQ(zero[0], 0x6627e8d5u);
  EXPECT_EQ(zero[1], 0xe169c58du);
  EXPECT_EQ(zero[2], 0xbc57ac4cu);
  EXPECT_EQ(zero[3], 0x9b00dbd8u);
  // counter (5, 0, 7, 0) under key (lo, hi) = seed: offset 4 * 5, subsequence 7.
  const Kat k{{5, 0, 7, 0}, {0xa4093822, 0x299f31d0}, {}};
  uint4 raw;
  unsigned via[4];
  launch(philox_raw, dim3(1), dim3(1), 0, nullptr, &k, &raw);
  launch(philox_through_curand, dim3(1), dim3(1), 0, nullptr, 0x299f31d0a4093822ull, 7ull, 20ull, via);
  EXPECT_EQ(via[0], raw.x);
  EXPECT_EQ(via[1], raw.y);
  EXPECT_EQ(via[2], raw.z);
  EXPECT_EQ(via[3], raw.w);
}

__global__ void philox_distributions(unsigned long long seed, int draws, float* uniform, float* normal, float4* normal4) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  curandStatePhilox4_32_10_t st;
  curand_init(seed, t, 0, &st);
  for (int k = 0; k < draws; ++k) uniform[t * draws + k] = curand_uniform(&st);
  for (int k = 0; k < draws; ++k) normal[t * draws + k] = curand_normal(&st);
  for (int k = 0; k < draws / 4; ++k) normal4[t * (draws / 4) + k] = curand_normal4(&st);
}

TEST(SimtCurand, UniformAndNormal) {
  const int threads = 256, draws = 32, n = threads * draws;
  std::vector<float> u(n), g(n), u2(n), g2(n);
  std::vector<float4> g4(n / 4), g4b(n / 4);
  launch(philox_distributions, dim3(4), dim3(64), 0, nullptr, 1234ull, draws, u.data(), g.data(), g4.data());
  double su = 0, sg = 0, sgg = 0, s4 = 0, s44 = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(u[i] > 0.0f && u[i] <= 1.0f) << u[i];
    su += u[i];
    sg += g[i];
    sgg += double(g[i]) * g[i];
  }
  for (const float4& v : g4)
    for (float x : {v.x, v.y, v.z, v.w}) s4 += x, s44 += double(x) * x;
  EXPECT_NEAR(su / n, 0.5, 0.01);
  EXPECT_NEAR(sg / n, 0.0, 0.03);
  EXPECT_NEAR(sgg / n, 1.0, 0.04);
  EXPECT_NEAR(s4 / n, 0.0, 0.03);
  EXPECT_NEAR(s44 / n, 1.0, 0.04);
  // Counter-based: the same numbers whatever the launch shape.
  launch(philox_distributions, dim3(1), dim3(256), 0, nullptr, 1234ull, draws, u2.data(), g2.data(), g4b.data());
  EXPECT_EQ(0, std::memcmp(u.data(), u2.data(), n * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(g.data(), g2.data(), n * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(g4.data(), g4b.data(), n * sizeof(float)));
}

}  // namespace
