// host/cuda/cuda_backend.cu: the CUDA backend (see cuda_backend.hpp): launchers for kernels/
// (shape checks, grid choice, an NVTX range per op), the GEMMs through host/cuda/gemm.hpp, the
// convolutions through host/cuda/conv.hpp, BatchNorm2d through host/cuda/batchnorm.hpp, a device
// memory arena, the step position on the device and the training step as a CUDA graph.
// One source, two builds (every difference is in host/cuda/device_api.hpp):
//   nvcc, into cuvae_lib when CUVAE_CUDA=ON: the GPU backend;
//   the host compiler, into cuvae_simt_backend (host/cuda/cuda_backend_simt.cpp includes this
//   file with CUVAE_SIMT defined): the same backend on the SIMT runtime, for CI without a GPU.
//
// Memory: an arena over a few large device allocations (64 MiB or the request, whichever is
// larger), reserved as needed up to a limit and reused through a free list; a training step that
// was warmed up allocates nothing. Graphs: run_step runs a shape's first step directly (warm-up:
// lazy workspaces, GEMM auto-tuning), captures the second and replays the graph from then on.
// A graph bakes in the buffers it used, so releasing any buffer older than a graph drops it.
#include "host/cuda/cuda_backend.hpp"

#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "host/cpu/ops.hpp"
#include "host/cuda/arena.hpp"
#include "host/cuda/batchnorm.hpp"
#include "host/cuda/conv.hpp"
// --conv cudnn: the GPU build with cuDNN found (the SIMT device has none).
#if defined(CUVAE_HAVE_CUDNN) && !defined(CUVAE_SIMT)
#define CUVAE_CUDNN_CONV 1
#include "host/cuda/cudnn_conv.hpp"
#endif
#include "host/cuda/device_api.hpp"
#include "host/cuda/op_scope.hpp"
#include "host/op_checks.hpp"
#include "host/order.hpp"
#include "kernels/adam.cuh"
#include "kernels/data.cuh"
#include "kernels/iwae.cuh"  // IWAE
#include "kernels/latent.cuh"
#include "kernels/loss.cuh"
#include "kernels/xent.cuh"  // softmax cross-entropy
#include "kernels/labels.cuh"  // cvae: one-hot labels
#if !defined(CUVAE_SIMT)
#include "host/cuda/pca.hpp"
#endif

#ifndef CUVAE_CUDA_ARCHS  // set by host/cuda/cuda_backend.cmake from CMAKE_CUDA_ARCHITECTURES
#define CUVAE_CUDA_ARCHS "(unknown)"
#endif

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {
namespace {

namespace api = device_api;
namespace kd = kernels::data;
namespace kl = kernels::latent;
namespace kloss = kernels::loss;
namespace ka = kernels::adam;

constexpr int kThreads = 256;  // block size of the grid-stride kernels

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }
bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

std::size_t default_limit() {
  std::size_t free = 0, total = 0;
  api::memory_info(free, total);
  return free / 10 * 9;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, const CudaOptions& options)
      : options_(options),
        info_(api::open_device(device)),
        label_(std::string(api::kSimulated ? "simt:" : "cuda:") + std::to_string(device)),
        arena_(label_, options.memory_limit_bytes ? options.memory_limit_bytes : default_limit()),
        gemm_(stream_.get(), options.precision, options.gemm),
        conv_(stream_.get(), options.precision,
              static_cast<float*>(arena_.allocate(Conv::kWorkspaceFloats * sizeof(float))), Conv::kWorkspaceFloats) {
    // cuDNN: asked for, or automatic on a GPU for fp32 and tf32; its workspace reserved here.
    if (options.conv == ConvImpl::cudnn ||
        (options.conv == ConvImpl::automatic && !api::kSimulated && options.precision != Precision::bf16)) {
#if defined(CUVAE_CUDNN_CONV)
      cudnn_ = std::make_unique<CudnnConv>(stream_.get(), options.precision, arena_.allocate(CudnnConv::kWorkspaceBytes));
#elif defined(CUVAE_SIMT)
      throw Error("--conv cudnn: the SIMT device has no cuDNN (use --conv custom or auto)");
#else
      if (options.conv == ConvImpl::cudnn)
        throw Error("--conv cudnn: this cuvae was built without cuDNN (configure with cuDNN 9 found: CUDNN_ROOT)");
#endif
    }
    pos_ = static_cast<kd::StepPosition*>(arena_.allocate(sizeof(kd::StepPosition)));
    fault_ = static_cast<kd::DeviceFault*>(arena_.allocate(sizeof(kd::DeviceFault)));
    loss_arrived_ = static_cast<unsigned*>(arena_.allocate(sizeof(unsigned)));
    xent_correct_ = static_cast<unsigned*>(arena_.allocate(sizeof(unsigned)));  // softmax cross-entropy
    schedule_ = static_cast<Schedule*>(arena_.allocate(sizeof(Schedule)));
    scalars_ = static_cast<StepScalars*>(arena_.allocate(sizeof(StepScalars)));
    const kd::DeviceFault none{};
    api::copy_to_device(fault_, &none, sizeof none, stream_.get(), "backend start-up");
    const unsigned zero = 0;
    api::copy_to_device(loss_arrived_, &zero, sizeof zero, stream_.get(), "backend start-up");
    api::copy_to_device(xent_correct_, &zero, sizeof zero, stream_.get(), "backend start-up");  // softmax cross-entropy
    const kd::StepPosition start{1, 0, 0, 1};
    api::copy_to_device(pos_, &start, sizeof start, stream_.get(), "backend start-up");
    set_schedule(Schedule{});
    const StepScalars first = step_scalars(Schedule{}, 1, 1);
    api::copy_to_device(scalars_, &first, sizeof first, stream_.get(), "backend start-up");
    api::synchronize_device("backend start-up");  // the GEMM's set-up ran on the default stream
  }

  ~CudaBackend() override {
    try {
      api::synchronize(stream_.get(), "");
    } catch (const Error&) {  // a failed kernel was reported (or will not be): free what we can
    }
    steps_.clear();
  }

  Device device() const override { return Device::cuda; }

  std::string describe() const override {
    std::string s = label_ + " " + info_.name;
    if (!api::kSimulated) s += " (sm_" + std::to_string(info_.major) + std::to_string(info_.minor) + ")";
    return s + ", " + gemm_.describe() + ", " + conv_describe() + (options_.graphs ? ", graphs" : ", no graphs");
  }

  // ---- memory ----
  float* allocate(std::int64_t count) override {
    CUVAE_CHECK(count > 0, "allocate " + std::to_string(count) + " floats");
    refuse_in_capture("allocate(" + std::to_string(count) + " floats)");
    return static_cast<float*>(arena_.allocate(static_cast<std::size_t>(count) * sizeof(float)));
  }

  void release(float* p) noexcept override {
    if (!p) return;
    drop_graphs_using(arena_.release(p));
  }

  void to_device(const Tensor& dst, const float* host) override {
    refuse_in_capture("to_device " + dst.str());
    api::copy_to_device(dst.data, host, bytes(dst), stream_.get(), "to_device " + dst.str());
  }

  void to_host(float* host, const Tensor& src) override {
    refuse_in_capture("to_host " + src.str());
    api::copy_to_host_async(host, src.data, bytes(src), stream_.get(), "to_host " + src.str());
    check_faults("to_host " + src.str());
  }

  void fill(const Tensor& t, float value) override {
    const OpScope op("fill", shapes_text({{"t", &t}}));
    const long long n = t.numel();
    if (n == 0) return;
    CUVAE_LAUNCH(op, kd::fill, dim3(grid_stride_blocks(n)), dim3(kThreads), 0, stream(), t.data, n, value);
  }

  void synchronize() override {
    refuse_in_capture("synchronize");
    check_faults("synchronize");
  }

  // ---- the training-step position ----
  void set_position(std::int64_t step, std::int64_t batch, std::int64_t epoch) override {
    const OpScope op("set_position", "");
    CUVAE_LAUNCH(op, kd::set_position, dim3(1), dim3(1), 0, stream(), pos_, step, batch, epoch);
  }

  void set_schedule(const Schedule& schedule) override {
    refuse_in_capture("set_schedule");
    api::copy_to_device(schedule_, &schedule, sizeof schedule, stream(), "set_schedule");
  }

  void update_step_scalars() override {
    const OpScope op("update_step_scalars", "");
    CUVAE_LAUNCH(op, kd::update_step_scalars, dim3(1), dim3(1), 0, stream(), schedule_, pos_, scalars_);
  }

  void reserve_rows(std::int64_t rows) override {
    refuse_in_capture("reserve_rows");
    if (rows <= row_sums_capacity_) return;
    if (row_sums_) release(reinterpret_cast<float*>(row_sums_));
    row_sums_ = nullptr;
    row_sums_capacity_ = 0;
    row_sums_ = static_cast<double*>(arena_.allocate(static_cast<std::size_t>(rows) * sizeof(double)));
    row_sums_capacity_ = rows;
  }

  void advance_position() override {
    const OpScope op("advance_position", "");
    CUVAE_LAUNCH(op, kd::advance_position, dim3(1), dim3(1), 0, stream(), pos_);
  }

  void shuffle(std::int64_t n, RngKey key) override {
    const OpScope op("shuffle", "[" + std::to_string(n) + "]");
    refuse_in_capture(op.name());
    const Permutation p = epoch_permutation(n, key);
    const std::size_t count = p.n;
    if (!order_ || count > order_capacity_) {  // a new buffer: graphs that read the old one go with it
      if (order_) release(reinterpret_cast<float*>(order_));
      order_ = static_cast<int*>(arena_.allocate(std::max<std::size_t>(count, 1) * sizeof(int)));
      order_capacity_ = std::max<std::size_t>(count, 1);
    }
    CUVAE_LAUNCH(op, kd::shuffle_order, dim3(grid_stride_blocks(n)), dim3(kThreads), 0, stream(), p, order_, pos_);
  }

  void gather_batch(const Tensor& src, std::int64_t batch_size, const Tensor& dst) override {
    const OpScope op("gather_batch", shapes_text({{"src", &src}, {"dst", &dst}}));
    CUVAE_CHECK(src.shape.rank >= 1 && src.data && dst.data && dst.cols() == src.cols() && batch_size >= dst.rows() &&
                    src.dense() && src.dtype == dst.dtype,
                op.name() + ": batch size " + std::to_string(batch_size));
    CUVAE_CHECK(order_ != nullptr, op.name() + ": no order: call shuffle first");
    const long long rows = dst.rows(), cols = dst.cols();
    if (rows == 0 || cols == 0) return;
    const long long ld = dst.row_stride();
    const bool vec = cols % 4 == 0 && ld % 4 == 0 && aligned16(src.data) && aligned16(dst.data);
    const long long width = vec ? cols / 4 : cols;
    const int threads = static_cast<int>(std::min<long long>(kThreads, ceil_div(width, 32) * 32));
    const dim3 grid(static_cast<unsigned>(ceil_div(width, threads)), static_cast<unsigned>(std::min<long long>(rows, 65535)));
    CUVAE_LAUNCH(op, (vec ? kd::gather_rows_at_position<true> : kd::gather_rows_at_position<false>), grid, dim3(threads), 0, stream(), src.data, src.rows(), cols, order_, pos_,
                 batch_size, rows, dst.data, ld, fault_);
  }

  void record_terms(const Tensor& terms, const Tensor& history) override {
    const OpScope op("record_terms", shapes_text({{"terms", &terms}, {"history", &history}}));
    checks::record_terms(terms, history);
    CUVAE_CHECK(terms.numel() <= INT_MAX, op.name());
    CUVAE_LAUNCH(op, kd::record_terms_at_position, dim3(1), dim3(32), 0, stream(), terms.data,
                 static_cast<int>(terms.numel()), history.data, history.rows(), pos_, fault_);
  }

  void run_step(std::uint64_t shape_key, const std::function<void()>& step) override {
    if (!options_.graphs) return step();
    StepGraph& s = steps_[shape_key];
    if (!s.warmed_up) {  // first step of this shape: run it (lazy workspaces, GEMM auto-tuning)
      const OpScope op("step (warm-up)", std::to_string(shape_key));
      step();
      s.warmed_up = true;
      return;
    }
    if (!s.graph) {
      const OpScope op("step (capture)", std::to_string(shape_key));
      auto graph = std::make_unique<api::Graph>();
      capturing_ = true;
      try {
        graph->capture(stream(), step);
      } catch (...) {
        capturing_ = false;
        throw;
      }
      capturing_ = false;
      s.graph = std::move(graph);
      s.captured_at = arena_.last_serial();
    }
    const OpScope op("step (graph)", std::to_string(shape_key));
    s.graph->launch(stream(), step);
  }

  // ---- ops ----
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y) override {
    const OpScope op("linear_forward", shapes_text({{"x", &x}, {"w", &w}, {"y", &y}}));
    gemm_.linear_forward(x, w, b, act, y);
  }

  void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                       const Tensor& dw, const Tensor& db) override {
    const OpScope op("linear_backward", shapes_text({{"x", &x}, {"w", &w}, {"dy", &dy}, {"dx", dx}}));
    gemm_.linear_backward(x, x_act, w, dy, dx, dw, db);
  }

  // Conv2d / ConvTranspose2d: implicit GEMMs (host/cuda/conv.hpp, kernels/conv.cuh).
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                      const Tensor& y) override {
    const OpScope op("conv2d_forward", shapes_text({{"x", &x}, {"w", &w}, {"y", &y}}));
#if defined(CUVAE_CUDNN_CONV)
    if (cudnn_) return cudnn_->forward(x, w, b, s, act, y);
#endif
    conv_.forward(x, w, b, s, act, y);
  }
  void conv2d_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                       const Tensor* dx, const Tensor& dw, const Tensor& db) override {
    const OpScope op("conv2d_backward", shapes_text({{"x", &x}, {"w", &w}, {"dy", &dy}, {"dx", dx}}));
#if defined(CUVAE_CUDNN_CONV)
    if (cudnn_) return cudnn_->backward(x, x_act, w, dy, s, dx, dw, db);
#endif
    conv_.backward(x, x_act, w, dy, s, dx, dw, db);
  }

  // BatchNorm2d: host/cuda/batchnorm.hpp, kernels/batchnorm.cuh.
  void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, float momentum,
                           float eps, const Tensor& running_mean, const Tensor& running_var, const Tensor& save_mean,
                           const Tensor& save_invstd, Activation act, const Tensor& y) override {
    const OpScope op("batchnorm2d_forward", shapes_text({{"x", &x}, {"gamma", &gamma}}));
    cuda::batchnorm2d_forward(stream(), x, gamma, beta, training, momentum, eps, running_mean, running_var, save_mean,
                              save_invstd, act, y);
  }
  void batchnorm2d_backward(const Tensor& x, const Tensor& y, Activation act, const Tensor& dy, const Tensor& gamma,
                            const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                            const Tensor& dbeta) override {
    const OpScope op("batchnorm2d_backward", shapes_text({{"x", &x}, {"gamma", &gamma}}));
    cuda::batchnorm2d_backward(stream(), x, y, act, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  }

  void reparameterize(const Tensor& mu, const Tensor& logvar, RngKey key, bool at_step, const Tensor& eps,
                      const Tensor& z) override {
    const OpScope op("reparameterize", shapes_text({{"mu", &mu}, {"z", &z}}));
    checks::reparameterize(mu, logvar, eps, z);
    const long long B = z.rows(), L = z.cols();
    CUVAE_CHECK(L <= INT_MAX, op.name());
    const long long groups = ceil_div(B * L, 4);
    CUVAE_LAUNCH(op, kl::reparameterize_forward, dim3(grid_stride_blocks(groups)), dim3(kThreads), 0, stream(),
                 view(mu), view(logvar), B, static_cast<int>(L), key, at_step ? &pos_->step : nullptr, eps.data, view(z));
  }

  void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                               const Tensor& dlogvar) override {
    const OpScope op("reparameterize_backward", shapes_text({{"logvar", &logvar}, {"dz", &dz}}));
    checks::reparameterize_backward(logvar, eps, dz, dmu, dlogvar);
    const long long B = dz.rows(), L = dz.cols();
    CUVAE_CHECK(L <= INT_MAX, op.name());
    CUVAE_LAUNCH(op, kl::reparameterize_backward, dim3(grid_stride_blocks(B * L)), dim3(kThreads), 0, stream(),
                 view(logvar), eps.data, view(dz), B, static_cast<int>(L), view(dmu), view(dlogvar));
  }

  void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                  const Tensor* rows, const Tensor& term) override {
    const OpScope op("likelihood", shapes_text({{"pred", &pred}, {"target", &target}}));
    checks::likelihood(kind, sigma, pred, target, dpred, rows, term);
    const long long B = pred.rows(), D = pred.cols();
    if (B == 0) return fill(term, 0.f);  // no rows: the sum is zero, as on the CPU
    check_rows(op, B);
    auto vec_ok = [](const Tensor& t) { return t.row_stride() % 4 == 0 && aligned16(t.data); };
    const bool vec = D % 4 == 0 && vec_ok(pred) && vec_ok(target) && (!dpred || vec_ok(*dpred));
    const long long work = vec ? D / 4 : D;
    const float inv_sigma = 1.f / sigma, inv_sigma2 = 1.f / (sigma * sigma);
    const float log_norm = static_cast<float>(std::log(double(sigma) * std::sqrt(2.0 * 3.14159265358979323846)));
    const kl::View dp = dpred ? view(*dpred) : kl::View{nullptr, 0};
    float* rows_out = rows ? rows->data : nullptr;
    // Block size from the row length only, so a shape always sums in the same order.
    const int threads = work >= 512 ? 256 : work >= 128 ? 128 : 32;
    const bool gauss = kind == Likelihood::gaussian;
    using K = void (*)(kl::View, kl::View, long long, float, float, float, kl::View, double*, float*, unsigned*, float*);
    // [threads 256/128/32][vec][gaussian]
    static constexpr K table[3][2][2] = {
        {{kloss::likelihood<256, false, 0>, kloss::likelihood<256, false, 1>},
         {kloss::likelihood<256, true, 0>, kloss::likelihood<256, true, 1>}},
        {{kloss::likelihood<128, false, 0>, kloss::likelihood<128, false, 1>},
         {kloss::likelihood<128, true, 0>, kloss::likelihood<128, true, 1>}},
        {{kloss::likelihood<32, false, 0>, kloss::likelihood<32, false, 1>},
         {kloss::likelihood<32, true, 0>, kloss::likelihood<32, true, 1>}}};
    const K kernel = table[threads == 256 ? 0 : threads == 128 ? 1 : 2][vec][gauss];
    CUVAE_LAUNCH(op, kernel, dim3(static_cast<unsigned>(B)), dim3(static_cast<unsigned>(threads)), 0, stream(),
                 view(pred), view(target), D, inv_sigma, inv_sigma2, log_norm, dp, row_sums_, rows_out, loss_arrived_,
                 term.data);
  }

  void kl_divergence(const Tensor& mu, const Tensor& logvar, Scalar weight, const Tensor* dmu, const Tensor* dlogvar,
                     const Tensor* rows, const Tensor& term) override {
    const OpScope op("kl_divergence", shapes_text({{"mu", &mu}, {"logvar", &logvar}}));
    checks::kl_divergence(mu, logvar, dmu, dlogvar, rows, term);
    const long long B = mu.rows(), L = mu.cols();
    CUVAE_CHECK(L <= INT_MAX, op.name());
    if (B == 0) return fill(term, 0.f);
    check_rows(op, B);
    const int threads = L >= 128 ? 128 : 32;
    const auto kernel = threads == 128 ? kloss::kl_divergence<128> : kloss::kl_divergence<32>;
    CUVAE_LAUNCH(op, kernel, dim3(static_cast<unsigned>(B)), dim3(static_cast<unsigned>(threads)), 0, stream(),
                 view(mu), view(logvar), static_cast<int>(L), reinterpret_cast<const float*>(scalars_),
                 static_cast<int>(weight.slot), weight.value, dmu ? view(*dmu) : kl::View{nullptr, 0},
                 dlogvar ? view(*dlogvar) : kl::View{nullptr, 0}, row_sums_, rows ? rows->data : nullptr,
                 loss_arrived_, term.data);
  }

  void corrupt(NoiseKind kind, Scalar level, const Tensor& x, RngKey key, bool at_step, const Tensor& out) override {
    const OpScope op("corrupt", shapes_text({{"x", &x}}));
    checks::corrupt(kind, level, x, out);
    const long long B = x.rows(), D = x.cols();
    if (B * D == 0) return;
    const int code = kind == NoiseKind::mask ? kd::kNoiseMask : kind == NoiseKind::gaussian ? kd::kNoiseGaussian
                                                                                             : kd::kNoiseSaltPepper;
    CUVAE_LAUNCH(op, kd::corrupt, dim3(grid_stride_blocks(ceil_div(B * D, 4))), dim3(kThreads), 0, stream(), code,
                 x.data, x.row_stride(), B, D, key, at_step ? &pos_->step : nullptr,
                 reinterpret_cast<const float*>(scalars_), static_cast<int>(level.slot), level.value, out.data,
                 out.row_stride());
  }

  void pca_fit(const Tensor& x, int K, const Tensor& mean, const Tensor& components, const Tensor& variance) override {
    const OpScope op("pca_fit", shapes_text({{"x", &x}}));
    refuse_in_capture(op.name());
#if defined(CUVAE_SIMT)
    // The SIMT device's memory is host memory: the CPU solver (there is no cuSOLVER to simulate).
    auto host = [](Tensor t) { t.device = Device::cpu; return t; };
    cpu::pca_fit(host(x), K, host(mean), host(components), host(variance));
#else
    cuda::pca_fit(stream(), x, K, mean, components, variance);
#endif
  }

  // softmax cross-entropy
  void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                    const Tensor& terms) override {
    const OpScope op("softmax_xent", shapes_text({{"logits", &logits}, {"labels", &labels}}));
    checks::softmax_xent(logits, labels, dlogits, rows, terms);
    const long long B = logits.rows(), C = logits.cols();
    if (B == 0) return fill(terms, 0.f);  // no rows: the sums are zero, as on the CPU
    check_rows(op, B);
    // Block size from the class count only, so a shape always sums in the same order.
    const int threads = C >= 512 ? 256 : C >= 128 ? 128 : 32;
    const auto kernel = threads == 256   ? kernels::xent::softmax_xent<256>
                        : threads == 128 ? kernels::xent::softmax_xent<128>
                                         : kernels::xent::softmax_xent<32>;
    CUVAE_LAUNCH(op, kernel, dim3(static_cast<unsigned>(B)), dim3(static_cast<unsigned>(threads)), 0, stream(),
                 view(logits), labels.ints(), static_cast<int>(C), dlogits ? view(*dlogits) : kl::View{nullptr, 0},
                 row_sums_, rows ? rows->data : nullptr, loss_arrived_, xent_correct_, terms.data);
  }

  // cvae
  void one_hot(const Tensor& labels, const Tensor& out) override {
    const OpScope op("one_hot", shapes_text({{"labels", &labels}, {"out", &out}}));
    checks::one_hot(labels, out);
    const long long n = out.rows() * out.cols();
    if (n == 0) return;
    CUVAE_LAUNCH(op, kernels::labels::one_hot, dim3(grid_stride_blocks(n)), dim3(kThreads), 0, stream(),
                 labels.ints(), out.rows(), out.cols(), out.data, out.row_stride());
  }

  void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v) override {
    const OpScope op("adam_step", shapes_text({{"params", &params}}));
    checks::same_shape("adam_step", params, grads);
    checks::same_shape("adam_step", params, m);
    checks::same_shape("adam_step", params, v);
    const long long n = params.numel();
    if (n == 0) return;
    const bool vec = aligned16(params.data) && aligned16(grads.data) && aligned16(m.data) && aligned16(v.data);
    CUVAE_LAUNCH(op, (vec ? ka::adam_step<true> : ka::adam_step<false>),
                 dim3(grid_stride_blocks(vec ? std::max(1LL, n / 4) : n)), dim3(kThreads), 0, stream(), params.data,
                 grads.data, m.data, v.data, n, scalars_);
  }

  void sigmoid(const Tensor& x, const Tensor& y) override {
    const OpScope op("sigmoid", shapes_text({{"x", &x}}));
    checks::same_shape("sigmoid", x, y);
    checks::dense("sigmoid", "x", x), checks::dense("sigmoid", "y", y);
    const long long n = x.numel();
    if (n == 0) return;
    CUVAE_LAUNCH(op, kd::sigmoid, dim3(grid_stride_blocks(n)), dim3(kThreads), 0, stream(), x.data, y.data, n);
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    const OpScope op("copy", shapes_text({{"src", &src}, {"dst", &dst}}));
    checks::same_shape("copy", src, dst);
    const long long n = src.numel();
    if (n == 0) return;
    CUVAE_LAUNCH(op, kd::copy_rows, dim3(grid_stride_blocks(n)), dim3(kThreads), 0, stream(), src.data,
                 src.row_stride(), src.rows(), src.cols(), dst.data, dst.row_stride());
  }

  void normal(RngKey key, const Tensor& out) override {
    const OpScope op("normal", shapes_text({{"out", &out}}));
    checks::dense("normal", "out", out);
    const long long n = out.numel();
    if (n == 0) return;
    CUVAE_LAUNCH(op, kd::normal, dim3(grid_stride_blocks(ceil_div(n, 4))), dim3(kThreads), 0, stream(), key, out.data, n);
  }

  // IWAE
  void repeat_rows(const Tensor& src, int K, const Tensor& dst) override {
    const OpScope op("repeat_rows", shapes_text({{"src", &src}, {"dst", &dst}}));
    checks::repeat_rows(src, K, dst);
    const long long n = dst.numel();
    if (n == 0) return;
    CUVAE_LAUNCH(op, kernels::iwae::repeat_rows, dim3(grid_stride_blocks(n)), dim3(kThreads), 0, stream(), view(src),
                 src.rows(), src.cols(), K, view(dst));
  }
  void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                  const Tensor& bound, const Tensor* elbo) override {
    const OpScope op("iwae_bound", shapes_text({{"eps", &eps}, {"logvar", &logvar}}));
    checks::iwae_bound(recon, eps, z, logvar, K, bound, elbo);
    const long long n = logvar.rows(), L = logvar.cols();
    CUVAE_CHECK(L <= INT_MAX, op.name());
    if (n == 0) return;
    CUVAE_LAUNCH(op, kernels::iwae::iwae_bound<kThreads>, dim3(static_cast<unsigned>(std::min(n, 65535LL))),
                 dim3(kThreads), 0, stream(), recon.data, view(eps), view(z), view(logvar), n, K, static_cast<int>(L),
                 bound.data, elbo ? elbo->data : nullptr);
  }

 private:
  struct StepGraph {
    bool warmed_up = false;
    std::unique_ptr<api::Graph> graph;
    std::uint64_t captured_at = 0;  // arena serial at capture: the graph may use blocks up to it
  };

  api::Stream stream() const { return stream_.get(); }
  static kl::View view(const Tensor& t) { return kl::View{t.data, t.row_stride()}; }
  void check_rows(const OpScope& op, long long rows) const {
    if (rows > row_sums_capacity_)
      throw Error(op.name() + ": " + std::to_string(rows) + " rows, but the per-row workspace holds " +
                  std::to_string(row_sums_capacity_) + " (reserve_rows when the model is allocated)");
  }
  static std::size_t bytes(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * sizeof(float); }
  unsigned grid_stride_blocks(long long work) const {
    return static_cast<unsigned>(std::clamp<long long>(ceil_div(work, kThreads), 1, info_.grid_stride_blocks));
  }

  void refuse_in_capture(const std::string& what) const {
    if (capturing_)
      throw Error(label_ + ": " + what + " inside run_step: a captured training step may only launch ops "
                  "(allocate buffers before the step, read results after it)");
  }

  // Drops the graphs captured after block `serial` was handed out: they may read or write it.
  void drop_graphs_using(std::uint64_t serial) noexcept {
    if (serial == 0) return;
    for (auto& [key, s] : steps_)
      if (s.graph && s.captured_at >= serial) s.graph.reset();
  }

  // Waits for the stream, then raises the first fault a kernel recorded (bad batch indices).
  void check_faults(const std::string& what) {
    kd::DeviceFault f{};
    api::copy_to_host_async(&f, fault_, sizeof f, stream(), what);
    api::synchronize(stream(), what);
    if (f.code == kd::kFaultNone) return;
    const kd::DeviceFault none{};
    api::copy_to_device(fault_, &none, sizeof none, stream(), what);
    switch (f.code) {
      case kd::kFaultOrderRange:
        throw Error(label_ + ": gather_batch: batch row " + std::to_string(f.a) + " is outside the order of " +
                    std::to_string(f.b) + " rows (batch position past the epoch?)");
      case kd::kFaultRowRange:
        throw Error(label_ + ": gather_batch: order[" + std::to_string(f.c) + "] = " + std::to_string(f.a) +
                    " is outside the " + std::to_string(f.b) + " rows of the source");
      case kd::kFaultHistoryRange:
        throw Error(label_ + ": record_terms: batch " + std::to_string(f.a) + " is outside the history of " +
                    std::to_string(f.b) + " rows");
    }
    throw Error(label_ + ": a kernel reported fault " + std::to_string(f.code));
  }

  CudaOptions options_;
  api::DeviceInfo info_;
  std::string label_;
  StreamHolder stream_;
  Arena arena_;
  Gemm gemm_;
  Conv conv_;  // its split-K workspace is reserved from the arena at start-up (Conv::kWorkspaceFloats)
#if defined(CUVAE_CUDNN_CONV)
  std::unique_ptr<CudnnConv> cudnn_;  // --conv cudnn (or auto on a GPU); its workspace from the arena
  std::string conv_describe() const { return cudnn_ ? cudnn_->describe() : conv_.describe(); }
#else
  std::string conv_describe() const { return conv_.describe(); }
#endif
  kd::StepPosition* pos_ = nullptr;
  kd::DeviceFault* fault_ = nullptr;
  int* order_ = nullptr;
  std::size_t order_capacity_ = 0;
  double* row_sums_ = nullptr;  // the loss ops' per-row sums (reserve_rows)
  long long row_sums_capacity_ = 0;
  unsigned* loss_arrived_ = nullptr;  // the loss ops' count of rows done (zero between launches)
  unsigned* xent_correct_ = nullptr;  // softmax cross-entropy: its count of correct rows (zero between launches)
  Schedule* schedule_ = nullptr;      // the run's schedule (set_schedule)
  StepScalars* scalars_ = nullptr;    // the step's scalars (update_step_scalars)
  bool capturing_ = false;
  std::map<std::uint64_t, StepGraph> steps_;
};

}  // namespace

std::string cuda_unavailable_reason(int device) {
  return api::unavailable_reason(device, reinterpret_cast<const void*>(&kd::fill), CUVAE_CUDA_ARCHS);
}

std::unique_ptr<Backend> make_cuda_backend(int device, const CudaOptions& options) {
  if (std::string why = cuda_unavailable_reason(device); !why.empty()) throw Error("cuda: " + why);
  return std::make_unique<CudaBackend>(device, options);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
