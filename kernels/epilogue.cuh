// kernels/epilogue.cuh: what the GEMM (kernels/gemm.cuh) and convolution (kernels/conv.cuh)
// kernels share: the activations and their derivatives, the fused epilogue kinds, the
// shared-memory precision policies (FP32 as is; TF32 and BF16 rounding for the wmma kernels), and
// the FP32 kernels' register micro-tile step.
// Device functions and types only (no __global__), so any number of translation units include it.
#pragma once
#include "kernels/portable.cuh"
#include "kernels/sigmoid.cuh"

namespace cuvae::kernels::gemm {
inline namespace CUVAE_BUILD {  // GPU and SIMT builds apart (kernels/portable.cuh)

// Matches cuvae::Activation (host/backend.hpp), which device code does not include.
enum ActKind : int { kActNone = 0, kActRelu = 1, kActSigmoid = 2, kActLeakyRelu = 3 };
constexpr float kLeakyReluSlope = 0.01f;  // = cuvae::kLeakyReluSlope (checked in host/cuda/launch_support.hpp)
enum EpilogueKind : int {
  kStore = 0,    // C = acc
  kBiasAct = 1,  // C = act(acc + bias[n])                      (forward)
  kDAct = 2,     // C = acc * act'(aux[m, n]), aux post-activation (dx)
};

__device__ __forceinline__ float activate(int act, float v) {
  if (act == kActRelu) return v > 0.f ? v : 0.f;
  if (act == kActSigmoid) return stable_sigmoid(v);
  if (act == kActLeakyRelu) return v > 0.f ? v : kLeakyReluSlope * v;
  return v;
}
// The activation's derivative written in terms of its output y = act(pre).
__device__ __forceinline__ float derivative_from_output(int act, float y) {
  if (act == kActRelu) return y > 0.f ? 1.f : 0.f;
  if (act == kActSigmoid) return y * (1.f - y);
  if (act == kActLeakyRelu) return y > 0.f ? 1.f : kLeakyReluSlope;  // slope > 0: y has the sign of pre
  return 1.f;
}

// Shared-memory policy of the SIMT kernels: FP32 as is (the tensor-core ones: Tf32, Bf16 below).
struct Fp32 {
  using Smem = float;
  __device__ static __forceinline__ float convert(float v) { return v; }
  __device__ static __forceinline__ void store4(float* d, float a, float b, float c, float e) {
    *reinterpret_cast<float4*>(d) = make_float4(a, b, c, e);  // d 16-byte aligned (quad index % 4 == 0)
  }
};

// The FP32 operands are rounded to the MMA input type while staged into shared memory (master
// weights stay FP32); accumulation is FP32. store4 writes four converted values with one wide
// store (d aligned to 4 elements).
struct Tf32 {
  using Smem = float;
  using Frag = nvcuda::wmma::precision::tf32;
  static constexpr int kK = 8, kPad = 4;  // ldm: a multiple of 4 floats
  __device__ static __forceinline__ float convert(float v) { return nvcuda::wmma::__float_to_tf32(v); }
  __device__ static __forceinline__ void store4(float* d, float a, float b, float c, float e) {
    *reinterpret_cast<float4*>(d) = make_float4(convert(a), convert(b), convert(c), convert(e));
  }
};
struct Bf16 {
  using Smem = __nv_bfloat16;
  using Frag = __nv_bfloat16;
  static constexpr int kK = 16, kPad = 8;  // ldm: a multiple of 8 halves
  __device__ static __forceinline__ __nv_bfloat16 convert(float v) { return __float2bfloat16(v); }
  __device__ static __forceinline__ unsigned pack(float lo, float hi) {
    return static_cast<unsigned>(__bfloat16_as_ushort(convert(lo))) |
           static_cast<unsigned>(__bfloat16_as_ushort(convert(hi))) << 16;
  }
  __device__ static __forceinline__ void store4(__nv_bfloat16* d, float a, float b, float c, float e) {
    *reinterpret_cast<uint2*>(d) = make_uint2(pack(a, b), pack(c, e));  // 8 bytes, little-endian
  }
};

// One staged k-step of an FP32 tiled kernel: for each of its BK rows k, this thread's TM values of
// A (as[k * LDA + ty * TM ..], k-major) and TN of B (bs[k * LDB + tx * TN ..]) into registers, as
// float4 where TM allows (TN always), and their outer product into the TM x TN accumulators.
template <int BK, int TM, int TN, int LDA, int LDB>
__device__ __forceinline__ void multiply_tile(const float* as, const float* bs, int ty, int tx, float (&acc)[TM][TN]) {
  static_assert(TN % 4 == 0, "B's micro-tile rows are read as float4");
#pragma unroll
  for (int k = 0; k < BK; ++k) {
    float ra[TM], rb[TN];
    if constexpr (TM % 4 == 0) {
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 q = *reinterpret_cast<const float4*>(&as[k * LDA + ty * TM + i]);
        ra[i] = q.x, ra[i + 1] = q.y, ra[i + 2] = q.z, ra[i + 3] = q.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < TM; ++i) ra[i] = as[k * LDA + ty * TM + i];
    }
#pragma unroll
    for (int j = 0; j < TN; j += 4) {
      const float4 q = *reinterpret_cast<const float4*>(&bs[k * LDB + tx * TN + j]);
      rb[j] = q.x, rb[j + 1] = q.y, rb[j + 2] = q.z, rb[j + 3] = q.w;
    }
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] += ra[i] * rb[j];
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::gemm
