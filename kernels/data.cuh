// kernels/data.cuh: the CUDA backend's data and bookkeeping kernels: the training-step position
// and the step's scalars kept on the device, the epoch shuffle, the batch gather through the
// epoch's order, input corruption (denoising), the loss history, and fill, sigmoid and Philox
// normals. Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launchers: host/cuda/cuda_backend.cu. Tests: tests/ops/ (against host/cpu/).
#pragma once
#include "kernels/portable.cuh"
#include "kernels/philox.cuh"
#include "kernels/schedule.cuh"
#include "kernels/noise.cuh"
#include "kernels/sigmoid.cuh"

namespace cuvae::kernels::data {
inline namespace CUVAE_BUILD {

// Where the training step is, in device memory, so that a captured step replays unchanged.
struct StepPosition {
  long long step;        // Adam's t; added to the key stream of the step's random numbers
  long long batch;       // batch index within the epoch
  long long order_size;  // entries of this epoch's order (set with the order)
  long long epoch;       // 1-based; the learning-rate decay reads it
};

// A scalar operand: the step's own value (slot >= 0 indexes StepScalars as floats) or a constant.
__device__ __forceinline__ float scalar_at(const float* step_scalars, int slot, float value) {
  return slot >= 0 ? step_scalars[slot] : value;
}

// A kernel that finds bad input cannot throw: it records the first fault here and the host
// raises it at its next synchronizing call. code 0: no fault.
struct DeviceFault {
  int code;
  long long a, b, c;
};
enum FaultCode : int { kFaultNone = 0, kFaultOrderRange = 1, kFaultRowRange = 2, kFaultHistoryRange = 3 };

__device__ __forceinline__ void report_fault(DeviceFault* fault, int code, long long a, long long b, long long c) {
  if (atomicCAS(&fault->code, 0, -1) == 0) {  // first fault wins; -1 while its details are written
    fault->a = a, fault->b = b, fault->c = c;
    __threadfence();
    atomicExch(&fault->code, code);
  }
}

// <<<1, 1>>>
__global__ void set_position(StepPosition* pos, long long step, long long batch, long long epoch) {
  pos->step = step;
  pos->batch = batch;
  pos->epoch = epoch;
}

// <<<1, 1>>>: the top of a training step: this step's scalars from the run's schedule.
__global__ void update_step_scalars(const Schedule* __restrict__ schedule, const StepPosition* __restrict__ pos,
                                    StepScalars* __restrict__ out) {
  *out = step_scalars(*schedule, pos->step, pos->epoch);
}

// Grid-stride: order[i] = permute(p, i) for i < p.n (the epoch's order, kernels/philox.cuh), and
// the position learns its size.
__global__ void shuffle_order(Permutation p, int* __restrict__ order, StepPosition* pos) {
  const long long first = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (first == 0) pos->order_size = p.n;
  for (long long i = first; i < p.n; i += static_cast<long long>(gridDim.x) * blockDim.x)
    order[i] = static_cast<int>(permute(p, static_cast<std::uint32_t>(i)));
}

// <<<1, 1>>>: the end of a training step.
__global__ void advance_position(StepPosition* pos) {
  pos->step += 1;
  pos->batch += 1;
}

// dst[i, :] = src[order[pos.batch * batch_size + i], :] for i < rows; dst rows are ld_dst apart (a
// column view of a wider buffer). Words are copied as they are, so int32 labels gather too.
// Grid: x over the columns (float4 groups when kVec: cols and ld_dst % 4 == 0, bases 16-byte aligned),
// y strides over the rows. An index outside the order or a row outside src is reported as a fault.
template <bool kVec>
__global__ void gather_rows_at_position(const float* __restrict__ src, long long src_rows, long long cols,
                                        const int* __restrict__ order, const StepPosition* __restrict__ pos, long long batch_size, long long rows,
                                        float* __restrict__ dst, long long ld_dst, DeviceFault* fault) {
  const long long first = pos->batch * batch_size, order_size = pos->order_size;
  const long long width = kVec ? cols / 4 : cols;
  const long long c = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= width) return;
  for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
    const long long k = first + r;
    if (k < 0 || k >= order_size) {
      if (c == 0) report_fault(fault, kFaultOrderRange, k, order_size, 0);
      continue;
    }
    const long long row = order[k];
    if (row < 0 || row >= src_rows) {
      if (c == 0) report_fault(fault, kFaultRowRange, row, src_rows, k);
      continue;
    }
    if constexpr (kVec) {
      reinterpret_cast<float4*>(dst + r * ld_dst)[c] = reinterpret_cast<const float4*>(src + row * cols)[c];
    } else {
      dst[r * ld_dst + c] = src[row * cols + c];
    }
  }
}

// <<<1, 32>>>: history[pos.batch, :] = terms[0:T] (history [rows, T]).
__global__ void record_terms_at_position(const float* __restrict__ terms, int T, float* __restrict__ history,
                                         long long history_rows, const StepPosition* __restrict__ pos,
                                         DeviceFault* fault) {
  const long long b = pos->batch;
  if (b < 0 || b >= history_rows) {
    if (threadIdx.x == 0) report_fault(fault, kFaultHistoryRange, b, history_rows, 0);
    return;
  }
  for (int t = threadIdx.x; t < T; t += blockDim.x) history[b * T + t] = terms[t];
}

// out[b, j] = corrupt_value(x[b, j]) for [B, D] (rows ldx and ldo apart), with the draws of Philox
// (key, element b*D + j), the key's stream offset by *step when given (the training step). The
// level is the step's own (scalar_at). Grid-stride over the Philox groups of 4 elements.
__global__ void corrupt(int kind, const float* __restrict__ x, long long ldx, long long B, long long D, RngKey key,
                        const long long* __restrict__ step, const float* __restrict__ step_scalars, int level_slot,
                        float level_value, float* __restrict__ out, long long ldo) {
  if (step) key.stream += static_cast<unsigned long long>(*step);
  const float level = scalar_at(step_scalars, level_slot, level_value);
  const long long n = B * D, groups = (n + 3) / 4;
  for (long long g = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += static_cast<long long>(gridDim.x) * blockDim.x) {
    float4 u = make_float4(0.f, 0.f, 0.f, 0.f), nv = u;
    if (kind == kNoiseGaussian)
      nv = philox_normal4(key, static_cast<unsigned long long>(g));
    else
      u = philox_uniform4(key, static_cast<unsigned long long>(g));
    for (int k = 0; k < 4; ++k) {
      const long long i = 4 * g + k;
      if (i >= n) break;
      const long long b = i / D, j = i % D;
      out[b * ldo + j] = corrupt_value(kind, x[b * ldx + j], float4_at(u, static_cast<unsigned>(k)),
                                       float4_at(nv, static_cast<unsigned>(k)), level);
    }
  }
}

// Grid-stride: out[i] = value.
__global__ void fill(float* __restrict__ out, long long n, float value) {
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    out[i] = value;
}

// Grid-stride over [B, D]: dst[b, j] = src[b, j], rows ld_src and ld_dst apart.
__global__ void copy_rows(const float* __restrict__ src, long long ld_src, long long B, long long D,
                          float* __restrict__ dst, long long ld_dst) {
  const long long n = B * D;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    dst[(i / D) * ld_dst + i % D] = src[(i / D) * ld_src + i % D];
}

// Grid-stride: y = sigmoid(x).
__global__ void sigmoid(const float* __restrict__ x, float* __restrict__ y, long long n) {
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    y[i] = stable_sigmoid(x[i]);
}

// Grid-stride over Philox groups: out[4g .. 4g+3] = philox_normal4(key, g) (cut at n).
__global__ void normal(RngKey key, float* __restrict__ out, long long n) {
  const long long groups = (n + 3) / 4;
  for (long long g = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float4 v = philox_normal4(key, static_cast<unsigned long long>(g));
    const long long i = 4 * g;
    out[i] = v.x;
    if (i + 1 < n) out[i + 1] = v.y;
    if (i + 2 < n) out[i + 2] = v.z;
    if (i + 3 < n) out[i + 3] = v.w;
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::data
