// host/cuda/gemm.cu: the launchers behind host/cuda/gemm.hpp (shape checks, kernel version and
// grid choice, split-K workspace, NVTX ranges) and the cuBLAS(Lt) baseline they are measured against.
// One file, two builds:
//   nvcc, into cuvae_lib (CUVAE_CUDA=ON): the custom kernels of kernels/gemm.cuh and cuBLAS(Lt).
//   the host compiler against the SIMT runtime: host/cuda/gemm_simt.cpp #includes this file with
//     CUVAE_SIMT defined. Custom kernels only, on host memory; GemmImpl::automatic means
//     custom there and GemmImpl::cublas throws.
#include "host/cuda/gemm.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "host/error.hpp"
#include "host/cuda/launch_support.hpp"
#include "host/op_checks.hpp"
#include "kernels/gemm.cuh"

#if defined(__CUDACC__) && defined(CUVAE_SIMT)
#error "CUVAE_SIMT marks the host-compiler (SIMT) build of host/cuda/gemm.cu; nvcc builds the GPU one"
#elif !defined(__CUDACC__) && !defined(CUVAE_SIMT)
#error "host/cuda/gemm.cu built by the host compiler is the SIMT build: define CUVAE_SIMT (see host/cuda/gemm_simt.cpp)"
#endif

#if defined(__CUDACC__)
#define CUVAE_GEMM_CUBLAS 1
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#else
#define CUVAE_GEMM_CUBLAS 0
#endif

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {
namespace {

namespace kg = cuvae::kernels::gemm;

#if CUVAE_GEMM_CUBLAS
#define CUVAE_GEMM_CUDA_CHECK(call)                                                                 \
  do {                                                                                              \
    if (const cudaError_t e_ = (call); e_ != cudaSuccess)                                           \
      CUVAE_FAIL(std::string("CUDA error: ") + #call + ": " + cudaGetErrorString(e_));              \
  } while (0)
// `what` names the shapes, so a failing cuBLAS call says which GEMM it was.
#define CUVAE_GEMM_CUBLAS_CHECK(call, what)                                                         \
  do {                                                                                              \
    if (const cublasStatus_t s_ = (call); s_ != CUBLAS_STATUS_SUCCESS)                              \
      CUVAE_FAIL(std::string("cuBLAS error: ") + #call + ": " + cublasGetStatusString(s_) + " (" + \
                 (what) + ")");                                                                     \
  } while (0)
#endif

enum class Op { forward, backward_data, backward_weight };
const char* op_name(Op op) {
  switch (op) {
    case Op::forward: return "gemm.forward";
    case Op::backward_data: return "gemm.backward_data";
    case Op::backward_weight: return "gemm.backward_weight";
  }
  return "gemm";
}

std::string shape_text(Op op, const kg::GemmParams& p) {
  return std::string(op_name(op)) + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) + " K=" + std::to_string(p.K);
}

int ceil_div(std::int64_t a, std::int64_t b) { return static_cast<int>((a + b - 1) / b); }

bool aligned16(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; }

// float4 loads and stores are legal when every matrix the kernel touches row by row has a
// leading dimension that is a multiple of 4 and a 16-byte aligned base.
bool vectorizable(const kg::GemmParams& p) {
  bool ok = aligned16(p.A) && aligned16(p.B) && aligned16(p.C) && p.lda % 4 == 0 && p.ldb % 4 == 0 && p.ldc % 4 == 0;
  if (p.epilogue == kg::kDAct) ok = ok && aligned16(p.aux) && p.ldaux % 4 == 0;
  return ok;
}

struct TileConfig {
  int bm, bn, bk, threads;
};
TileConfig tile_config(int version) {
  switch (version) {
    case 1: return {16, 16, 1, 256};
    case 2: return {64, 64, 8, 256};
    case 3: return {128, 128, 8, 256};
    case 4: return {64, 64, 32, 128};
    case 5: return {128, 128, 32, 256};
  }
  CUVAE_FAIL("unknown GEMM kernel version " + std::to_string(version));
}

// ---- custom kernels: template dispatch ----------------------------------------------------------

template <bool kATrans, bool kBTrans, bool kVec>
void launch_version(int version, Precision precision, dim3 grid, const kg::GemmParams& p, cudaStream_t stream) {
  switch (version) {
    case 1:
      cuvae::launch(kg::gemm_naive<kATrans, kBTrans>, grid, dim3(16, 16), 0, stream, p);
      return;
    case 2:
      cuvae::launch(kg::gemm_tiled<64, 64, 8, 4, 4, kATrans, kBTrans, kVec>, grid, dim3(256), 0, stream, p);
      return;
    case 3:
      cuvae::launch(kg::gemm_tiled<128, 128, 8, 8, 8, kATrans, kBTrans, kVec>, grid, dim3(256), 0, stream, p);
      return;
    case 4:
      if (precision == Precision::tf32)
        cuvae::launch(kg::gemm_wmma<64, 64, 32, 32, kg::Tf32, kATrans, kBTrans, kVec>, grid, dim3(128), 0, stream, p);
      else
        cuvae::launch(kg::gemm_wmma<64, 64, 32, 32, kg::Bf16, kATrans, kBTrans, kVec>, grid, dim3(128), 0, stream, p);
      return;
    case 5:
      if (precision == Precision::tf32)
        cuvae::launch(kg::gemm_wmma<128, 128, 64, 32, kg::Tf32, kATrans, kBTrans, kVec>, grid, dim3(256), 0, stream, p);
      else
        cuvae::launch(kg::gemm_wmma<128, 128, 64, 32, kg::Bf16, kATrans, kBTrans, kVec>, grid, dim3(256), 0, stream, p);
      return;
  }
  CUVAE_FAIL("unknown GEMM kernel version " + std::to_string(version));
}

template <bool kATrans, bool kBTrans>
void launch_layout(int version, Precision precision, dim3 grid, const kg::GemmParams& p, bool vec, cudaStream_t stream) {
  if (vec) launch_version<kATrans, kBTrans, true>(version, precision, grid, p, stream);
  else launch_version<kATrans, kBTrans, false>(version, precision, grid, p, stream);
}

}  // namespace

// ---- Gemm ---------------------------------------------------------------------------------------

struct Gemm::Impl {
  cudaStream_t stream;
  Precision precision;
  GemmImpl impl;
  int sm_count = 8;  // SIMT build: a nominal count, so the split-K heuristic has work to do
  int forced_version = 0, forced_split = 0;
  int last_version = 0, last_splits = 0;  // last_kernel(); version 0: cuBLAS(Lt)

  // Split-K: partial tiles and one arrival counter per output tile (kept zero between launches).
  static constexpr std::int64_t kWorkspaceFloats = std::int64_t(4) << 20;  // 16 MiB
  static constexpr int kCounters = 1 << 14;
  float* workspace = nullptr;
  unsigned* counters = nullptr;
#if !CUVAE_GEMM_CUBLAS
  std::vector<float> workspace_host;
  std::vector<unsigned> counters_host;
#endif

#if CUVAE_GEMM_CUBLAS
  cublasLtHandle_t lt = nullptr;
  void* lt_workspace = nullptr;
  static constexpr std::size_t kLtWorkspaceBytes = std::size_t(32) << 20;
  // One cuBLASLt plan (descriptors + algorithm) per GEMM shape: the heuristic runs once.
  struct LtPlan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool fused = true;  // false: cuBLASLt had no algorithm with the epilogue; helper kernels run after
  };
  std::map<std::tuple<int, int, int, int, int>, LtPlan> plans;
  // automatic: true = cuBLAS(Lt) won for this (op, M, N, K, act).
  std::map<std::tuple<int, int, int, int, int>, bool> choice;
#endif

  Impl(cudaStream_t s, Precision p, GemmImpl i) : stream(s), precision(p), impl(i) {
#if CUVAE_GEMM_CUBLAS
    int device = 0;
    CUVAE_GEMM_CUDA_CHECK(cudaGetDevice(&device));
    CUVAE_GEMM_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
    CUVAE_GEMM_CUDA_CHECK(cudaMalloc(&workspace, kWorkspaceFloats * sizeof(float)));
    CUVAE_GEMM_CUDA_CHECK(cudaMalloc(&counters, kCounters * sizeof(unsigned)));
    CUVAE_GEMM_CUDA_CHECK(cudaMemset(counters, 0, kCounters * sizeof(unsigned)));
    if (impl != GemmImpl::custom) {
      CUVAE_GEMM_CUBLAS_CHECK(cublasLtCreate(&lt), "creating the cuBLASLt handle");
      CUVAE_GEMM_CUDA_CHECK(cudaMalloc(&lt_workspace, kLtWorkspaceBytes));
    }
#else
    if (impl == GemmImpl::cublas)
      throw Error("--gemm cublas: this build has no cuBLAS (SIMT build); use custom or auto");
    workspace_host.assign(kWorkspaceFloats, 0.f);
    counters_host.assign(kCounters, 0u);
    workspace = workspace_host.data();
    counters = counters_host.data();
#endif
  }

  ~Impl() {
#if CUVAE_GEMM_CUBLAS
    for (auto& [key, plan] : plans) destroy(plan);
    if (lt) cublasLtDestroy(lt);
    cudaFree(lt_workspace);
    cudaFree(counters);
    cudaFree(workspace);
#endif
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  bool wants_cublas() const {
#if CUVAE_GEMM_CUBLAS
    return impl == GemmImpl::cublas;
#else
    return false;
#endif
  }

  // ---- custom ----
  int pick_version(int M, int n_cols) const {
    if (forced_version) return forced_version;
    const bool tensor = precision != Precision::fp32;
    // The 128x128 tiles pay off once they alone fill the GPU; below that, 64x64 (plus split-K).
    const bool large = static_cast<std::int64_t>(ceil_div(M, 128)) * ceil_div(n_cols, 128) >= sm_count;
    return tensor ? (large ? 5 : 4) : (large ? 3 : 2);
  }

  void run_custom(Op op, kg::GemmParams p) {
    const int n_cols = p.N + (p.rowsum ? 1 : 0);
    const int version = pick_version(p.M, n_cols);
    const TileConfig tc = tile_config(version);
    const dim3 grid(ceil_div(n_cols, tc.bn), ceil_div(p.M, tc.bm));
    const int tiles = static_cast<int>(grid.x * grid.y);
    const int k_tiles = ceil_div(p.K, tc.bk);

    int splits = 1;
    if (version != 1) {
      if (forced_split) {
        splits = forced_split;
      } else if (tiles < sm_count) {
        // Fill about two blocks per SM, each split keeping at least 64 of K.
        splits = std::min({ceil_div(2 * sm_count, tiles), ceil_div(p.K, 64), 32});
      }
      splits = std::clamp(splits, 1, k_tiles);
      if (tiles > kCounters || static_cast<std::int64_t>(splits) * tiles * tc.bm * tc.bn > kWorkspaceFloats) splits = 1;
    }
    const int k_per_split = ceil_div(k_tiles, splits) * tc.bk;
    splits = ceil_div(p.K, k_per_split);  // no empty split
    p.splits = splits;
    p.k_per_split = version == 1 ? p.K : k_per_split;
    p.workspace = workspace;
    p.counters = counters;

    last_version = version, last_splits = splits;
    const dim3 launch_grid(grid.x, grid.y, splits);
    const bool vec = vectorizable(p);
    switch (op) {
      case Op::forward: launch_layout<false, true>(version, precision, launch_grid, p, vec, stream); break;
      case Op::backward_data: launch_layout<false, false>(version, precision, launch_grid, p, vec, stream); break;
      case Op::backward_weight: launch_layout<true, false>(version, precision, launch_grid, p, vec, stream); break;
    }
  }

  void run(Op op, const kg::GemmParams& p) {
    if (p.M <= 0 || p.N <= 0 || p.K <= 0) throw Error(shape_text(op, p) + ": empty GEMM");
    const NvtxRange range(op_name(op), p.M, p.N, p.K);
#if CUVAE_GEMM_CUBLAS
    if (impl == GemmImpl::cublas) return run_cublas(op, p);
    if (impl == GemmImpl::automatic) return run_automatic(op, p);
#endif
    run_custom(op, p);
  }

#if CUVAE_GEMM_CUBLAS
  // ---- cuBLASLt ----
  // Row-major C[M,N] is the column-major C^T[N,M], so each GEMM is issued transposed:
  //   forward  y^T  = op(w^T stored [in x out])^T x^T    m=out n=B   k=in   A:T B:N  bias over m
  //   dx       dx^T = w^T dy^T                           m=in  n=B   k=out  A:N B:N
  //   dw       dw^T = x^T dy                             m=in  n=out k=B    A:N B:T  BGRADB: db[n]
  static void destroy(LtPlan& plan) {
    if (plan.a) cublasLtMatrixLayoutDestroy(plan.a);
    if (plan.b) cublasLtMatrixLayoutDestroy(plan.b);
    if (plan.c) cublasLtMatrixLayoutDestroy(plan.c);
    if (plan.desc) cublasLtMatmulDescDestroy(plan.desc);
    plan = LtPlan{};
  }

  cublasComputeType_t compute_type() const {
    switch (precision) {
      case Precision::fp32: return CUBLAS_COMPUTE_32F;
      case Precision::tf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
      case Precision::bf16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    }
    return CUBLAS_COMPUTE_32F;
  }

  struct LtShape {
    cublasOperation_t ta, tb;
    int m, n, k, lda, ldb, ldc;
    const float *a, *b;
    float* c;
    cublasLtEpilogue_t epilogue;
    const void* bias;
  };
  LtShape lt_shape(Op op, const kg::GemmParams& p) const {
    switch (op) {
      case Op::forward:
        return {CUBLAS_OP_T, CUBLAS_OP_N, p.N, p.M, p.K, p.ldb, p.lda, p.ldc, p.B, p.A, p.C,
                p.act == kg::kActRelu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS, p.bias};
      case Op::backward_data:
        return {CUBLAS_OP_N, CUBLAS_OP_N, p.N, p.M, p.K, p.ldb, p.lda, p.ldc, p.B, p.A, p.C,
                CUBLASLT_EPILOGUE_DEFAULT, nullptr};
      case Op::backward_weight:
        return {CUBLAS_OP_N, CUBLAS_OP_T, p.N, p.M, p.K, p.ldb, p.lda, p.ldc, p.B, p.A, p.C,
                CUBLASLT_EPILOGUE_BGRADB, p.rowsum};
    }
    CUVAE_FAIL("unknown GEMM op");
  }

  // Builds descriptors and asks the heuristic for one algorithm; false if it has none.
  bool make_plan(const LtShape& s, cublasLtEpilogue_t epilogue, LtPlan& plan, const std::string& what) {
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, compute_type(), CUDA_R_32F), what);
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &s.ta, sizeof s.ta), what);
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &s.tb, sizeof s.tb), what);
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), what);
    if (epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
      // The heuristic wants the bias pointer's alignment: give it the real one.
      CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &s.bias, sizeof s.bias), what);
    }
    const bool ta = s.ta == CUBLAS_OP_T, tb = s.tb == CUBLAS_OP_T;
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, CUDA_R_32F, ta ? s.k : s.m, ta ? s.m : s.k, s.lda), what);
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, CUDA_R_32F, tb ? s.n : s.k, tb ? s.k : s.n, s.ldb), what);
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.c, CUDA_R_32F, s.m, s.n, s.ldc), what);
    cublasLtMatmulPreference_t pref = nullptr;
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref), what);
    const std::size_t ws = kLtWorkspaceBytes;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) return false;
    plan.algo = result.algo;
    return true;
  }

  LtPlan& plan_for(Op op, const kg::GemmParams& p, const LtShape& s) {
    const auto key = std::make_tuple(static_cast<int>(op), p.M, p.N, p.K, p.act * 2 + (p.epilogue == kg::kDAct));
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    const std::string what = shape_text(op, p) + ", " + precision_name(precision);
    LtPlan plan;
    if (!make_plan(s, s.epilogue, plan, what)) {
      destroy(plan);  // no algorithm with this epilogue: plain matmul, helper kernels after it
      plan.fused = false;
      if (!make_plan(s, CUBLASLT_EPILOGUE_DEFAULT, plan, what)) {
        destroy(plan);
        CUVAE_FAIL("cuBLASLt has no algorithm for " + what);
      }
      plan.fused = false;
    }
    return plans.emplace(key, plan).first->second;
  }

  void run_cublas(Op op, const kg::GemmParams& p) {
    last_version = 0;
    const LtShape s = lt_shape(op, p);
    LtPlan& plan = plan_for(op, p, s);
    const std::string what = shape_text(op, p) + ", " + precision_name(precision);
    if (plan.fused && s.epilogue != CUBLASLT_EPILOGUE_DEFAULT)
      CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &s.bias, sizeof s.bias), what);
    const float one = 1.f, zero = 0.f;
    CUVAE_GEMM_CUBLAS_CHECK(cublasLtMatmul(lt, plan.desc, &one, s.a, plan.a, s.b, plan.b, &zero, s.c, plan.c, s.c, plan.c,
                                           &plan.algo, lt_workspace, kLtWorkspaceBytes, stream),
                            what);
    // What cuBLASLt cannot fuse: sigmoid, leaky_relu, act'(x), and any epilogue it had no algorithm for.
    const long long count = static_cast<long long>(p.M) * p.N;
    const int threads = 256, blocks = ceil_div(count, threads);
    switch (op) {
      case Op::forward:
        if (!plan.fused) cuvae::launch(kg::bias_act_inplace, dim3(blocks), dim3(threads), 0, stream, p.C, p.M, p.N, p.bias, p.act);
        else if (p.act == kg::kActSigmoid || p.act == kg::kActLeakyRelu)
          cuvae::launch(kg::bias_act_inplace, dim3(blocks), dim3(threads), 0, stream, p.C, p.M, p.N,
                        static_cast<const float*>(nullptr), p.act);
        break;
      case Op::backward_data:
        if (p.epilogue == kg::kDAct)
          cuvae::launch(kg::mul_derivative_inplace, dim3(blocks), dim3(threads), 0, stream, p.C, p.aux, count, p.act);
        break;
      case Op::backward_weight:
        if (!plan.fused)  // db = column sums of dy [K=B, M=out]
          cuvae::launch(kg::column_sums, dim3(ceil_div(p.M, threads)), dim3(threads), 0, stream, p.A, p.K, p.M, p.rowsum);
        break;
    }
  }

  // Times custom and cuBLAS(Lt) (one warm-up, three timed runs each) at the first call of a shape.
  void run_automatic(Op op, const kg::GemmParams& p) {
    const auto key = std::make_tuple(static_cast<int>(op), p.M, p.N, p.K, p.act * 2 + (p.epilogue == kg::kDAct));
    auto it = choice.find(key);
    if (it == choice.end()) {
      cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
      CUVAE_GEMM_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
      if (capture != cudaStreamCaptureStatusNone) return run_custom(op, p);  // no timing inside a graph
      auto time_ms = [&](bool cublas) {
        cudaEvent_t start, stop;
        CUVAE_GEMM_CUDA_CHECK(cudaEventCreate(&start));
        CUVAE_GEMM_CUDA_CHECK(cudaEventCreate(&stop));
        cublas ? run_cublas(op, p) : run_custom(op, p);
        CUVAE_GEMM_CUDA_CHECK(cudaEventRecord(start, stream));
        for (int r = 0; r < 3; ++r) cublas ? run_cublas(op, p) : run_custom(op, p);
        CUVAE_GEMM_CUDA_CHECK(cudaEventRecord(stop, stream));
        CUVAE_GEMM_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.f;
        CUVAE_GEMM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
        return ms;
      };
      const float custom_ms = time_ms(false), cublas_ms = time_ms(true);
      it = choice.emplace(key, cublas_ms < custom_ms).first;
    }
    it->second ? run_cublas(op, p) : run_custom(op, p);
  }
#endif
};

Gemm::Gemm(cudaStream_t stream, Precision precision, GemmImpl impl)
    : impl_(std::make_unique<Impl>(stream, precision, impl)) {}
Gemm::~Gemm() = default;

std::string Gemm::describe() const {
  const char* prec = precision_name(impl_->precision);
  switch (impl_->impl) {
    case GemmImpl::custom: return std::string("custom ") + prec + " GEMM";
    case GemmImpl::cublas: return std::string("cuBLASLt ") + prec + " GEMM";
    case GemmImpl::automatic:
#if CUVAE_GEMM_CUBLAS
      return std::string("auto ") + prec + " GEMM (custom or cuBLASLt, the faster per shape)";
#else
      return std::string("custom ") + prec + " GEMM (auto: this build has no cuBLAS)";
#endif
  }
  return "GEMM";
}

std::string Gemm::last_kernel() const {
  if (impl_->last_version == 0) return "cuBLASLt";
  // Appended piece by piece: "v" + std::to_string(...) trips g++ 12's -Wrestrict (a false positive).
  std::string s = "v";
  s += std::to_string(impl_->last_version);
  s += " x";
  s += std::to_string(impl_->last_splits);
  return s;
}

void Gemm::force_kernel(int version, int split_k) {
  if (version < 0 || version > 5) throw Error("GEMM kernel version " + std::to_string(version) + ": want 0 (choose) or 1..5");
  const bool tensor = impl_->precision != Precision::fp32;
  if (version != 0 && (version >= 4) != tensor)
    throw Error("GEMM kernel version " + std::to_string(version) + " cannot run at precision " +
                precision_name(impl_->precision) + " (versions 1-3: fp32, 4-5: tf32 or bf16)");
  if (split_k < 0) throw Error("GEMM split-K " + std::to_string(split_k) + ": want 0 (choose) or >= 1");
  impl_->forced_version = version;
  impl_->forced_split = split_k;
}

void Gemm::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y) {
  checks::linear_forward(x, w, b, y);
  kg::GemmParams p{};
  p.M = static_cast<int>(x.shape[0]), p.N = static_cast<int>(w.shape[0]), p.K = static_cast<int>(x.shape[1]);
  p.A = x.data, p.lda = p.K;
  p.B = w.data, p.ldb = p.K;
  p.C = y.data, p.ldc = p.N;
  p.epilogue = kg::kBiasAct, p.act = act_kind(act), p.bias = b.data;
  impl_->run(Op::forward, p);
}

void Gemm::backward_data(const Tensor& dy, const Tensor& w, const Tensor& x, Activation x_act, const Tensor& dx) {
  // The shared checks cover dx, x, w, dy; dw and db (not written here) are stood in for by w's shape.
  checks::linear_backward(x, w, dy, &dx, w, Tensor{nullptr, Shape{w.shape[0]}, w.device});
  kg::GemmParams p{};
  p.M = static_cast<int>(dy.shape[0]), p.N = static_cast<int>(w.shape[1]), p.K = static_cast<int>(w.shape[0]);
  p.A = dy.data, p.lda = p.K;
  p.B = w.data, p.ldb = p.N;
  p.C = dx.data, p.ldc = p.N;
  p.epilogue = x_act == Activation::none ? kg::kStore : kg::kDAct, p.act = act_kind(x_act);
  p.aux = x.data, p.ldaux = p.N;
  impl_->run(Op::backward_data, p);
}

void Gemm::backward_weight(const Tensor& dy, const Tensor& x, const Tensor& dw, const Tensor& db) {
  checks::linear_backward(x, dw, dy, nullptr, dw, db);
  kg::GemmParams p{};
  p.M = static_cast<int>(dy.shape[1]), p.N = static_cast<int>(x.shape[1]), p.K = static_cast<int>(x.shape[0]);
  p.A = dy.data, p.lda = p.M;
  p.B = x.data, p.ldb = p.N;
  p.C = dw.data, p.ldc = p.N;
  p.epilogue = kg::kStore, p.act = kg::kActNone;
  p.rowsum = db.data;
  impl_->run(Op::backward_weight, p);
}

void Gemm::linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                           const Tensor& dw, const Tensor& db) {
  checks::linear_backward(x, w, dy, dx, dw, db);
  backward_weight(dy, x, dw, db);
  if (dx) backward_data(dy, w, x, x_act, *dx);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
