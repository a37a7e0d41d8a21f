// Closed-form PCA on the GPU (see pca.hpp): float64 column sums and centring in small kernels, the
// scatter matrix by cuBLAS DSYRK over row chunks, its eigenpairs by cuSOLVER DSYEVD, and one block
// per component for the ordering, the sign rule and the float32 outputs.
#include "host/cuda/pca.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "host/error.hpp"
#include "host/op_checks.hpp"

// `what` names the shapes, so that a failure says which fit it was; CUVAE_FAIL adds file:line.
#define CUVAE_PCA_CUDA(call, what)                                                                     \
  do {                                                                                                 \
    if (const cudaError_t e_ = (call); e_ != cudaSuccess)                                              \
      CUVAE_FAIL(std::string("CUDA error: ") + #call + ": " + cudaGetErrorName(e_) + ": " +            \
                 cudaGetErrorString(e_) + " (" + (what) + ")");                                        \
  } while (0)
#define CUVAE_PCA_CUBLAS(call, what)                                                                   \
  do {                                                                                                 \
    if (const cublasStatus_t s_ = (call); s_ != CUBLAS_STATUS_SUCCESS)                                 \
      CUVAE_FAIL(std::string("cuBLAS error: ") + #call + ": " + cublasGetStatusString(s_) + " (" +     \
                 (what) + ")");                                                                        \
  } while (0)
#define CUVAE_PCA_CUSOLVER(call, what)                                                                 \
  do {                                                                                                 \
    if (const cusolverStatus_t s_ = (call); s_ != CUSOLVER_STATUS_SUCCESS)                             \
      CUVAE_FAIL(std::string("cuSOLVER error: ") + #call + ": " + cusolver_status_name(s_) + " (" +    \
                 (what) + ")");                                                                        \
  } while (0)

namespace cuvae::cuda {
namespace {

constexpr int kThreads = 256;

// cuSOLVER has no status-to-string function.
const char* cusolver_status_name(cusolverStatus_t s) {
  switch (s) {
    case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
    case CUSOLVER_STATUS_INVALID_WORKSPACE: return "CUSOLVER_STATUS_INVALID_WORKSPACE";
    default: return "cusolverStatus_t (other)";
  }
}

// Handles and scratch memory owned for the length of one call. Each constructor only acquires, so a
// later failure (an exception) still releases everything acquired before it.
struct BlasHandle {
  cublasHandle_t h = nullptr;
  explicit BlasHandle(const std::string& what) { CUVAE_PCA_CUBLAS(cublasCreate(&h), what); }
  ~BlasHandle() { cublasDestroy(h); }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
};

struct SolverHandle {
  cusolverDnHandle_t h = nullptr;
  explicit SolverHandle(const std::string& what) { CUVAE_PCA_CUSOLVER(cusolverDnCreate(&h), what); }
  ~SolverHandle() { cusolverDnDestroy(h); }
  SolverHandle(const SolverHandle&) = delete;
  SolverHandle& operator=(const SolverHandle&) = delete;
};

// Stream-ordered device memory: freed on `stream` after the work queued before the free.
template <class T>
class DeviceArray {
 public:
  DeviceArray(std::size_t count, cudaStream_t stream, const std::string& what) : stream_(stream) {
    CUVAE_PCA_CUDA(cudaMallocAsync(reinterpret_cast<void**>(&p_), count * sizeof(T), stream), what);
  }
  ~DeviceArray() { cudaFreeAsync(p_, stream_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  cudaStream_t stream_;
};

// Column sums in float64: thread j of block (bx, by) adds column j over the block's rows (a warp reads
// consecutive columns of one row, so the reads coalesce), then one atomic per thread.
__global__ void column_sums(const float* x, std::int64_t N, int D, std::int64_t rows_per_block, double* sums) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= D) return;
  const std::int64_t begin = blockIdx.y * rows_per_block;
  const std::int64_t end = begin + rows_per_block < N ? begin + rows_per_block : N;
  double acc = 0;
  for (std::int64_t r = begin; r < end; ++r) acc += x[r * D + j];
  atomicAdd(sums + j, acc);
}

// mean64 = sums / N; flags a non-finite column (a float's sum cannot overflow a double, so that is
// non-finite input).
__global__ void finish_mean(double* mean64, std::int64_t N, int D, int* non_finite) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= D) return;
  const double m = mean64[j] / static_cast<double>(N);
  if (!isfinite(m)) *non_finite = 1;
  mean64[j] = m;
}

__global__ void centre(const float* x, std::int64_t count, int D, const double* mean64, double* xc) {
  const std::int64_t total = count * D, stride = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total; i += stride)
    xc[i] = static_cast<double>(x[i]) - mean64[i % D];
}

__global__ void to_float(const double* src, int n, float* dst) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = static_cast<float>(src[i]);
}

// Block i: component i = eigenvector D-1-i (DSYEVD sorts ascending; column-major, so contiguous),
// rounded to float32, then negated if its largest-magnitude float (the first of equals) is negative.
__global__ void finish_components(const double* vectors, const double* eigenvalues, int D, double divisor,
                                  float* components, float* variance) {
  const int i = blockIdx.x, t = threadIdx.x;
  const double* v = vectors + static_cast<std::size_t>(D - 1 - i) * D;
  __shared__ float best[kThreads];
  __shared__ int where[kThreads];
  float b = -1.f;
  int w = D;
  for (int j = t; j < D; j += kThreads) {
    const float a = fabsf(static_cast<float>(v[j]));
    if (a > b) b = a, w = j;  // strict, ascending j: the first of equals within the thread
  }
  best[t] = b, where[t] = w;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s && (best[t + s] > best[t] || (best[t + s] == best[t] && where[t + s] < where[t])))
      best[t] = best[t + s], where[t] = where[t + s];
    __syncthreads();
  }
  const float sign = static_cast<float>(v[where[0]]) < 0.f ? -1.f : 1.f;
  float* row = components + static_cast<std::size_t>(i) * D;
  for (int j = t; j < D; j += kThreads) row[j] = sign * static_cast<float>(v[j]);
  if (t == 0) variance[i] = static_cast<float>(eigenvalues[D - 1 - i] / divisor);
}

// Blocks of kThreads to cover n threads, at most `cap` (grid-stride kernels loop over the rest).
int blocks_for(std::int64_t n, std::int64_t cap) {
  return static_cast<int>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, cap));
}

}  // namespace

void pca_fit(cudaStream_t stream, const Tensor& x, int K, const Tensor& mean, const Tensor& components,
             const Tensor& variance) {
  checks::pca_fit("cuda::pca_fit", Device::cuda, x, K, mean, components, variance);
  const std::int64_t N = x.shape[0];
  const int D = static_cast<int>(x.shape[1]);
  const auto d_size = static_cast<std::size_t>(D);
  const std::string what = "cuda::pca_fit of x " + x.str() + ", K = " + std::to_string(K);

  BlasHandle blas(what);
  CUVAE_PCA_CUBLAS(cublasSetStream(blas.h, stream), what);
  SolverHandle solver(what);
  CUVAE_PCA_CUSOLVER(cusolverDnSetStream(solver.h, stream), what);

  // status[0]: DSYEVD's info; status[1]: the non-finite flag.
  DeviceArray<int> status(2, stream, what);
  DeviceArray<double> mean64(d_size, stream, what);
  CUVAE_PCA_CUDA(cudaMemsetAsync(status.get(), 0, 2 * sizeof(int), stream), what);
  CUVAE_PCA_CUDA(cudaMemsetAsync(mean64.get(), 0, d_size * sizeof(double), stream), what);
  const int row_blocks = blocks_for(N, 65535);
  const std::int64_t rows_per_block = (N + row_blocks - 1) / row_blocks;
  column_sums<<<dim3(blocks_for(D, 1 << 30), row_blocks), kThreads, 0, stream>>>(x.data, N, D, rows_per_block,
                                                                                  mean64.get());
  CUVAE_PCA_CUDA(cudaGetLastError(), what);
  finish_mean<<<blocks_for(D, 1 << 30), kThreads, 0, stream>>>(mean64.get(), N, D, status.get() + 1);
  CUVAE_PCA_CUDA(cudaGetLastError(), what);
  int non_finite = 0;
  CUVAE_PCA_CUDA(cudaMemcpyAsync(&non_finite, status.get() + 1, sizeof(int), cudaMemcpyDeviceToHost, stream), what);
  CUVAE_PCA_CUDA(cudaStreamSynchronize(stream), what);
  if (non_finite) throw Error("cuda::pca_fit: x " + x.str() + " has non-finite values");

  // Scatter matrix S = Xc^T Xc. Row-major centred rows [count, D] are a column-major D x count
  // matrix A, and S = A A^T; its lower triangle (column-major) is what DSYEVD reads. Chunks of at
  // most 128 MiB of float64 rows keep the scratch memory bounded whatever N.
  const std::int64_t chunk = std::clamp<std::int64_t>((std::int64_t{1} << 24) / D, 1, N);
  DeviceArray<double> xc(static_cast<std::size_t>(chunk) * d_size, stream, what);
  DeviceArray<double> scatter(d_size * d_size, stream, what);
  for (std::int64_t begin = 0; begin < N; begin += chunk) {
    const std::int64_t count = std::min(chunk, N - begin);
    centre<<<blocks_for(count * D, 4096), kThreads, 0, stream>>>(x.data + begin * D, count, D, mean64.get(), xc.get());
    CUVAE_PCA_CUDA(cudaGetLastError(), what);
    const double one = 1.0, beta = begin == 0 ? 0.0 : 1.0;
    CUVAE_PCA_CUBLAS(cublasDsyrk(blas.h, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, D, static_cast<int>(count), &one,
                                 xc.get(), D, &beta, scatter.get(), D),
                     what);
  }

  // All D eigenpairs (ascending) by divide and conquer: for D in the hundreds the tridiagonal
  // reduction dominates either way, and DSYEVD is cuSOLVER's most used symmetric solver.
  DeviceArray<double> eigenvalues(d_size, stream, what);
  int lwork = 0;
  CUVAE_PCA_CUSOLVER(cusolverDnDsyevd_bufferSize(solver.h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, D,
                                                 scatter.get(), D, eigenvalues.get(), &lwork),
                     what);
  DeviceArray<double> work(static_cast<std::size_t>(std::max(lwork, 1)), stream, what);
  CUVAE_PCA_CUSOLVER(cusolverDnDsyevd(solver.h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, D, scatter.get(), D,
                                      eigenvalues.get(), work.get(), lwork, status.get()),
                     what);
  int info = 0;
  CUVAE_PCA_CUDA(cudaMemcpyAsync(&info, status.get(), sizeof(int), cudaMemcpyDeviceToHost, stream), what);
  CUVAE_PCA_CUDA(cudaStreamSynchronize(stream), what);
  if (info != 0)
    throw Error("cuda::pca_fit: cusolverDnDsyevd failed (info = " + std::to_string(info) + ") for x " + x.str());

  to_float<<<blocks_for(D, 1 << 30), kThreads, 0, stream>>>(mean64.get(), D, mean.data);
  CUVAE_PCA_CUDA(cudaGetLastError(), what);
  finish_components<<<K, kThreads, 0, stream>>>(scatter.get(), eigenvalues.get(), D, static_cast<double>(N - 1),
                                                 components.data, variance.data);
  CUVAE_PCA_CUDA(cudaGetLastError(), what);
}

}  // namespace cuvae::cuda
