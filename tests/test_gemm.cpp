// GEMM tests: every kernel version, layout and epilogue of host/cuda/gemm.hpp vs the CPU reference
// (host/cpu/linear.cpp, OpenBLAS), with outputs poisoned with NaN first.
// One source, two executables (tests/gemm.cmake):
//   test_gemm       the SIMT runtime (CUVAE_SIMT): the launcher and kernels built by the host
//                   compiler (host/cuda/gemm_simt.cpp, in cuvae_simt_backend); "device" memory is host memory.
//   test_gemm_cuda  the GPU build from cuvae_lib (CUVAE_GEMM_TEST_GPU); each case skips without a device.
// Run: ctest --test-dir build/<dir> -R gemm --output-on-failure
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "host/cpu/ops.hpp"
#include "host/cuda/gemm.hpp"
#include "kernels/simt/sanitizer.hpp"

#if defined(CUVAE_GEMM_TEST_GPU)
#include <cuda_runtime.h>
#define GEMM_SUITE GemmGpu
#elif defined(CUVAE_SIMT)
#define GEMM_SUITE GemmSimt
#else
#error "build test_gemm.cpp with CUVAE_SIMT (SIMT runtime) or CUVAE_GEMM_TEST_GPU (tests/gemm.cmake)"
#endif

namespace cuvae {
namespace {

using cuda::Gemm;
using cuda::GemmImpl;
using cuda::Precision;

#if defined(CUVAE_GEMM_TEST_GPU)
void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}
bool have_device() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}
#endif

// A matrix on the device under test, with its host copy.
class DeviceMatrix {
 public:
  DeviceMatrix(std::int64_t rows, std::int64_t cols) : shape_{rows, cols}, host_(static_cast<std::size_t>(rows * cols)) {
#if defined(CUVAE_GEMM_TEST_GPU)
    check_cuda(cudaMalloc(&dev_, host_.size() * sizeof(float)), "cudaMalloc");
#else
    storage_.resize(host_.size());
    dev_ = storage_.data();
#endif
  }
  ~DeviceMatrix() {
#if defined(CUVAE_GEMM_TEST_GPU)
    cudaFree(dev_);
#endif
  }
  DeviceMatrix(const DeviceMatrix&) = delete;
  DeviceMatrix& operator=(const DeviceMatrix&) = delete;

  std::vector<float>& host() { return host_; }
  Tensor host_tensor() { return Tensor{host_.data(), shape_, Device::cpu}; }
  Tensor tensor() const {
#if defined(CUVAE_GEMM_TEST_GPU)
    return Tensor{dev_, shape_, Device::cuda};
#else
    return Tensor{dev_, shape_, Device::cpu};
#endif
  }
  void upload() { copy(dev_, host_.data(), true); }
  std::vector<float> download() const {
    std::vector<float> out(host_.size());
    copy(out.data(), dev_, false);
    return out;
  }
  void poison() {  // NaN everywhere, so an element the kernel never writes fails the comparison
    std::vector<float> nan(host_.size(), std::numeric_limits<float>::quiet_NaN());
    copy(dev_, nan.data(), true);
  }

 private:
  void copy(float* dst, const float* src, bool to_device) const {
#if defined(CUVAE_GEMM_TEST_GPU)
    check_cuda(cudaMemcpy(dst, src, host_.size() * sizeof(float), to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost),
               "cudaMemcpy");
    check_cuda(cudaDeviceSynchronize(), "kernel");
#else
    (void)to_device;
    std::memcpy(dst, src, host_.size() * sizeof(float));
#endif
  }

  Shape shape_;
  std::vector<float> host_;
  float* dev_ = nullptr;
#if !defined(CUVAE_GEMM_TEST_GPU)
  std::vector<float> storage_;
#endif
};

// Values in [-1, 1] (never all zero); `act` shapes them like a layer's post-activation output.
void fill(std::vector<float>& v, std::uint32_t seed, Activation act = Activation::none) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& e : v) {
    const float r = u(rng);
    e = act == Activation::relu         ? std::max(r, 0.f)
        : act == Activation::sigmoid    ? 1.f / (1.f + std::exp(-3.f * r))
        : act == Activation::leaky_relu ? (r > 0.f ? r : kLeakyReluSlope * r)
                                        : r;
  }
}

// Relative tolerance on max|ref|: the rounding of the GEMM inputs sets it.
double tolerance(Precision p) {
  switch (p) {
    case Precision::fp32: return 1e-5;
    case Precision::tf32: return 1e-3;
    case Precision::bf16: return 1e-2;
  }
  return 0;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float e : v) m = std::max(m, static_cast<double>(std::fabs(e)));
  return m;
}

// Every element finite and within rel_tol * scale, scale = max|GEMM result before the epilogue|
// (a sigmoid squeezes the output, not the GEMM's rounding error), by default max|ref|; on failure:
// max error and the first mismatches.
::testing::AssertionResult matches(const char* what, const std::vector<float>& got, const std::vector<float>& ref,
                                   std::int64_t cols, double rel_tol, double scale = 0) {
  const double max_ref = scale > 0 ? scale : max_abs(ref);
  const double atol = rel_tol * std::max(max_ref, 1e-30);
  double max_err = 0;
  std::size_t bad = 0;
  std::ostringstream first;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const bool ok = std::isfinite(got[i]) && err <= atol;
    if (std::isfinite(got[i])) max_err = std::max(max_err, err);
    if (ok) continue;
    if (bad++ < 5)
      first << "\n  [" << static_cast<std::int64_t>(i) / cols << ", " << static_cast<std::int64_t>(i) % cols << "] got " << got[i]
            << ", want " << ref[i];
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << ref.size() << " elements off (tolerance " << atol
                                       << " = " << rel_tol << " * scale " << max_ref << "), max error " << max_err
                                       << " among finite ones; first:" << first.str();
}

struct Layer {
  std::int64_t batch, in, out;
};

// One layer's tensors, filled, with the CPU reference results.
struct LayerData {
  Layer s;
  Activation x_act;
  DeviceMatrix x, w, b, y, dy, dx, dw, db;
  std::vector<float> y_ref, dx_ref, dw_ref, db_ref;
  double y_scale = 0, dx_scale = 0;  // max|x w^T + b|, max|dy w|: the GEMM outputs before the epilogue

  LayerData(Layer shape, Activation act, Activation x_activation, std::uint32_t seed)
      : s(shape), x_act(x_activation), x(s.batch, s.in), w(s.out, s.in), b(1, s.out), y(s.batch, s.out), dy(s.batch, s.out),
        dx(s.batch, s.in), dw(s.out, s.in), db(1, s.out) {
    fill(x.host(), seed, x_act);
    fill(w.host(), seed + 1);
    fill(b.host(), seed + 2);
    fill(dy.host(), seed + 3);
    for (DeviceMatrix* m : {&x, &w, &b, &dy}) m->upload();
    y_ref.resize(y.host().size());
    dx_ref.resize(dx.host().size());
    dw_ref.resize(dw.host().size());
    db_ref.resize(db.host().size());
    const Tensor b1{b.host().data(), Shape{s.out}, Device::cpu};
    cpu::linear_forward(x.host_tensor(), w.host_tensor(), b1, act, Tensor{y_ref.data(), Shape{s.batch, s.out}, Device::cpu});
    const Tensor dx_t{dx_ref.data(), Shape{s.batch, s.in}, Device::cpu};
    cpu::linear_backward(x.host_tensor(), x_act, w.host_tensor(), dy.host_tensor(), &dx_t,
                         Tensor{dw_ref.data(), Shape{s.out, s.in}, Device::cpu}, Tensor{db_ref.data(), Shape{s.out}, Device::cpu});
    std::vector<float> lin(std::max(y_ref.size(), dx_ref.size())), dw_tmp(dw_ref.size()), db_tmp(db_ref.size());
    cpu::linear_forward(x.host_tensor(), w.host_tensor(), b1, Activation::none, Tensor{lin.data(), Shape{s.batch, s.out}, Device::cpu});
    y_scale = max_abs(std::vector<float>(lin.begin(), lin.begin() + static_cast<std::ptrdiff_t>(y_ref.size())));
    const Tensor lin_dx{lin.data(), Shape{s.batch, s.in}, Device::cpu};
    cpu::linear_backward(x.host_tensor(), Activation::none, w.host_tensor(), dy.host_tensor(), &lin_dx,
                         Tensor{dw_tmp.data(), Shape{s.out, s.in}, Device::cpu}, Tensor{db_tmp.data(), Shape{s.out}, Device::cpu});
    dx_scale = max_abs(std::vector<float>(lin.begin(), lin.begin() + static_cast<std::ptrdiff_t>(dx_ref.size())));
  }
  Tensor bias() const { return Tensor{b.tensor().data, Shape{s.out}, b.tensor().device}; }
  Tensor dbias() const { return Tensor{db.tensor().data, Shape{s.out}, db.tensor().device}; }
};

std::string label(Precision p, int version, int split, Layer s) {
  std::ostringstream o;
  o << "precision " << static_cast<int>(p) << " (0 fp32, 1 tf32, 2 bf16), version " << version << ", split-K " << split << ", B=" << s.batch
    << " in=" << s.in << " out=" << s.out;
  return o.str();
}

// Under ASan/TSan every launch costs a fiber (and its stack) per CUDA thread: the cases that only
// add shapes run fewer launches there.
constexpr bool kSanitized = cuvae::simt::san::active;

// Forward with each of `acts`, dx with it as the x activation, dw/db: one (precision, version, split).
void check_gemms(Precision prec, GemmImpl impl, int version, int split, Layer shape, const std::vector<Activation>& acts) {
  SCOPED_TRACE(label(prec, version, split, shape));
  Gemm gemm(nullptr, prec, impl);
  if (impl == GemmImpl::custom) gemm.force_kernel(version, split);
  const double tol = tolerance(prec);
  std::uint32_t seed = 1000;
  for (Activation act : acts) {
    SCOPED_TRACE("activation " + std::string(to_string(act)));
    LayerData d(shape, act, act, seed += 10);
    d.y.poison();
    gemm.linear_forward(d.x.tensor(), d.w.tensor(), d.bias(), act, d.y.tensor());
    EXPECT_TRUE(matches("forward y", d.y.download(), d.y_ref, shape.out, tol, d.y_scale));

    d.dx.poison(), d.dw.poison(), d.db.poison();
    const Tensor dx = d.dx.tensor();
    gemm.linear_backward(d.x.tensor(), act, d.w.tensor(), d.dy.tensor(), &dx, d.dw.tensor(), d.dbias());
    EXPECT_TRUE(matches("dx", d.dx.download(), d.dx_ref, shape.in, tol, d.dx_scale));
    EXPECT_TRUE(matches("dw", d.dw.download(), d.dw_ref, shape.in, tol));
    EXPECT_TRUE(matches("db", d.db.download(), d.db_ref, shape.out, tol));
  }
}
// none, relu and sigmoid; all_acts false: relu only (both fused epilogues, a third of the launches).
void check_all_gemms(Precision prec, GemmImpl impl, int version, int split, Layer shape, bool all_acts = true) {
  check_gemms(prec, impl, version, split, shape,
              all_acts ? std::vector{Activation::none, Activation::relu, Activation::sigmoid} : std::vector{Activation::relu});
}

// Odd sizes, none a multiple of a tile or of 4 (scalar loads); and one with every dimension a
// multiple of 4 but not of the tiles (float4 loads with edges).
constexpr Layer kOdd{37, 53, 29};
constexpr Layer kAligned{36, 52, 28};
// K below one k-step (8 for v2/v3, 16 for v4/v5; forward K = in, dx K = out, dw K = batch): the
// prologue stages the only tile and the double-buffered loop prefetches nothing. Scalar and float4 loads.
constexpr Layer kTinyOdd{6, 3, 5};
constexpr Layer kTinyAligned{8, 4, 4};
// Several double-buffered k-steps with a ragged last one (forward K = 67/68: 8-9 steps of 8,
// 4-5 of 16; dx K = 45/44; dw K = 21/20), with scalar and with float4 loads.
constexpr Layer kLongOdd{21, 67, 45};
constexpr Layer kLongAligned{20, 68, 44};
// VAE-like (encoder layer 784 -> 400), batch kept small for the SIMT runtime.
#if defined(CUVAE_GEMM_TEST_GPU)
constexpr Layer kVae{256, 784, 400};
#else
constexpr Layer kVae{24, 784, 400};
#endif

class GEMM_SUITE : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(CUVAE_GEMM_TEST_GPU)
    if (!have_device()) GTEST_SKIP() << "no CUDA device";
#endif
  }
};

TEST_F(GEMM_SUITE, Fp32EveryVersionOddSizes) {
  for (int v : {1, 2, 3})
    for (int split : {1, 3}) {
      if (v == 1 && split > 1) continue;
      check_all_gemms(Precision::fp32, GemmImpl::custom, v, split, kOdd);
    }
}

TEST_F(GEMM_SUITE, Fp32VectorizedEdges) {
  for (int v : {2, 3}) check_all_gemms(Precision::fp32, GemmImpl::custom, v, 2, kAligned);
}

TEST_F(GEMM_SUITE, Tf32EveryVersionOddSizes) {
  for (int v : {4, 5})
    for (int split : {1, 2}) check_all_gemms(Precision::tf32, GemmImpl::custom, v, split, kOdd);
  check_all_gemms(Precision::tf32, GemmImpl::custom, 4, 1, kAligned);
}

TEST_F(GEMM_SUITE, Bf16EveryVersionOddSizes) {
  for (int v : {4, 5})
    for (int split : {1, 2}) check_all_gemms(Precision::bf16, GemmImpl::custom, v, split, kOdd);
  check_all_gemms(Precision::bf16, GemmImpl::custom, 4, 1, kAligned);
}

TEST_F(GEMM_SUITE, TinyKEveryVersion) {
  for (Layer shape : {kTinyOdd, kTinyAligned}) {
    for (int v : {1, 2, 3}) check_all_gemms(Precision::fp32, GemmImpl::custom, v, 1, shape, !kSanitized);
    for (Precision p : {Precision::tf32, Precision::bf16})
      for (int v : {4, 5}) check_all_gemms(p, GemmImpl::custom, v, 1, shape, !kSanitized);
  }
}

// Every layout (forward NT, dx NN, dw TN) of every tiled version with and without float4 loads,
// over several k-steps, with and without split-K (split 2 keeps several k-steps per split).
TEST_F(GEMM_SUITE, MultiStepRaggedKEveryVersion) {
  for (Layer shape : {kLongOdd, kLongAligned})
    for (int split : {1, 2}) {
      for (int v : {2, 3}) check_all_gemms(Precision::fp32, GemmImpl::custom, v, split, shape, !kSanitized);
      for (Precision p : {Precision::tf32, Precision::bf16})
        for (int v : {4, 5}) check_all_gemms(p, GemmImpl::custom, v, split, shape, !kSanitized);
    }
}

// leaky_relu in the shared epilogue (kernels/epilogue.cuh): forward and dx, each kernel family once
// (and cuBLASLt's unfused path on a GPU).
TEST_F(GEMM_SUITE, LeakyReluEpilogues) {
  for (int v : {1, 2, 3}) check_gemms(Precision::fp32, GemmImpl::custom, v, 1, kOdd, {Activation::leaky_relu});
  check_gemms(Precision::tf32, GemmImpl::custom, 4, 1, kOdd, {Activation::leaky_relu});
#if defined(CUVAE_GEMM_TEST_GPU)
  check_gemms(Precision::fp32, GemmImpl::cublas, 0, 0, kOdd, {Activation::leaky_relu});
#endif
}

// The launcher's own choice of version and split-K at a VAE shape.
TEST_F(GEMM_SUITE, VaeShapeLauncherChoice) {
#if defined(__SANITIZE_THREAD__)
  // 90 s under TSan on 2 cores; the same kernels and epilogues run there in the odd-size cases.
  GTEST_SKIP() << "too slow under ThreadSanitizer; covered by the odd-size cases";
#endif
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    SCOPED_TRACE(std::string("precision ") + std::to_string(static_cast<int>(p)));
    Gemm gemm(nullptr, p, GemmImpl::custom);
    LayerData d(kVae, Activation::relu, Activation::relu, 77);
    d.y.poison(), d.dx.poison(), d.dw.poison(), d.db.poison();
    gemm.linear_forward(d.x.tensor(), d.w.tensor(), d.bias(), Activation::relu, d.y.tensor());
    const Tensor dx = d.dx.tensor();
    gemm.linear_backward(d.x.tensor(), Activation::relu, d.w.tensor(), d.dy.tensor(), &dx, d.dw.tensor(), d.dbias());
    EXPECT_TRUE(matches("forward y", d.y.download(), d.y_ref, kVae.out, tolerance(p), d.y_scale));
    EXPECT_TRUE(matches("dx", d.dx.download(), d.dx_ref, kVae.in, tolerance(p), d.dx_scale));
    EXPECT_TRUE(matches("dw", d.dw.download(), d.dw_ref, kVae.in, tolerance(p)));
    EXPECT_TRUE(matches("db", d.db.download(), d.db_ref, kVae.out, tolerance(p)));
  }
}

// dw/db twice, with and without split-K: identical bits (fixed-order reductions, no float atomics).
TEST_F(GEMM_SUITE, WeightGradientIsDeterministic) {
  for (Precision p : {Precision::fp32, Precision::tf32}) {
    for (int split : {0, 4}) {
      SCOPED_TRACE("split " + std::to_string(split));
      Gemm gemm(nullptr, p, GemmImpl::custom);
      gemm.force_kernel(0, split);
      LayerData d(kOdd, Activation::none, Activation::none, 5);
      std::vector<float> dw[2], db[2];
      for (int run = 0; run < 2; ++run) {
        d.dw.poison(), d.db.poison();
        gemm.backward_weight(d.dy.tensor(), d.x.tensor(), d.dw.tensor(), d.dbias());
        dw[run] = d.dw.download(), db[run] = d.db.download();
      }
      EXPECT_EQ(0, std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)));
      EXPECT_EQ(0, std::memcmp(db[0].data(), db[1].data(), db[0].size() * sizeof(float)));
    }
  }
}

TEST_F(GEMM_SUITE, BadShapesAndSettingsThrow) {
  Gemm gemm(nullptr, Precision::fp32, GemmImpl::custom);
  LayerData d(kOdd, Activation::none, Activation::none, 9);
  DeviceMatrix wrong(kOdd.out, kOdd.in + 1);
  EXPECT_THROW(gemm.linear_forward(d.x.tensor(), wrong.tensor(), d.bias(), Activation::none, d.y.tensor()), Error);
  EXPECT_THROW(gemm.backward_weight(d.dy.tensor(), d.x.tensor(), wrong.tensor(), d.dbias()), Error);
  EXPECT_THROW(gemm.backward_data(d.dy.tensor(), wrong.tensor(), d.x.tensor(), Activation::relu, d.dx.tensor()), Error);
  EXPECT_THROW(gemm.force_kernel(4, 0), Error);  // tensor-core version at fp32
  EXPECT_THROW(gemm.force_kernel(6, 0), Error);
  EXPECT_THROW(cuda::parse_precision("fp16"), Error);
  EXPECT_THROW(cuda::parse_gemm_impl("fast"), Error);
  EXPECT_EQ(cuda::parse_precision("bf16"), Precision::bf16);
  EXPECT_EQ(cuda::parse_gemm_impl("auto"), GemmImpl::automatic);
#if !defined(CUVAE_GEMM_TEST_GPU)
  EXPECT_THROW(Gemm(nullptr, Precision::fp32, GemmImpl::cublas), Error);  // no cuBLAS in the SIMT build
#endif
}

#if defined(CUVAE_GEMM_TEST_GPU)
// The baseline with the same epilogues, and `automatic`, against the same reference.
TEST_F(GEMM_SUITE, CublasEveryPrecision) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    check_all_gemms(p, GemmImpl::cublas, 0, 0, kOdd);
    check_all_gemms(p, GemmImpl::cublas, 0, 0, kVae);
  }
}
TEST_F(GEMM_SUITE, AutomaticEveryPrecision) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) check_all_gemms(p, GemmImpl::automatic, 0, 0, kVae);
}
#endif

}  // namespace
}  // namespace cuvae
