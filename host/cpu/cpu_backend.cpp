// The CPU backend: host memory, the fast ops of host/cpu/fast/ where the profile asked for them
// and the reference ops of host/cpu/ for the rest, behind the Backend interface.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <new>
#include <thread>
#include <vector>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"
#include "host/order.hpp"

namespace cuvae {
namespace {

class CpuBackend final : public Backend {
 public:
  // One pool runs every parallel loop, the GEMMs' blocks included, so OpenBLAS runs each call on
  // the thread that makes it (host/cpu/fast/pool.hpp); only PCA's eigen-solver, outside training,
  // uses OpenBLAS's own threads.
  explicit CpuBackend(int threads) : pool_(threads) { openblas_set_num_threads(1); }
  Device device() const override { return Device::cpu; }
  // The OpenBLAS kernel family is worth seeing: an unrecognised CPU falls back to slow SSE3
  // kernels ("Prescott"); OPENBLAS_CORETYPE overrides the choice.
  std::string describe() const override {
    return "cpu (OpenBLAS " + std::string(openblas_get_corename()) + ", " + std::to_string(pool_.threads()) + " threads)";
  }

  float* allocate(std::int64_t count) override {
    CUVAE_CHECK(count > 0, "allocate " + std::to_string(count) + " floats");
    std::size_t bytes = (static_cast<std::size_t>(count) * sizeof(float) + 63) / 64 * 64;
    // Refused before asking when it cannot fit (overcommit would grant it and the OOM killer end the run).
    const double ram = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    char gb[96];
    std::snprintf(gb, sizeof gb, "%.2f GB (%zu bytes)", static_cast<double>(bytes) / 1e9, bytes);
    if (ram > 0 && static_cast<double>(bytes) > ram)
      throw Error(std::string("cpu: cannot allocate ") + gb + ", more than this machine's " +
                  std::to_string(static_cast<long long>(ram / 1e9 + 0.5)) + " GB of memory");
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw Error(std::string("cpu: out of memory allocating ") + gb);
    return static_cast<float*>(p);
  }
  void release(float* p) noexcept override { std::free(p); }
  void to_device(const Tensor& dst, const float* host) override {
    std::memcpy(dst.data, host, static_cast<std::size_t>(dst.numel()) * sizeof(float));
  }
  void to_host(float* host, const Tensor& src) override {
    std::memcpy(host, src.data, static_cast<std::size_t>(src.numel()) * sizeof(float));
  }
  void fill(const Tensor& t, float value) override { std::fill(t.data, t.data + t.numel(), value); }
  void synchronize() override {}

  void set_position(std::int64_t step, std::int64_t batch, std::int64_t epoch) override {
    step_ = step, batch_ = batch, epoch_ = epoch;
  }
  void advance_position() override { ++step_, ++batch_; }
  void set_schedule(const Schedule& schedule) override { schedule_ = schedule; }
  void update_step_scalars() override { scalars_ = step_scalars(schedule_, step_, epoch_); }
  void shuffle(std::int64_t n, RngKey key) override { order_ = shuffled_indices(n, key); }
  void gather_batch(const Tensor& src, std::int64_t batch_size, const Tensor& dst) override {
    const std::int64_t first = batch_ * batch_size;
    if (first < 0 || first + dst.rows() > static_cast<std::int64_t>(order_.size()))
      CUVAE_FAIL("gather_batch: rows [" + std::to_string(first) + ", " + std::to_string(first + dst.rows()) +
                 ") outside the order of " + std::to_string(order_.size()));
    cpu::gather_rows(src, std::span(order_).subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(dst.rows())), dst);
  }
  void record_terms(const Tensor& terms, const Tensor& history) override {
    checks::record_terms(terms, history);
    CUVAE_CHECK(batch_ >= 0 && batch_ < history.rows(),
                "record_terms: batch " + std::to_string(batch_) + " outside the history " + history.str());
    std::copy(terms.data, terms.data + terms.numel(), history.data + terms.numel() * batch_);
  }
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y) override {
    cpu::fast::linear_forward(pool_, x, w, b, act, y);
  }
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                      const Tensor& y) override {
    cpu::fast::conv2d_forward(pool_, x, w, b, s, act, y);
  }
  void conv2d_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                       const Tensor* dx, const Tensor& dw, const Tensor& db) override {
    cpu::fast::conv2d_backward(pool_, x, x_act, w, dy, s, dx, dw, db);
  }
  void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                       const Tensor& dw, const Tensor& db) override {
    cpu::fast::linear_backward(pool_, x, x_act, w, dy, dx, dw, db);
  }
  void reparameterize(const Tensor& mu, const Tensor& logvar, RngKey key, bool at_step, const Tensor& eps,
                      const Tensor& z) override {
    if (at_step) key.stream += static_cast<std::uint64_t>(step_);
    cpu::fast::reparameterize(pool_, mu, logvar, key, eps, z);
  }
  void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                               const Tensor& dlogvar) override {
    cpu::fast::reparameterize_backward(pool_, logvar, eps, dz, dmu, dlogvar);
  }
  void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                  const Tensor* rows, const Tensor& term) override {
    cpu::fast::likelihood(pool_, kind, sigma, pred, target, dpred, rows, term);
  }
  void kl_divergence(const Tensor& mu, const Tensor& logvar, Scalar weight, const Tensor* dmu, const Tensor* dlogvar,
                     const Tensor* rows, const Tensor& term) override {
    cpu::fast::kl_divergence(pool_, mu, logvar, value(weight), dmu, dlogvar, rows, term);
  }
  void corrupt(NoiseKind kind, Scalar level, const Tensor& x, RngKey key, bool at_step, const Tensor& out) override {
    if (at_step) key.stream += static_cast<std::uint64_t>(step_);
    cpu::corrupt(kind, value(level), x, key, out);
  }
  void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v) override {
    cpu::fast::adam_step(pool_, params, grads, m, v, scalars_);
  }
  void sigmoid(const Tensor& x, const Tensor& y) override { cpu::sigmoid(x, y); }
  void copy(const Tensor& src, const Tensor& dst) override { cpu::copy(src, dst); }
  void normal(RngKey key, const Tensor& out) override { cpu::fast::normal(pool_, key, out); }
  void pca_fit(const Tensor& x, int K, const Tensor& mean, const Tensor& components,
               const Tensor& variance) override {
    struct BlasThreads {  // OpenBLAS's threads for the one call, back to 1 however it ends
      explicit BlasThreads(int n) { openblas_set_num_threads(n); }
      ~BlasThreads() { openblas_set_num_threads(1); }
    } blas(pool_.threads());
    cpu::pca_fit(x, K, mean, components, variance);
  }
  // softmax cross-entropy
  void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                    const Tensor& terms) override {
    cpu::softmax_xent(logits, labels, dlogits, rows, terms);
  }
  // cvae
  void one_hot(const Tensor& labels, const Tensor& out) override { cpu::one_hot(labels, out); }

  // IWAE
  void repeat_rows(const Tensor& src, int K, const Tensor& dst) override { cpu::fast::repeat_rows(pool_, src, K, dst); }
  void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                  const Tensor& bound, const Tensor* elbo) override {
    cpu::fast::iwae_bound(pool_, recon, eps, z, logvar, K, bound, elbo);
  }

  // BatchNorm2d (host/cpu/batchnorm.cpp), its channels on the pool
  void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, float momentum,
                           float eps, const Tensor& running_mean, const Tensor& running_var, const Tensor& save_mean,
                           const Tensor& save_invstd, Activation act, const Tensor& y) override {
    cpu::batchnorm2d_forward(x, gamma, beta, training, momentum, eps, running_mean, running_var, save_mean, save_invstd,
                             act, y, &pool_);
  }
  void batchnorm2d_backward(const Tensor& x, const Tensor& y, Activation act, const Tensor& dy, const Tensor& gamma,
                            const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                            const Tensor& dbeta) override {
    cpu::batchnorm2d_backward(x, y, act, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, &pool_);
  }

 private:
  // A scalar operand's value: the step's own (update_step_scalars) or the constant.
  float value(Scalar s) const {
    return s.slot == StepScalar::none ? s.value : reinterpret_cast<const float*>(&scalars_)[static_cast<int>(s.slot)];
  }

  cpu::fast::Pool pool_;
  std::int64_t step_ = 1, batch_ = 0, epoch_ = 1;
  Schedule schedule_;
  StepScalars scalars_ = step_scalars(Schedule{}, 1, 1);
  std::vector<std::int64_t> order_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

std::string blas_kernel_note(std::string_view corename, bool avx2, bool avx512) {
  if (corename != "Prescott" || !(avx2 || avx512)) return "";
  const char* better = avx512 ? "SkylakeX" : "Haswell";
  return std::string("OpenBLAS runs its SSE3 (Prescott) kernels: it does not know this CPU model, which has ") +
         (avx512 ? "AVX-512" : "AVX2") + "; OPENBLAS_CORETYPE=" + better +
         " in the environment selects faster ones (CPU training ran 1.5-2x faster with the AVX-512 ones"
         " on such a machine)";
}

std::string blas_kernel_note() {
#if defined(__x86_64__)
  return blas_kernel_note(openblas_get_corename(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
                          __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                              __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"));
#else
  return "";
#endif
}

}  // namespace cuvae
