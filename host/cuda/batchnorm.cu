// host/cuda/batchnorm.cu: the launchers behind host/cuda/batchnorm.hpp (shape checks, block size,
// NVTX ranges) for kernels/batchnorm.cuh. One file, two builds, as host/cuda/conv.cu:
//   nvcc, into cuvae_host (CUVAE_CUDA=ON): the GPU build;
//   the host compiler against the SIMT runtime: host/cuda/batchnorm_simt.cpp #includes this file
//     with CUVAE_SIMT defined (cuvae_simt_backend).
#include "host/cuda/batchnorm.hpp"

#include <climits>
#include <string>

#include "host/cuda/launch_support.hpp"
#include "host/error.hpp"
#include "host/op_checks.hpp"
#include "kernels/batchnorm.cuh"

#if defined(__CUDACC__) && defined(CUVAE_SIMT)
#error "CUVAE_SIMT marks the host-compiler (SIMT) build of host/cuda/batchnorm.cu; nvcc builds the GPU one"
#elif !defined(__CUDACC__) && !defined(CUVAE_SIMT)
#error "host/cuda/batchnorm.cu built by the host compiler is the SIMT build: define CUVAE_SIMT (see host/cuda/batchnorm_simt.cpp)"
#endif

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {
namespace {

namespace kb = cuvae::kernels::batchnorm;

// Blocks of kSmall threads for channels of up to kSmallCount values, kLarge above.
constexpr int kSmall = 128, kLarge = 512;
constexpr long long kSmallCount = 2048;

// The geometry of a call: C, H*W and B * H*W; offsets inside the kernels are int per channel, and
// the whole batch must fit one (as conv.cu).
kb::BatchNormParams geometry(const char* op, const Tensor& x, const Tensor& gamma) {
  if (x.numel() > INT_MAX)
    throw Error(std::string(op) + ": x " + x.str() + " has more than 2^31 - 1 values in one call; split the batch");
  kb::BatchNormParams p{};
  p.channels = static_cast<int>(gamma.numel());
  p.plane = static_cast<int>(x.cols() / gamma.numel());
  p.count = static_cast<int>(x.rows()) * p.plane;
  return p;
}

}  // namespace

int batchnorm_threads(long long count) { return count <= kSmallCount ? kSmall : kLarge; }

void batchnorm2d_forward(cudaStream_t stream, const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training,
                         float momentum, float eps, const Tensor& running_mean, const Tensor& running_var,
                         const Tensor& save_mean, const Tensor& save_invstd, Activation act, const Tensor& y) {
  const char* op = "batchnorm2d_forward";
  checks::batchnorm2d_forward(x, gamma, beta, training, momentum, eps, running_mean, running_var, save_mean,
                              save_invstd, y);
  kb::BatchNormParams p = geometry(op, x, gamma);
  if (p.count == 0) return;  // eval on no images
  p.x = x.data, p.y = y.data, p.gamma = gamma.data, p.beta = beta.data;
  p.running_mean = running_mean.data, p.running_var = running_var.data;
  p.save_mean = save_mean.data, p.save_invstd = save_invstd.data;
  p.training = training, p.momentum = momentum, p.eps = eps, p.act = act_kind(act);
  const int threads = batchnorm_threads(p.count);
  const NvtxRange range(training ? "batchnorm.forward_train" : "batchnorm.forward_eval", p.channels, x.rows(), p.plane);
  launch_or_fail(op, threads == kSmall ? kb::batchnorm_forward<kSmall> : kb::batchnorm_forward<kLarge>,
                 dim3(static_cast<unsigned>(p.channels)), dim3(static_cast<unsigned>(threads)), stream, p);
}

void batchnorm2d_backward(cudaStream_t stream, const Tensor& x, const Tensor& y, Activation act, const Tensor& dy,
                          const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx,
                          const Tensor& dgamma, const Tensor& dbeta) {
  const char* op = "batchnorm2d_backward";
  checks::batchnorm2d_backward(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  kb::BatchNormParams p = geometry(op, x, gamma);
  p.x = x.data, p.act_out = y.data, p.dy = dy.data, p.dx = dx.data, p.gamma = gamma.data;
  p.save_mean = save_mean.data, p.save_invstd = save_invstd.data, p.dgamma = dgamma.data, p.dbeta = dbeta.data;
  p.act = act_kind(act);
  const int threads = batchnorm_threads(p.count);
  const NvtxRange range("batchnorm.backward", p.channels, x.rows(), p.plane);
  launch_or_fail(op, threads == kSmall ? kb::batchnorm_backward<kSmall> : kb::batchnorm_backward<kLarge>,
                 dim3(static_cast<unsigned>(p.channels)), dim3(static_cast<unsigned>(threads)), stream, p);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
