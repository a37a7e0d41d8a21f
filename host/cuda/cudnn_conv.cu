// host/cuda/cudnn_conv.cu: the cuDNN 9 convolutions behind host/cuda/cudnn_conv.hpp (GPU build only).
#include "host/cuda/cudnn_conv.hpp"

#include <cudnn.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "host/cuda/device_api.hpp"  // CUVAE_CUDA_CHECK
#include "host/cuda/launch_support.hpp"
#include "host/error.hpp"
#include "host/op_checks.hpp"
#include "kernels/conv_bias.cuh"  // channel_bias_act, times_derivative

#if defined(CUVAE_SIMT)
#error "host/cuda/cudnn_conv.cu is the GPU build's only: the SIMT device has no cuDNN"
#endif

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {
namespace {

namespace kb = cuvae::kernels::conv_bias;

#define CUVAE_CUDNN_CHECK(call, context)                                                                     \
  do {                                                                                                       \
    if (const cudnnStatus_t st_ = (call); st_ != CUDNN_STATUS_SUCCESS)                                       \
      ::cuvae::fail_at(__FILE__, __LINE__, std::string("cuDNN error: ") + #call + ": " + cudnnGetErrorString(st_) + \
                                               " (" + std::string(context) + ")");                           \
  } while (0)

constexpr int kThreads = 256;
unsigned blocks_for(long long count) { return static_cast<unsigned>((count + kThreads - 1) / kThreads); }

cudnnTensorDescriptor_t tensor4d(int n, int c, int h, int w, const std::string& what) {
  cudnnTensorDescriptor_t d = nullptr;
  CUVAE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d), what);
  CUVAE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w), what);
  return d;
}

// The fastest-ranked deterministic algorithm of a _v7 heuristics list whose workspace fits.
template <class Perf>
auto pick(const std::vector<Perf>& perf, int returned, std::size_t workspace, const std::string& what) {
  for (int i = 0; i < returned; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        perf[i].memory <= workspace)
      return perf[i].algo;
  CUVAE_FAIL("cuDNN offers no deterministic algorithm within " + std::to_string(workspace >> 20) + " MiB for " + what);
}

// The descriptors of one layer shape at one batch size, and its three algorithms.
struct Plan {
  cudnnTensorDescriptor_t big = nullptr, small = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t down{};
  cudnnConvolutionBwdDataAlgo_t up{};
  cudnnConvolutionBwdFilterAlgo_t wgrad{};
};

}  // namespace

struct CudnnConv::Impl {
  cudnnHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  Precision precision = Precision::fp32;
  void* workspace = nullptr;
  std::map<std::tuple<int, int, int, int, int, int, int, int, int, int, int, int, int, bool>, Plan> plans;

  Plan& plan(const ConvShape& s, int batch, const std::string& what) {
    const auto key = std::make_tuple(batch, s.in_c, s.in_h, s.in_w, s.out_c, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw,
                                     s.oph, s.opw, s.transposed);
    if (auto it = plans.find(key); it != plans.end()) return it->second;
    Plan p;
    p.big = tensor4d(batch, s.big_c(), s.big_h(), s.big_w(), what);
    p.small = tensor4d(batch, s.small_c(), s.small_h(), s.small_w(), what);
    p.bias = tensor4d(1, s.out_c, 1, 1, what);
    CUVAE_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.filter), what);
    CUVAE_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.small_c(), s.big_c(),
                                                 s.kh, s.kw),
                      what);
    CUVAE_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv), what);
    CUVAE_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, s.ph, s.pw, s.sh, s.sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                                      CUDNN_DATA_FLOAT),
                      what);
    CUVAE_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, precision == Precision::tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
                      what);
    int n = 0, returned = 0;
    CUVAE_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &n), what);
    std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(static_cast<std::size_t>(n));
    CUVAE_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.big, p.filter, p.conv, p.small, n, &returned, fwd.data()),
                      what);
    p.down = pick(fwd, returned, kWorkspaceBytes, "down " + what);
    CUVAE_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &n), what);
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> bwd(static_cast<std::size_t>(n));
    CUVAE_CUDNN_CHECK(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, p.filter, p.small, p.conv, p.big, n, &returned, bwd.data()), what);
    p.up = pick(bwd, returned, kWorkspaceBytes, "up " + what);
    CUVAE_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &n), what);
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> wg(static_cast<std::size_t>(n));
    CUVAE_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, p.big, p.small, p.conv, p.filter, n, &returned, wg.data()), what);
    p.wgrad = pick(wg, returned, kWorkspaceBytes, "wgrad " + what);
    return plans.emplace(key, p).first->second;
  }

  // big -> small (a Conv2d's forward, a ConvTranspose2d's dgrad), overwriting `out`.
  void down(const Plan& p, const float* big, const float* w, float* out, const std::string& what) {
    const float one = 1.f, zero = 0.f;
    CUVAE_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, p.big, big, p.filter, w, p.conv, p.down, workspace,
                                              kWorkspaceBytes, &zero, p.small, out),
                      what);
  }
  // small -> big (a Conv2d's dgrad, a ConvTranspose2d's forward), overwriting `out`.
  void up(const Plan& p, const float* small, const float* w, float* out, const std::string& what) {
    const float one = 1.f, zero = 0.f;
    CUVAE_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &one, p.filter, w, p.small, small, p.conv, p.up, workspace,
                                                   kWorkspaceBytes, &zero, p.big, out),
                      what);
  }
};

CudnnConv::CudnnConv(cudaStream_t stream, Precision precision, void* workspace) : impl_(std::make_unique<Impl>()) {
  if (precision == Precision::bf16)
    throw Error("--conv cudnn: the cuDNN convolutions run fp32 or tf32, not bf16 (use --conv custom)");
  impl_->stream = stream, impl_->precision = precision, impl_->workspace = workspace;
  CUVAE_CUDNN_CHECK(cudnnCreate(&impl_->handle), "cuDNN handle");
  CUVAE_CUDNN_CHECK(cudnnSetStream(impl_->handle, stream), "cuDNN stream");
}

CudnnConv::~CudnnConv() {
  for (auto& [key, p] : impl_->plans) {
    cudnnDestroyTensorDescriptor(p.big), cudnnDestroyTensorDescriptor(p.small), cudnnDestroyTensorDescriptor(p.bias);
    cudnnDestroyFilterDescriptor(p.filter), cudnnDestroyConvolutionDescriptor(p.conv);
  }
  if (impl_->handle) cudnnDestroy(impl_->handle);
}

std::string CudnnConv::describe() const {
  const std::size_t v = cudnnGetVersion();
  return "cuDNN " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100) + " " +
         precision_name(impl_->precision) + " conv";
}

void CudnnConv::forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                        const Tensor& y) {
  checks::conv2d_forward(x, w, b, s, y);
  const int batch = static_cast<int>(x.rows());
  if (batch == 0) return;
  const std::string what = "conv2d_forward " + checks::conv_text(s) + ", x " + x.str();
  const Plan& p = impl_->plan(s, batch, what);
  // Conv2d: y = down(x); ConvTranspose2d: y = up(x); then + bias and the activation, one pass.
  if (s.transposed) impl_->up(p, x.data, w.data, y.data, what);
  else impl_->down(p, x.data, w.data, y.data, what);
  const long long count = static_cast<long long>(batch) * s.out_dim();
  launch_or_fail(what + ": bias and activation", kb::channel_bias_act, dim3(blocks_for(count)), dim3(kThreads), impl_->stream,
                 y.data, count, s.out_c, s.out_h() * s.out_w(), static_cast<const float*>(b.data), act_kind(act));
}

void CudnnConv::backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                         const Tensor* dx, const Tensor& dw, const Tensor& db) {
  checks::conv2d_backward(x, w, dy, s, dx, dw, db);
  const int batch = static_cast<int>(x.rows());
  const std::string what = "conv2d_backward " + checks::conv_text(s) + ", x " + x.str();
  if (batch == 0) {  // no images: dW = 0 and db = 0
    CUVAE_CUDA_CHECK(cudaMemsetAsync(dw.data, 0, dw.numel() * sizeof(float), impl_->stream), what);
    CUVAE_CUDA_CHECK(cudaMemsetAsync(db.data, 0, db.numel() * sizeof(float), impl_->stream), what);
    return;
  }
  const Plan& p = impl_->plan(s, batch, what);
  const float one = 1.f, zero = 0.f;
  // dW = wgrad(big, small): Conv2d (x, dy), ConvTranspose2d (dy, x); db from dy, the output's gradient.
  const float* big = s.transposed ? dy.data : x.data;
  const float* small = s.transposed ? x.data : dy.data;
  CUVAE_CUDNN_CHECK(cudnnConvolutionBackwardFilter(impl_->handle, &one, p.big, big, p.small, small, p.conv, p.wgrad,
                                                   impl_->workspace, kWorkspaceBytes, &zero, p.filter, dw.data),
                    what);
  CUVAE_CUDNN_CHECK(cudnnConvolutionBackwardBias(impl_->handle, &one, s.transposed ? p.big : p.small, dy.data, &zero,
                                                 p.bias, db.data),
                    what);
  if (!dx) return;
  // dx: Conv2d up(dy), ConvTranspose2d down(dy); then times act'(x).
  if (s.transposed) impl_->down(p, dy.data, w.data, dx->data, what);
  else impl_->up(p, dy.data, w.data, dx->data, what);
  if (x_act != Activation::none) {
    const long long count = static_cast<long long>(batch) * s.in_dim();
    launch_or_fail(what + ": times act'(x)", kb::times_derivative, dim3(blocks_for(count)), dim3(kThreads), impl_->stream,
                   dx->data, static_cast<const float*>(x.data), count, act_kind(x_act));
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
