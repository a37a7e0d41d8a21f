// The fused Adam/AdamW kernel (kernels/adam.cuh) through the CUDA backend, against the CPU
// reference (host/cpu/adam.cpp) at the same t: within 1 ulp (bit for bit in practice), over
// several steps read from the device-side position, with and without weight decay, for odd
// sizes, the float4 path with its tail, an unaligned buffer, and a large t.
// Runs on the SIMT device always and on the GPU when present (tests/device_backend.hpp).
// Run: ctest --test-dir build/<dir> -R AdamKernel --output-on-failure
#include <bit>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "device_backend.hpp"
#include "host/cpu/ops.hpp"

namespace cuvae {
namespace {

using test::download;
using test::HostTensor;

// Distance in units in the last place (both finite, same sign in practice).
std::int64_t ulps(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return INT64_MAX;
  auto key = [](float f) {
    const std::int32_t i = std::bit_cast<std::int32_t>(f);
    return i < 0 ? std::int64_t(INT32_MIN) - i : std::int64_t(i);
  };
  return std::llabs(key(a) - key(b));
}

::testing::AssertionResult within_one_ulp(const std::vector<float>& got, const std::vector<float>& ref, const char* what) {
  std::int64_t worst = 0, differ = 0;
  std::ostringstream first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::int64_t u = ulps(got[i], ref[i]);
    worst = std::max(worst, u);
    differ += u != 0;
    if (u > 1 && differ <= 5) first << " [" << i << "] got " << got[i] << " want " << ref[i] << ";";
  }
  if (worst <= 1) return ::testing::AssertionSuccess() << what << ": " << differ << " elements 1 ulp off";
  return ::testing::AssertionFailure() << what << ": max " << worst << " ulp (" << differ << " of " << got.size()
                                       << " differ);" << first.str();
}

// `steps` Adam steps from step `t0` on the device (t read from the position, advanced after each
// step) and on the CPU; `offset` floats into the buffers (1: not 16-byte aligned, the scalar path).
void check_steps(Backend& dev, std::int64_t n, std::int64_t t0, int steps, double weight_decay, std::int64_t offset,
                 double l2 = 0.0) {
  SCOPED_TRACE("n " + std::to_string(n) + ", t " + std::to_string(t0) + ", weight decay " +
               std::to_string(weight_decay) + ", offset " + std::to_string(offset));
  AdamConfig cfg;
  cfg.lr = 3e-3, cfg.weight_decay = weight_decay, cfg.l2 = l2;
  HostTensor p = test::random_tensor({n}, 1), m = test::random_tensor({n}, 2, -0.1f, 0.1f),
             v = test::random_tensor({n}, 3, 0.f, 0.01f);
  auto padded = [&](const HostTensor& h) {
    Buffer b(dev, Shape{n + offset});
    Tensor view{b.data() + offset, Shape{n}, b.tensor().device};
    dev.to_device(view, h.v.data());
    return std::pair<Buffer, Tensor>(std::move(b), view);
  };
  auto [pb, dp] = padded(p);
  auto [mb, dm] = padded(m);
  auto [vb, dv] = padded(v);
  Schedule sched;
  sched.adam = cfg;
  dev.set_schedule(sched);
  dev.set_position(t0, 0, 1);
  for (int s = 0; s < steps; ++s) {
    const HostTensor g = test::random_tensor({n}, 100 + static_cast<std::uint64_t>(s), -2.f, 2.f);
    auto [gb, dg] = padded(g);
    dev.update_step_scalars();
    dev.adam_step(dp, dg, dm, dv);
    dev.advance_position();
    HostTensor gh = g;
    cpu::adam_step(p.t(), gh.t(), m.t(), v.t(), step_scalars(sched, t0 + s, 1));
  }
  EXPECT_TRUE(within_one_ulp(download(dev, dp), p.v, "params"));
  EXPECT_TRUE(within_one_ulp(download(dev, dm), m.v, "exp_avg"));
  EXPECT_TRUE(within_one_ulp(download(dev, dv), v.v, "exp_avg_sq"));
}

TEST(CUVAE_DEVICE_SUITE(AdamKernel), MatchesCpuOverSteps) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  check_steps(*dev, 1001, 1, 4, 0.0, 0);  // float4 path and a tail of 1
  check_steps(*dev, 3, 1, 3, 0.0, 0);     // tail only
  check_steps(*dev, 4099, 7, 2, 0.0, 0);
}

TEST(CUVAE_DEVICE_SUITE(AdamKernel), AdamWMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  check_steps(*dev, 1001, 1, 3, 0.05, 0);
}

TEST(CUVAE_DEVICE_SUITE(AdamKernel), L2PenaltyMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  check_steps(*dev, 1001, 1, 3, 0.0, 0, 0.1);
}

TEST(CUVAE_DEVICE_SUITE(AdamKernel), UnalignedBuffersTakeTheScalarPath) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  check_steps(*dev, 517, 1, 3, 0.01, 1);
}

TEST(CUVAE_DEVICE_SUITE(AdamKernel), LargeStepCount) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  check_steps(*dev, 257, 123457, 2, 0.0, 0);
}

TEST(CUVAE_DEVICE_SUITE(AdamKernel), FirstStepMovesEachParameterByLr) {
  // The property test of host/cpu/adam.cpp, on the device: at t = 1, p moves by lr against g.
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const int n = 67;
  HostTensor p = test::random_tensor({n}, 2), g = test::random_tensor({n}, 3, 0.1f, 1.f);
  for (int i = 0; i < n; i += 2) g[i] = -g[i];
  Buffer dp = test::upload(*dev, p), dg = test::upload(*dev, g), dm(*dev, Shape{n}), dv(*dev, Shape{n});
  dev->fill(dm, 0.f);
  dev->fill(dv, 0.f);
  dev->set_schedule(Schedule{});
  dev->set_position(1, 0, 1);
  dev->update_step_scalars();
  dev->adam_step(dp, dg, dm, dv);
  const std::vector<float> after = download(*dev, dp);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(after[i] - p[i], g[i] > 0 ? -1e-3 : 1e-3, 1e-7) << i;
}

}  // namespace
}  // namespace cuvae
