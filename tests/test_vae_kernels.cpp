// The VAE kernels (kernels/vae.cuh) through the CUDA backend, against the CPU reference
// (host/cpu/vae.cpp): reparameterization forward and backward, the fused loss (odd sizes, the
// float4 path, large |logits|, beta != 1, no gradients), and determinism (two runs, same bits).
// Outputs are poisoned with NaN first. Runs on the SIMT device always and on the GPU when present
// (tests/device_backend.hpp). Run: ctest --test-dir build/<dir> -R VaeKernels --output-on-failure
#include <cmath>

#include "device_backend.hpp"
#include "host/cpu/ops.hpp"

namespace cuvae {
namespace {

using test::download;
using test::HostTensor;
using test::poisoned_on;
using test::upload;

constexpr double kTol = 1e-5;  // relative to max|reference|: expf, log1pf and sincosf differ in the last bits

HostTensor random_stats(std::int64_t B, std::int64_t L, std::uint64_t seed) {
  HostTensor s = test::random_tensor({B, 2 * L}, seed, -2.f, 2.f);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t l = 0; l < L; ++l) s[static_cast<std::size_t>(b * 2 * L + L + l)] *= 1.5f;  // logvar in [-3, 3]
  return s;
}

TEST(CUVAE_DEVICE_SUITE(VaeKernels), ReparameterizeMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  for (auto [B, L] : {std::pair<std::int64_t, std::int64_t>{37, 13}, {5, 1}, {64, 20}}) {
    SCOPED_TRACE("B " + std::to_string(B) + ", L " + std::to_string(L));
    HostTensor stats = random_stats(B, L, 1);
    Buffer d_stats = upload(*dev, stats);
    Buffer eps = poisoned_on(*dev, Shape{B, L}), z = poisoned_on(*dev, Shape{B, L});
    const RngKey key = rng_key(5, RngPurpose::reparam, 7);
    dev->reparameterize(d_stats, key, false, eps, z);
    HostTensor r_eps({B, L}), r_z({B, L});
    cpu::reparameterize(stats.t(), key, r_eps.t(), r_z.t());
    EXPECT_TRUE(test::all_close(download(*dev, eps), r_eps.v, kTol, "eps"));
    EXPECT_TRUE(test::all_close(download(*dev, z), r_z.v, kTol, "z"));

    // At the step position: the key's stream is offset by the device-side step.
    dev->set_position(42, 3);
    dev->reparameterize(d_stats, key, true, eps, z);
    RngKey at = key;
    at.stream += 42;
    cpu::reparameterize(stats.t(), at, r_eps.t(), r_z.t());
    EXPECT_TRUE(test::all_close(download(*dev, eps), r_eps.v, kTol, "eps at step 42"));
    EXPECT_TRUE(test::all_close(download(*dev, z), r_z.v, kTol, "z at step 42"));
  }
}

TEST(CUVAE_DEVICE_SUITE(VaeKernels), ReparameterizeBackwardAccumulates) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const std::int64_t B = 29, L = 11;
  HostTensor stats = random_stats(B, L, 2), eps = test::random_tensor({B, L}, 3, -3.f, 3.f),
             dz = test::random_tensor({B, L}, 4), dstats = test::random_tensor({B, 2 * L}, 5);
  Buffer d_stats = upload(*dev, stats), d_eps = upload(*dev, eps), d_dz = upload(*dev, dz), d_dstats = upload(*dev, dstats);
  dev->reparameterize_backward(d_stats, d_eps, d_dz, d_dstats);
  cpu::reparameterize_backward(stats.t(), eps.t(), dz.t(), dstats.t());
  EXPECT_TRUE(test::all_close(download(*dev, d_dstats), dstats.v, kTol, "dstats"));
}

struct LossCase {
  std::int64_t B, D, L;
  float beta;
  bool grads;
};

// Logits across the range, with some far outside it (the stable form must not overflow), and
// images with exact zeros and ones.
void check_loss(Backend& dev, const LossCase& c, std::uint64_t seed) {
  SCOPED_TRACE("B " + std::to_string(c.B) + ", D " + std::to_string(c.D) + ", L " + std::to_string(c.L) + ", beta " +
               std::to_string(c.beta) + (c.grads ? "" : ", no gradients"));
  HostTensor logits = test::random_tensor({c.B, c.D}, seed, -8.f, 8.f), x = test::random_tensor({c.B, c.D}, seed + 1, 0.f, 1.f);
  const float extremes[] = {100.f, -100.f, 1e4f, -1e4f, 30.f, -30.f, 0.f};
  for (std::size_t i = 0; i < logits.v.size(); i += 13) logits[i] = extremes[(i / 13) % 7];
  for (std::size_t i = 0; i < x.v.size(); i += 5) x[i] = (i / 5) % 2 ? 1.f : 0.f;
  HostTensor stats = random_stats(c.B, c.L, seed + 2);
  Buffer d_logits = upload(dev, logits), d_x = upload(dev, x), d_stats = upload(dev, stats);
  Buffer dlogits = poisoned_on(dev, Shape{c.B, c.D}), dstats = poisoned_on(dev, Shape{c.B, 2 * c.L});
  Buffer terms = poisoned_on(dev, Shape{2});
  const Tensor& dl = dlogits;
  const Tensor& ds = dstats;
  dev.vae_loss(d_logits, d_x, d_stats, c.beta, c.grads ? &dl : nullptr, c.grads ? &ds : nullptr, terms);

  HostTensor r_dlogits({c.B, c.D}), r_dstats({c.B, 2 * c.L}), r_terms({2});
  Tensor rdl = r_dlogits.t(), rds = r_dstats.t();
  cpu::vae_loss(logits.t(), x.t(), stats.t(), c.beta, &rdl, &rds, r_terms.t());
  const std::vector<float> got = download(dev, terms);
  EXPECT_TRUE(test::all_close({got[0]}, std::vector<float>{r_terms[0]}, kTol, "recon"));
  EXPECT_TRUE(test::all_close({got[1]}, std::vector<float>{r_terms[1]}, kTol, "kl"));
  if (c.grads) {
    EXPECT_TRUE(test::all_close(download(dev, dlogits), r_dlogits.v, kTol, "dlogits"));
    EXPECT_TRUE(test::all_close(download(dev, dstats), r_dstats.v, kTol, "dstats"));
  }
}

TEST(CUVAE_DEVICE_SUITE(VaeKernels), FusedLossMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const LossCase cases[] = {
      {29, 97, 11, 1.f, true},     // odd sizes: scalar path, 32-thread rows
      {16, 784, 20, 1.f, true},    // Fashion-MNIST rows: float4 path, 128 threads
      {3, 2050, 600, 0.25f, true}, // long rows, L beyond the row's block: 256 threads
      {7, 100, 5, 4.f, true},      // beta > 1, float4
      {13, 33, 3, 0.5f, false},    // evaluation: no gradients
  };
  std::uint64_t seed = 10;
  for (const LossCase& c : cases) check_loss(*dev, c, seed += 10);
}

TEST(CUVAE_DEVICE_SUITE(VaeKernels), FusedLossOverManyImages) {
  // More images than the per-image workspace first holds (1024), so it grows, and than the
  // block that sums the rows has threads; the second call also finds the arrival count reset.
  auto dev = CUVAE_DEVICE_OR_SKIP();
  check_loss(*dev, {16, 20, 2, 1.f, true}, 1);
  check_loss(*dev, {1500, 7, 3, 1.f, true}, 2);
}

TEST(CUVAE_DEVICE_SUITE(VaeKernels), FusedLossOfNoImagesIsZero) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  Buffer logits = upload(*dev, test::random_tensor({2, 8}, 1, -1.f, 1.f));
  Buffer x = upload(*dev, test::random_tensor({2, 8}, 2, 0.f, 1.f)), stats = upload(*dev, random_stats(2, 3, 3));
  Buffer terms = poisoned_on(*dev, Shape{2});
  dev->vae_loss(logits.tensor().rows_view(0, 0), x.tensor().rows_view(0, 0), stats.tensor().rows_view(0, 0), 1.f, nullptr,
                nullptr, terms);
  EXPECT_EQ(download(*dev, terms), (std::vector<float>{0.f, 0.f}));
}

TEST(CUVAE_DEVICE_SUITE(VaeKernels), TwoRunsGiveIdenticalBits) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const std::int64_t B = 200, D = 784, L = 20;
  HostTensor logits = test::random_tensor({B, D}, 1, -5.f, 5.f), x = test::random_tensor({B, D}, 2, 0.f, 1.f);
  HostTensor stats = random_stats(B, L, 3);
  Buffer d_logits = upload(*dev, logits), d_x = upload(*dev, x), d_stats = upload(*dev, stats);
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    Buffer dlogits = poisoned_on(*dev, Shape{B, D}), dstats = poisoned_on(*dev, Shape{B, 2 * L});
    Buffer terms = poisoned_on(*dev, Shape{2}), eps = poisoned_on(*dev, Shape{B, L}), z = poisoned_on(*dev, Shape{B, L});
    const Tensor& dl = dlogits;
    const Tensor& ds = dstats;
    dev->vae_loss(d_logits, d_x, d_stats, 1.f, &dl, &ds, terms);
    dev->reparameterize(d_stats, rng_key(1, RngPurpose::reparam, 0), false, eps, z);
    std::vector<float> all = download(*dev, terms);
    for (const Tensor* t : std::initializer_list<const Tensor*>{&dl, &ds, &eps.tensor(), &z.tensor()}) {
      std::vector<float> v = download(*dev, *t);
      all.insert(all.end(), v.begin(), v.end());
    }
    if (run == 0) first = all;
    else EXPECT_TRUE(test::bitwise_equal(first, all)) << "a second run changed the bits";
  }
}

}  // namespace
}  // namespace cuvae
