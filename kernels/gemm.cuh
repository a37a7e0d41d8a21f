// kernels/gemm.cuh: the linear layer's three GEMMs with fused epilogues, as register-blocked
// SIMT SGEMMs and nvcuda::wmma tensor-core kernels (TF32, BF16; FP32 accumulation).
// Pure device code: nvcc builds it for the GPU, the host compiler for the SIMT runtime.
// Launcher: host/cuda/gemm.cu. Tests: tests/test_gemm.cpp. Benchmark: profiling/bench_gemm.cu.
//
// Kernel versions (the benchmark and tests pick them by number; 0 lets the launcher choose):
//   v1 gemm_naive                 one thread per output element, operands read from global memory
//   v2 gemm_tiled<64,64,8,4,4>    64x64x8 shared-memory tiles, 256 threads, 4x4 register micro-tile
//   v3 gemm_tiled<128,128,8,8,8>  128x128x8 tiles, 256 threads, 8x8 micro-tile (large shapes)
//   v4 gemm_wmma<64,64,32,32>     64x64x16 tiles, 4 warps of 32x32, TF32 16x16x8 or BF16 16x16x16
//   v5 gemm_wmma<128,128,64,32>   128x128x16 tiles, 8 warps of 64x32 (large shapes)
// v2..v5 double-buffer their shared-memory tiles with register prefetch (the global loads of
// k-step i+1 are in flight while k-step i is multiplied; one barrier per k-step), load float4
// where the operands allow it (kVec), take any M, N, K (guarded loads), and can split K over
// blockIdx.z with a deterministic fix-up (the last block of a tile sums the partial tiles in
// split order: no float atomics, so two runs give identical bits).
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
#include "kernels/epilogue.cuh"  // the activations, the epilogue kinds, the precision policies
#include "kernels/portable.cuh"

#include <type_traits>

namespace cuvae::kernels::gemm {
inline namespace CUVAE_BUILD {  // GPU and SIMT builds apart (kernels/portable.cuh)

// ActKind, EpilogueKind, activate, derivative_from_output and the precision policies Fp32, Tf32,
// Bf16: kernels/epilogue.cuh (shared with kernels/conv.cuh).
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

// One thread's share of an R x BK tile of `o`, staged in registers between the global load of
// k-step i+1 and its shared-memory store after the math of k-step i (register-prefetch double
// buffering). kVec (ld % 4 == 0, 16-byte aligned base): items are quads of 4 elements consecutive
// along the contiguous dimension, one float4 load each (a quad that crosses the edge falls back to
// guarded scalar reads); else single elements, consecutive threads on consecutive addresses.
template <int R, int BK, int T, bool kKContig, bool kVec>
struct TileStage {
  static constexpr int kW = kVec ? 4 : 1;                 // elements per item
  static constexpr int kLine = (kKContig ? BK : R) / kW;  // items along the contiguous dimension
  static constexpr int kItems = R * BK / kW;
  static constexpr int kPer = (kItems + T - 1) / T;       // items per thread (the last may be idle)
  // T is a multiple of kLine, so a thread keeps its position along the contiguous dimension and
  // its items are kStep lines apart: each address is the first one plus a multiple of kStep * ld.
  static constexpr int kStep = T / kLine;
  static_assert((kKContig ? BK : R) % kW == 0 && T % kLine == 0, "threads tile whole lines");
  float v[kPer][kW] = {};  // zero: g++ cannot see that idle items are never stored

  // A thread's first item: kW elements from (r, k) along the contiguous dimension (k if
  // kKContig, else r); its item j is kStep lines (rows if kKContig, else k) further.
  __device__ static __forceinline__ void first(int& r, int& k) {
    const int along = (static_cast<int>(threadIdx.x) % kLine) * kW, line = static_cast<int>(threadIdx.x) / kLine;
    r = kKContig ? line : along;
    k = kKContig ? along : line;
  }
  __device__ static __forceinline__ bool idle(int j) { return kItems % T != 0 && static_cast<int>(threadIdx.x) + j * T >= kItems; }

  __device__ __forceinline__ void load(const Operand& o, int r0, int k0, int k_end) {
    int r, k;
    first(r, k);
    const int gr = r0 + r, gk = k0 + k;
    const float* q = o.p + (kKContig ? static_cast<long long>(gr) * o.ld + gk : static_cast<long long>(gk) * o.ld + gr);
    const long long step = static_cast<long long>(kStep) * o.ld;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      if (idle(j)) break;
      const int jr = kKContig ? gr + j * kStep : gr, jk = kKContig ? gk : gk + j * kStep;
      if constexpr (kVec) {
        if (jr + (kKContig ? 0 : 3) < o.rows && jk + (kKContig ? 3 : 0) < k_end) {  // the whole quad
          const float4 f = *reinterpret_cast<const float4*>(q + j * step);
          v[j][0] = f.x, v[j][1] = f.y, v[j][2] = f.z, v[j][3] = f.w;
          continue;
        }
      }
      // Element by element (the edge, or no kVec): zero outside, one on the ones row (B only).
      // Element e sits at q + j * step + e, whichever dimension is contiguous.
#pragma unroll
      for (int e = 0; e < kW; ++e) {
        const int er = kKContig ? jr : jr + e, ek = kKContig ? jk + e : jk;
        v[j][e] = ek >= k_end ? 0.f : er < o.rows ? q[j * step + e] : er == o.ones_row ? 1.f : 0.f;
      }
    }
  }

  // Writes the staged values to shared memory, element (r, k) at s[r * kSR + k * kSK], converted
  // by the policy P (P::convert, P::store4). A quad goes out as one wide store (P::store4) when it
  // is contiguous in shared memory too (stride 1 along the contiguous dimension), else as four
  // transposing scalar stores.
  template <class P, int kSR, int kSK>
  __device__ __forceinline__ void store(typename P::Smem* s) const {
    constexpr int kAlong = kKContig ? kSK : kSR, kAcross = kKContig ? kSR : kSK;
    int r, k;
    first(r, k);
    typename P::Smem* d = s + r * kSR + k * kSK;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      if (idle(j)) break;
      typename P::Smem* dj = d + j * kStep * kAcross;
      if constexpr (kW == 4 && kAlong == 1) {
        P::store4(dj, v[j][0], v[j][1], v[j][2], v[j][3]);
      } else {
#pragma unroll
        for (int e = 0; e < kW; ++e) dj[e * kAlong] = P::convert(v[j][e]);
      }
    }
  }
};

// Split-K fix-up: every block has written its partial tile (BM x BN, row-major, local indices)
// to its workspace slot; the last block of the tile to arrive sums the slots in split order and
// runs the epilogue. Called by all threads of the block.
// Thread t owns the quads (4 consecutive elements of a row) t, t + T, ... of the tile and keeps
// their sums in registers, splits outer: each split's float4 loads are all issued before any is
// added, so the L2 latency is paid once per split and chunk of 8 quads (with elements outer and
// splits inner, a thread waited splits x elements times in a row: at batch 128, 13 splits x 16
// elements, some tens of microseconds by a rough estimate of L2 latency). Every element still
// sums its splits in order 0, 1, ...: the same bits as before.
template <int BM, int BN, int T, bool kVec>
__device__ void splitk_fixup(const GemmParams& p, int tile, int tiles, int m0, int n0) {
  static_assert(BN % 4 == 0 && (BM * BN / 4) % T == 0, "whole quads, the same number per thread");
  constexpr int kQuads = BM * BN / 4 / T;
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
  const long long slot = static_cast<long long>(BM) * BN, stride = slot * tiles;
  const float4* base = reinterpret_cast<const float4*>(p.workspace + static_cast<long long>(tile) * slot);
  // At most 8 quads in flight (32 sums + 32 loaded values), so the fix-up fits the kernels'
  // register budgets without spilling.
  constexpr int kChunk = kQuads < 8 ? kQuads : 8;
  static_assert(kQuads % kChunk == 0);
#pragma unroll 1
  for (int c = 0; c < kQuads; c += kChunk) {
    float4 sum[kChunk];
#pragma unroll
    for (int j = 0; j < kChunk; ++j) sum[j] = make_float4(0.f, 0.f, 0.f, 0.f);
    // Not unrolled where one chunk is the whole share (v2, v4): unrolling there overlapped the
    // loads of two splits but took v2 from 72-79 to 104-108 registers (3 -> 2 blocks/SM). Unrolled
    // twice otherwise: no spills (ptxas spilled 4-8 B in v3 on sm_80 with 1 and with 4).
#pragma unroll(kQuads == kChunk ? 1 : 2)
    for (int s = 0; s < p.splits; ++s) {
      const float4* part = base + s * (stride / 4) + threadIdx.x + c * T;
      float4 q[kChunk];
#pragma unroll
      for (int j = 0; j < kChunk; ++j) q[j] = __ldcg(part + j * T);  // L2: other blocks wrote it
#pragma unroll
      for (int j = 0; j < kChunk; ++j) {
        sum[j].x += q[j].x;
        sum[j].y += q[j].y;
        sum[j].z += q[j].z;
        sum[j].w += q[j].w;
      }
    }
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const int e = 4 * (static_cast<int>(threadIdx.x) + (c + j) * T);
      epilogue_store4(p, m0 + e / BN, n0 + e % BN, sum[j], kVec);
    }
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
// Double-buffered with register prefetch: while the block multiplies k-step i out of one shared
// buffer, each thread's global loads of k-step i+1 are in flight into registers (TileStage); it
// then writes them to the other buffer, so one __syncthreads per k-step suffices. An operand that
// is m- (n-) contiguous in global memory (A when kATrans, B when !kBTrans) goes to shared memory
// with float4 stores; a k-contiguous one is transposed with scalar stores.
// At most 128 registers (minimum 2 blocks of 256 threads per SM): v3's 8x8 micro-tile plus the
// prefetch registers would otherwise take more and halve the occupancy.
template <int BM, int BN, int BK, int TM, int TN, bool kATrans, bool kBTrans, bool kVec>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2) gemm_tiled(GemmParams p) {
  constexpr int T = (BM / TM) * (BN / TN);
  constexpr int LDA = BM + 4, LDB = BN + 4;  // +4: fewer bank conflicts on the transposing stores
  static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tiles are read as float4");
  __shared__ __align__(16) float As[2][BK * LDA];
  __shared__ __align__(16) float Bs[2][BK * LDB];

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

  TileStage<BM, BK, T, !kATrans, kVec> sa;  // element (m, k) -> As[buf][k * LDA + m]
  TileStage<BN, BK, T, kBTrans, kVec> sb;   // element (n, k) -> Bs[buf][k * LDB + n]
  sa.load(a, m0, k_begin, k_end);
  sb.load(b, n0, k_begin, k_end);
  sa.template store<Fp32, 1, LDA>(As[0]);
  sb.template store<Fp32, 1, LDB>(Bs[0]);
  __syncthreads();

  int buf = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;  // uniform across the block
    if (more) {  // issue k-step i+1's global loads; they land while k-step i is multiplied
      sa.load(a, m0, k0 + BK, k_end);
      sb.load(b, n0, k0 + BK, k_end);
    }
    const float* as = As[buf];
    const float* bs = Bs[buf];
    multiply_tile<BK, TM, TN, LDA, LDB>(as, bs, ty, tx, acc);
    if (more) {
      // The other buffer was last read in k-step i-1, which every thread finished before the
      // barrier that ended it.
      sa.template store<Fp32, 1, LDA>(As[buf ^ 1]);
      sb.template store<Fp32, 1, LDB>(Bs[buf ^ 1]);
    }
    __syncthreads();  // k-step i+1's tiles are written, and nobody reads buffer `buf` any more
    buf ^= 1;
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
  splitk_fixup<BM, BN, T, kVec>(p, tile, tiles, m0, n0);
}

// ---- v4, v5: tensor cores through nvcuda::wmma -------------------------------------------------
// The FP32 operands are rounded to the MMA input type (Tf32, Bf16 of kernels/epilogue.cuh) while
// staged into shared memory (master weights stay FP32); accumulation is FP32.

// Shared memory of one gemm_wmma stage (the A and B tiles at depth BK), each tile rounded up to
// 128 bytes. An operand is staged in its global layout: k-contiguous as [r][k] (ld BK + pad),
// else [k][r] (ld R + pad).
template <class Prec>
__host__ __device__ constexpr int wmma_tile_bytes(int R, int BK, bool k_contig) {
  const int elems = k_contig ? R * (BK + Prec::kPad) : BK * (R + Prec::kPad);
  return (elems * static_cast<int>(sizeof(typename Prec::Smem)) + 127) / 128 * 128;
}
// Minimum blocks per SM for __launch_bounds__: a cap of 128 registers per thread (4 blocks of 128
// or 2 of 256 threads per SM), except TF32 at 128x128 tiles, where ptxas spills a few bytes under
// that cap in the scalar-load variants: it gets 1 block of 256 threads, as before the prefetch.
template <int BM, int BN, int T, class Prec>
__host__ __device__ constexpr int wmma_min_blocks() {
  return BM * BN >= 128 * 128 && sizeof(typename Prec::Smem) == 4 ? 1 : 65536 / (T * 128);
}

// Double-buffered with register prefetch like gemm_tiled: k-step i+1's global loads are in flight
// during k-step i's MMAs, then converted and written to the other stage. Each operand is staged in
// its global layout (the wmma fragment layout follows it), so under kVec every quad is one wide
// store (float4 for TF32, 8 bytes for BF16) and no operand is transposed through shared memory.
// The epilogue's per-warp scratch tiles reuse the stages once the main loop is done.
template <int BM, int BN, int WM, int WN, class Prec, bool kATrans, bool kBTrans, bool kVec>
__global__ void __launch_bounds__(32 * (BM / WM) * (BN / WN), (wmma_min_blocks<BM, BN, 32 * (BM / WM) * (BN / WN), Prec>()))
    gemm_wmma(GemmParams p) {
  namespace wmma = nvcuda::wmma;
  using Smem = typename Prec::Smem;
  constexpr bool kAK = !kATrans, kBK = kBTrans;  // operand k-contiguous in global memory
  constexpr int BK = 16, FK = Prec::kK;  // 16-deep stages: 8 prefetched floats per thread and operand
  constexpr int kWarpsN = BN / WN, T = 32 * (BM / WM) * kWarpsN;
  constexpr int FM = WM / 16, FN = WN / 16;
  constexpr int LDA = kAK ? BK + Prec::kPad : BM + Prec::kPad;  // As[m][k] or As[k][m]
  constexpr int LDB = kBK ? BK + Prec::kPad : BN + Prec::kPad;  // Bs[n][k] or Bs[k][n]
  constexpr int LDS = 16 + 4;
  // matrix_a (m, k) row_major: p[m * ld + k], col_major: p[k * ld + m];
  // matrix_b (k, n) row_major: p[k * ld + n], col_major: p[n * ld + k].
  using LayoutA = std::conditional_t<kAK, wmma::row_major, wmma::col_major>;
  using LayoutB = std::conditional_t<kBK, wmma::col_major, wmma::row_major>;
  constexpr int kABytes = wmma_tile_bytes<Prec>(BM, BK, kAK), kStageBytes = kABytes + wmma_tile_bytes<Prec>(BN, BK, kBK);
  constexpr int kScratchBytes = (T / 32) * 16 * LDS * static_cast<int>(sizeof(float));  // one 16x16 tile per warp
  constexpr int kSmemBytes = 2 * kStageBytes > kScratchBytes ? 2 * kStageBytes : kScratchBytes;
  // Fragment pointers must be 32-byte aligned: every 16-row (or FK-row) step is a multiple of 32 bytes.
  static_assert((16 * LDA * sizeof(Smem)) % 32 == 0 && (FK * LDA * sizeof(Smem)) % 32 == 0);
  static_assert((16 * LDB * sizeof(Smem)) % 32 == 0 && (FK * LDB * sizeof(Smem)) % 32 == 0);
  static_assert(BK % FK == 0 && 32 % BK == 0, "the launcher splits K in multiples of 32 (tile_config)");
  // Raw bytes, not Smem[...]: a __shared__ array of a class type (bf16) gets a g++ init guard
  // in the SIMT build, which TSan reports as a race (kernels/README.md).
  __shared__ __align__(128) unsigned char smem[kSmemBytes];
  const auto As = [&](int buf) { return reinterpret_cast<Smem*>(smem + buf * kStageBytes); };
  const auto Bs = [&](int buf) { return reinterpret_cast<Smem*>(smem + buf * kStageBytes + kABytes); };

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

  // Element (r, k) of a tile at r * SR + k * SK: [r][k] is (LD, 1), [k][r] is (1, LD).
  constexpr int kASR = kAK ? LDA : 1, kASK = kAK ? 1 : LDA;
  constexpr int kBSR = kBK ? LDB : 1, kBSK = kBK ? 1 : LDB;
  TileStage<BM, BK, T, kAK, kVec> sa;
  TileStage<BN, BK, T, kBK, kVec> sb;
  sa.load(a, m0, k_begin, k_end);
  sb.load(b, n0, k_begin, k_end);
  sa.template store<Prec, kASR, kASK>(As(0));
  sb.template store<Prec, kBSR, kBSK>(Bs(0));
  __syncthreads();

  int buf = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;  // uniform across the block
    if (more) {
      sa.load(a, m0, k0 + BK, k_end);
      sb.load(b, n0, k0 + BK, k_end);
    }
    const Smem* as = As(buf);
    const Smem* bs = Bs(buf);
#pragma unroll
    for (int kk = 0; kk < BK; kk += FK) {
      wmma::fragment<wmma::matrix_a, 16, 16, FK, typename Prec::Frag, LayoutA> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, FK, typename Prec::Frag, LayoutB> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], as + (wm * WM + i * 16) * kASR + kk * kASK, LDA);
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], bs + (wn * WN + j * 16) * kBSR + kk * kBSK, LDB);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    if (more) {  // the other stage was last read in k-step i-1, before the barrier that ended it
      sa.template store<Prec, kASR, kASK>(As(buf ^ 1));
      sb.template store<Prec, kBSR, kBSK>(Bs(buf ^ 1));
    }
    __syncthreads();
    buf ^= 1;
  }

  // Each warp passes its 16x16 accumulators through its own scratch tile: the fragment layout
  // is opaque, the epilogue needs (m, n). The stages are free: every thread is past the last barrier.
  float* scratch = reinterpret_cast<float*>(smem);
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
  if (slot) splitk_fixup<BM, BN, T, kVec>(p, tile, tiles, m0, n0);
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

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::gemm
