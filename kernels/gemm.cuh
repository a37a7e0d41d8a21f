// kernels/gemm.cuh: the linear layer's three GEMMs with fused epilogues, as register-blocked
// SIMT SGEMMs and nvcuda::wmma tensor-core kernels (TF32, BF16; FP32 accumulation).
// Pure device code: nvcc builds it for the GPU, the host compiler for the SIMT runtime.
// Launcher: host/cuda/gemm.cu. Tests: tests/test_gemm.cpp. Benchmark: profiling/bench_gemm.cu.
//
// Kernel versions (the benchmark and tests pick them by number; 0 lets the launcher choose):
//   v1 gemm_naive                 one thread per output element, operands read from global memory
//   v2 gemm_tiled<64,64,8,4,4>    64x64x8 shared-memory tiles, 256 threads, 4x4 register micro-tile
//   v3 gemm_tiled<128,128,8,8,8>  128x128x8 tiles, 256 threads, 8x8 micro-tile (large shapes)
//   v4 gemm_wmma<64,64,32,32>     64x64x32 tiles, 4 warps of 32x32, TF32 16x16x8 or BF16 16x16x16
//   v5 gemm_wmma<128,128,64,32>   128x128x32 tiles, 8 warps of 64x32 (large shapes)
// v2..v5 load float4 where the operands allow it (kVec), take any M, N, K (guarded loads), and
// can split K over blockIdx.z with a deterministic fix-up (the last block of a tile sums the
// partial tiles in split order: no float atomics, so two runs give identical bits).
//
// One GEMM shape covers the three products of the linear layer, C[M,N] = sum_k A(m,k) B(k,n):
//   forward  y  = x w^T   NT: A = x  [M=B,   K=in ],  B(k,n) = w[n,k]   (kATrans=0, kBTrans=1)
//   dx       dx = dy w    NN: A = dy [M=B,   K=out],  B(k,n) = w[k,n]   (kATrans=0, kBTrans=0)
//   dw       dw = dy^T x  TN: A(m,k) = dy[k,m] (M=out, K=B), B = x[k,n] (kATrans=1, kBTrans=0)
// Epilogues: forward adds the bias and applies the activation; dx multiplies by act'(x) computed
// from the post-activation input x; dw also yields db = column sums of dy through a virtual
// column of ones appended to B (n == N), so the bias gradient is the same fixed-order sum as
// the GEMM, with no extra kernel.
#pragma once
#include "kernels/portable.cuh"


namespace cuvae::kernels::gemm {

// Matches cuvae::Activation (host/backend.hpp), which device code does not include.
enum ActKind : int { kActNone = 0, kActRelu = 1, kActSigmoid = 2 };
enum EpilogueKind : int {
  kStore = 0,    // C = acc
  kBiasAct = 1,  // C = act(acc + bias[n])                      (forward)
  kDAct = 2,     // C = acc * act'(aux[m, n]), aux post-activation (dx)
};

struct GemmParams {
  int M, N, K;
  const float* A; int lda;  // A(m,k) = kATrans ? A[k*lda + m] : A[m*lda + k]
  const float* B; int ldb;  // B(k,n) = kBTrans ? B[n*ldb + k] : B[k*ldb + n]
  float* C; int ldc;
  int epilogue, act;
  const float* bias;          // [N], kBiasAct
  const float* aux; int ldaux;  // [M, N], kDAct
  float* rowsum;              // [M] or null: sum_k A(m,k), from the virtual ones column n == N
  // Split-K: blockIdx.z takes K range [z*k_per_split, (z+1)*k_per_split); with splits > 1 the
  // partial tiles go to workspace[splits][tiles][BM*BN] and counters[tiles] (zero before, left zero).
  int splits, k_per_split;
  float* workspace;
  unsigned* counters;
};

__device__ __forceinline__ float activate(int act, float v) {
  if (act == kActRelu) return v > 0.f ? v : 0.f;
  if (act == kActSigmoid) return v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v));
  return v;
}
// The activation's derivative written in terms of its output y = act(pre).
__device__ __forceinline__ float derivative_from_output(int act, float y) {
  if (act == kActRelu) return y > 0.f ? 1.f : 0.f;
  if (act == kActSigmoid) return y * (1.f - y);
  return 1.f;
}

// The epilogue of one output element; n == N is the ones column (row sums of A).
__device__ __forceinline__ float epilogue_value(const GemmParams& p, int m, int n, float v) {
  if (p.epilogue == kBiasAct) return activate(p.act, v + p.bias[n]);
  if (p.epilogue == kDAct) return v * derivative_from_output(p.act, p.aux[static_cast<long long>(m) * p.ldaux + n]);
  return v;
}
__device__ __forceinline__ void epilogue_store(const GemmParams& p, int m, int n, float v) {
  if (m >= p.M) return;
  if (n < p.N) p.C[static_cast<long long>(m) * p.ldc + n] = epilogue_value(p, m, n, v);
  else if (n == p.N && p.rowsum) p.rowsum[m] = v;
}
// Four consecutive columns n..n+3 (n % 4 == 0); one float4 store when all are inside C and
// `vec` says C allows it (ldc % 4 == 0, 16-byte aligned). The values come by value: a pointer
// into the accumulator array (indexed at run time in the fallback) sent it to local memory and
// made nvcc take minutes per kernel.
__device__ __forceinline__ void epilogue_store4(const GemmParams& p, int m, int n, float4 v, bool vec) {
  if (m >= p.M) return;
  if (vec && n + 3 < p.N) {
    float4 o;
    o.x = epilogue_value(p, m, n, v.x);
    o.y = epilogue_value(p, m, n + 1, v.y);
    o.z = epilogue_value(p, m, n + 2, v.z);
    o.w = epilogue_value(p, m, n + 3, v.w);
    *reinterpret_cast<float4*>(p.C + static_cast<long long>(m) * p.ldc + n) = o;
    return;
  }
  epilogue_store(p, m, n, v.x);
  epilogue_store(p, m, n + 1, v.y);
  epilogue_store(p, m, n + 2, v.z);
  epilogue_store(p, m, n + 3, v.w);
}

// One operand seen as rows r (m for A, n for B) by k. kKContig: element (r,k) at p[r*ld + k],
// else at p[k*ld + r]. Outside rows x [.., k_end) it reads 0, except the ones row (B only).
struct Operand {
  const float* p;
  int ld, rows, ones_row;
};
template <bool kKContig>
__device__ __forceinline__ float fetch(const Operand& o, int r, int k, int k_end) {
  if (k >= k_end) return 0.f;
  if (r < o.rows) return kKContig ? o.p[static_cast<long long>(r) * o.ld + k] : o.p[static_cast<long long>(k) * o.ld + r];
  return r == o.ones_row ? 1.f : 0.f;
}

// Loads the R x BK tile of `o` at (r0, k0) with T threads, calling store(r, k, value) for each
// element. kVec: ld % 4 == 0 and 16-byte aligned base, so a float4 along the contiguous
// dimension is aligned; vectors that cross the edge fall back to guarded scalar reads.
template <int R, int BK, int T, bool kKContig, bool kVec, class Store>
__device__ __forceinline__ void load_tile(const Operand& o, int r0, int k0, int k_end, Store store) {
  const int t = threadIdx.x;
  if constexpr (kVec) {
    if constexpr (kKContig) {
      constexpr int kVecs = R * BK / 4;
#pragma unroll
      for (int i = t; i < kVecs; i += T) {
        const int r = i / (BK / 4), k = (i % (BK / 4)) * 4;
        const int gr = r0 + r, gk = k0 + k;
        float v[4];
        if (gr < o.rows && gk + 3 < k_end) {
          const float4 q = *reinterpret_cast<const float4*>(o.p + static_cast<long long>(gr) * o.ld + gk);
          v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
        } else {
          for (int j = 0; j < 4; ++j) v[j] = fetch<true>(o, gr, gk + j, k_end);
        }
        for (int j = 0; j < 4; ++j) store(r, k + j, v[j]);
      }
    } else {
      constexpr int kVecs = R * BK / 4;
#pragma unroll
      for (int i = t; i < kVecs; i += T) {
        const int k = i / (R / 4), r = (i % (R / 4)) * 4;
        const int gr = r0 + r, gk = k0 + k;
        float v[4];
        if (gk < k_end && gr + 3 < o.rows) {
          const float4 q = *reinterpret_cast<const float4*>(o.p + static_cast<long long>(gk) * o.ld + gr);
          v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
        } else {
          for (int j = 0; j < 4; ++j) v[j] = fetch<false>(o, gr + j, gk, k_end);
        }
        for (int j = 0; j < 4; ++j) store(r + j, k, v[j]);
      }
    }
  } else {
    constexpr int kElems = R * BK;
#pragma unroll 4
    for (int i = t; i < kElems; i += T) {
      // Consecutive threads walk the contiguous dimension: coalesced.
      const int r = kKContig ? i / BK : i % R, k = kKContig ? i % BK : i / R;
      store(r, k, fetch<kKContig>(o, r0 + r, k0 + k, k_end));
    }
  }
}

// Split-K fix-up: every block has written its partial tile (BM x BN, row-major, local indices)
// to its workspace slot; the last block of the tile to arrive sums the slots in split order and
// runs the epilogue. Called by all threads of the block.
template <int BM, int BN, int T>
__device__ void splitk_fixup(const GemmParams& p, int tile, int tiles, int m0, int n0) {
  __shared__ int is_last;
  __threadfence();  // this block's partials are visible device-wide before it is counted
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned arrived = atomicAdd(&p.counters[tile], 1u);
    is_last = arrived == static_cast<unsigned>(p.splits - 1);
    if (is_last) p.counters[tile] = 0;  // ready for the next launch (stream order)
  }
  __syncthreads();
  if (!is_last) return;  // uniform across the block
  __threadfence();
  const int ncols = p.N + (p.rowsum ? 1 : 0);
  const long long slot = static_cast<long long>(BM) * BN, stride = slot * tiles;
  const float* base = p.workspace + static_cast<long long>(tile) * slot;
  for (int e = threadIdx.x; e < BM * BN; e += T) {
    const int m = m0 + e / BN, n = n0 + e % BN;
    if (m >= p.M || n >= ncols) continue;
    float v = 0.f;
    for (int s = 0; s < p.splits; ++s) v += __ldcg(base + s * stride + e);  // L2: other blocks wrote it
    epilogue_store(p, m, n, v);
  }
}

__device__ __forceinline__ float* splitk_slot(const GemmParams& p, int BMxBN, int tile, int tiles) {
  return p.workspace + (static_cast<long long>(blockIdx.z) * tiles + tile) * BMxBN;
}

// ---- v1: one thread per output ---------------------------------------------------------------
template <bool kATrans, bool kBTrans>
__global__ void gemm_naive(GemmParams p) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x, m = blockIdx.y * blockDim.y + threadIdx.y;
  if (m >= p.M || n > p.N || (n == p.N && !p.rowsum)) return;
  const Operand a{p.A, p.lda, p.M, -1}, b{p.B, p.ldb, p.N, p.rowsum ? p.N : -1};
  float acc = 0.f;
  for (int k = 0; k < p.K; ++k) acc += fetch<!kATrans>(a, m, k, p.K) * fetch<kBTrans>(b, n, k, p.K);
  epilogue_store(p, m, n, acc);
}

// ---- v2, v3: shared-memory tiles, register micro-tiles ----------------------------------------
// Tiles are stored k-major (As[k][m], Bs[k][n]) so a thread reads its TM (TN) values of one k
// as float4s. Thread (ty, tx) owns rows ty*TM.. and columns tx*TN.. of the block tile.
template <int BM, int BN, int BK, int TM, int TN, bool kATrans, bool kBTrans, bool kVec>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) gemm_tiled(GemmParams p) {
  constexpr int T = (BM / TM) * (BN / TN);
  constexpr int LDA = BM + 4, LDB = BN + 4;  // +4: fewer bank conflicts on the transposing stores
  static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tiles are read as float4");
  __shared__ __align__(16) float As[BK * LDA];
  __shared__ __align__(16) float Bs[BK * LDB];

  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
  const int tiles = gridDim.x * gridDim.y, tile = blockIdx.y * gridDim.x + blockIdx.x;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = blockIdx.z * p.k_per_split;
  const int k_end = p.K < k_begin + p.k_per_split ? p.K : k_begin + p.k_per_split;
  const Operand a{p.A, p.lda, p.M, -1}, b{p.B, p.ldb, p.N, p.rowsum ? p.N : -1};

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    load_tile<BM, BK, T, !kATrans, kVec>(a, m0, k0, k_end, [&](int r, int k, float v) { As[k * LDA + r] = v; });
    load_tile<BN, BK, T, kBTrans, kVec>(b, n0, k0, k_end, [&](int r, int k, float v) { Bs[k * LDB + r] = v; });
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float ra[TM], rb[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 q = *reinterpret_cast<const float4*>(&As[k * LDA + ty * TM + i]);
        ra[i] = q.x, ra[i + 1] = q.y, ra[i + 2] = q.z, ra[i + 3] = q.w;
      }
#pragma unroll
      for (int j = 0; j < TN; j += 4) {
        const float4 q = *reinterpret_cast<const float4*>(&Bs[k * LDB + tx * TN + j]);
        rb[j] = q.x, rb[j + 1] = q.y, rb[j + 2] = q.z, rb[j + 3] = q.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += ra[i] * rb[j];
    }
    __syncthreads();
  }

  if (p.splits == 1) {
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; j += 4)
        epilogue_store4(p, m0 + ty * TM + i, n0 + tx * TN + j,
                        make_float4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]), kVec);
    return;
  }
  float* slot = splitk_slot(p, BM * BN, tile, tiles);
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; j += 4)
      *reinterpret_cast<float4*>(&slot[(ty * TM + i) * BN + tx * TN + j]) =
          make_float4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]);
  splitk_fixup<BM, BN, T>(p, tile, tiles, m0, n0);
}

// ---- v4, v5: tensor cores through nvcuda::wmma -------------------------------------------------
// The FP32 operands are rounded to the MMA input type while staged into shared memory (master
// weights stay FP32); accumulation is FP32.
struct Tf32 {
  using Smem = float;
  using Frag = nvcuda::wmma::precision::tf32;
  static constexpr int kK = 8, kPad = 4;  // ldm: a multiple of 4 floats
  __device__ static __forceinline__ float convert(float v) { return nvcuda::wmma::__float_to_tf32(v); }
};
struct Bf16 {
  using Smem = __nv_bfloat16;
  using Frag = __nv_bfloat16;
  static constexpr int kK = 16, kPad = 8;  // ldm: a multiple of 8 halves
  __device__ static __forceinline__ __nv_bfloat16 convert(float v) { return __float2bfloat16(v); }
};

template <int BM, int BN, int WM, int WN, class Prec, bool kATrans, bool kBTrans, bool kVec>
__global__ void __launch_bounds__(32 * (BM / WM) * (BN / WN)) gemm_wmma(GemmParams p) {
  namespace wmma = nvcuda::wmma;
  using Smem = typename Prec::Smem;
  constexpr int BK = 32, FK = Prec::kK;
  constexpr int kWarpsN = BN / WN, T = 32 * (BM / WM) * kWarpsN;
  constexpr int FM = WM / 16, FN = WN / 16;
  constexpr int LDA = BK + Prec::kPad, LDB = BN + Prec::kPad, LDS = 16 + 4;
  // Fragment pointers must be 32-byte aligned: every 16-row (or FK-row) step is a multiple of 32 bytes.
  static_assert((16 * LDA * sizeof(Smem)) % 32 == 0 && (FK * LDB * sizeof(Smem)) % 32 == 0);
  // Raw bytes, not Smem[...]: a __shared__ array of a class type (bf16) gets a g++ init guard
  // in the SIMT build, which TSan reports as a race (kernels/README.md).
  __shared__ __align__(128) unsigned char As_raw[BM * LDA * sizeof(Smem)];
  __shared__ __align__(128) unsigned char Bs_raw[BK * LDB * sizeof(Smem)];
  Smem* As = reinterpret_cast<Smem*>(As_raw);  // As[m][k]
  Smem* Bs = reinterpret_cast<Smem*>(Bs_raw);  // Bs[k][n]
  __shared__ __align__(128) float scratch[(T / 32) * 16 * LDS];  // one 16x16 accumulator per warp

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = warp / kWarpsN, wn = warp % kWarpsN;
  const int tiles = gridDim.x * gridDim.y, tile = blockIdx.y * gridDim.x + blockIdx.x;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = blockIdx.z * p.k_per_split;
  const int k_end = p.K < k_begin + p.k_per_split ? p.K : k_begin + p.k_per_split;
  const Operand a{p.A, p.lda, p.M, -1}, b{p.B, p.ldb, p.N, p.rowsum ? p.N : -1};

  wmma::fragment<wmma::accumulator, 16, 16, FK, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    load_tile<BM, BK, T, !kATrans, kVec>(a, m0, k0, k_end,
                                         [&](int r, int k, float v) { As[r * LDA + k] = Prec::convert(v); });
    load_tile<BN, BK, T, kBTrans, kVec>(b, n0, k0, k_end,
                                        [&](int r, int k, float v) { Bs[k * LDB + r] = Prec::convert(v); });
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk += FK) {
      wmma::fragment<wmma::matrix_a, 16, 16, FK, typename Prec::Frag, wmma::row_major> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, FK, typename Prec::Frag, wmma::row_major> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], As + (wm * WM + i * 16) * LDA + kk, LDA);
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], Bs + kk * LDB + wn * WN + j * 16, LDB);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }

  // Each warp passes its 16x16 accumulators through its own scratch tile: the fragment layout
  // is opaque, the epilogue needs (m, n).
  float* mine = scratch + warp * 16 * LDS;
  float* slot = p.splits > 1 ? splitk_slot(p, BM * BN, tile, tiles) : nullptr;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(mine, acc[i][j], LDS, wmma::mem_row_major);
      __syncwarp();
      const int lm0 = wm * WM + i * 16, ln0 = wn * WN + j * 16;
      for (int e = lane; e < 256; e += 32) {
        const int r = e / 16, c = e % 16;
        const float v = mine[r * LDS + c];
        if (slot) slot[(lm0 + r) * BN + ln0 + c] = v;
        else epilogue_store(p, m0 + lm0 + r, n0 + ln0 + c, v);
      }
      __syncwarp();  // before the next store_matrix_sync overwrites the scratch
    }
  if (slot) splitk_fixup<BM, BN, T>(p, tile, tiles, m0, n0);
}

// ---- helpers for the cuBLAS baseline (host/cuda/gemm.cu), where cuBLASLt has no epilogue -------
// y[m, n] = act(y[m, n] (+ bias[n])), in place.
__global__ void bias_act_inplace(float* y, int M, int N, const float* bias, int act) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(M) * N) return;
  const int n = static_cast<int>(i % N);
  y[i] = activate(act, y[i] + (bias ? bias[n] : 0.f));
}
// dx *= act'(x), in place.
__global__ void mul_derivative_inplace(float* dx, const float* x, long long count, int act) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) dx[i] *= derivative_from_output(act, x[i]);
}
// out[n] = sum over rows of x[:, n], each column in row order (deterministic).
__global__ void column_sums(const float* x, int rows, int cols, float* out) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= cols) return;
  float s = 0.f;
  for (int r = 0; r < rows; ++r) s += x[static_cast<long long>(r) * cols + n];
  out[n] = s;
}

}  // namespace cuvae::kernels::gemm
