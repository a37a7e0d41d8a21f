// The op harness: each loss, latent and data op, one table row per case, run on the CPU backend and
// on the device under test (the SIMT device always, the GPU when present; tests/device_backend.hpp)
// against plain double loops: outputs poisoned with NaN first, NaN and the max error checked, the
// [B, n] operands as column views of wider buffers (odd sizes, the float4 path and its fallback),
// gradients also against finite differences of the double reference.
// Run: ctest --test-dir build/<dir> -R Ops --output-on-failure
#include <gmock/gmock.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <numbers>

#include "ops_support.hpp"
#include "datasets/batches.hpp"
#include "host/cpu/ops.hpp"

namespace cuvae {
namespace {

using test::as_float;
using test::columns;
using test::download;
using test::HostTensor;
using test::kTol;
using test::strided;
using test::Strided;

// ---- double references ----
double bce(double l, double x) { return std::max(l, 0.0) - x * l + std::log1p(std::exp(-std::fabs(l))); }
double gauss(double m, double x, double s) { return 0.5 * std::pow((x - m) / s, 2) + std::log(s * std::sqrt(2 * std::numbers::pi)); }
double kl_elem(double m, double lv) { return -0.5 * (1 + lv - m * m - std::exp(lv)); }

struct LikelihoodCase {
  const char* name;
  Likelihood kind;
  float sigma;
  std::int64_t B, D, offset, width;  // pred and target are columns [offset, offset + D) of [B, width]
};

// Case names instead of the structs' bytes in the test names ctest lists.
void PrintTo(const LikelihoodCase& c, std::ostream* os) { *os << c.name; }
class OpsLikelihood : public ::testing::TestWithParam<LikelihoodCase> {};

TEST_P(OpsLikelihood, LossRowsAndGradientMatchDoubleLoops) {
  const LikelihoodCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const HostTensor p = test::random_tensor({c.B, c.width}, 1, c.kind == Likelihood::bernoulli ? -30.f : -1.f,
                                           c.kind == Likelihood::bernoulli ? 30.f : 2.f);
  HostTensor x = test::random_tensor({c.B, c.width}, 2, 0.f, 1.f);
  for (std::size_t i = 0; i < x.v.size(); i += 3) x[i] = 0.f;  // images have exact zeros
  const std::vector<float> ph = p.v, xh = x.v;
  std::vector<double> ref_rows(static_cast<std::size_t>(c.B)), ref_grad;
  double ref_term = 0;
  for (std::int64_t b = 0; b < c.B; ++b) {
    for (std::int64_t j = 0; j < c.D; ++j) {
      const double l = ph[static_cast<std::size_t>(b * c.width + c.offset + j)];
      const double t = xh[static_cast<std::size_t>(b * c.width + c.offset + j)];
      const double v = c.kind == Likelihood::bernoulli ? bce(l, t) : gauss(l, t, c.sigma);
      ref_rows[static_cast<std::size_t>(b)] += v;
      ref_grad.push_back(c.kind == Likelihood::bernoulli ? 1 / (1 + std::exp(-l)) - t : (l - t) / (double(c.sigma) * c.sigma));
    }
    ref_term += ref_rows[static_cast<std::size_t>(b)];
  }
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    be->reserve_rows(c.B);
    Strided pd = strided(*be, p, c.offset, c.D), xd = strided(*be, x, c.offset, c.D);
    Strided gd = strided(*be, test::poisoned({c.B, c.width}), c.offset, c.D);
    Buffer rows = test::poisoned_on(*be, Shape{c.B}), term = test::poisoned_on(*be, Shape{1});
    be->likelihood(c.kind, c.sigma, pd.view, xd.view, &gd.view, &rows.tensor(), term);
    EXPECT_TRUE(test::all_close(download(*be, term), std::vector<double>{ref_term}, kTol, "term"));
    EXPECT_TRUE(test::all_close(download(*be, rows), ref_rows, kTol, "rows"));
    EXPECT_TRUE(test::all_close(as_float(columns(download(*be, gd.buf), c.width, c.offset, c.B, c.D)), ref_grad, kTol,
                                "dpred"));
    // The columns outside the view are left as they were (NaN).
    const std::vector<float> whole = download(*be, gd.buf);
    for (std::int64_t j = 0; j < c.width; ++j)
      if (j < c.offset || j >= c.offset + c.D) {
        EXPECT_TRUE(std::isnan(whole[static_cast<std::size_t>(j)])) << j;
      }
    // Without gradient and rows: the same term, bit for bit.
    Buffer term2 = test::poisoned_on(*be, Shape{1});
    be->likelihood(c.kind, c.sigma, pd.view, xd.view, nullptr, nullptr, term2);
    EXPECT_TRUE(test::bitwise_equal(download(*be, term), download(*be, term2)));
  }
}

CUVAE_INSTANTIATE(
    OpsLikelihood,
    ::testing::Values(LikelihoodCase{"BernoulliDense", Likelihood::bernoulli, 1.f, 37, 64, 0, 64},
                      LikelihoodCase{"BernoulliOddView", Likelihood::bernoulli, 1.f, 9, 53, 3, 61},
                      LikelihoodCase{"BernoulliWide", Likelihood::bernoulli, 1.f, 5, 2048, 0, 2048},
                      LikelihoodCase{"GaussianDense", Likelihood::gaussian, 0.7f, 17, 784, 0, 784},
                      LikelihoodCase{"GaussianView", Likelihood::gaussian, 1.f, 6, 40, 4, 48}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(CUVAE_DEVICE_SUITE(Ops), LikelihoodGradientMatchesFiniteDifferences) {
  for (Likelihood kind : {Likelihood::bernoulli, Likelihood::gaussian}) {
    auto cpu = make_cpu_backend(1);
    HostTensor p = test::random_tensor({3, 7}, 4, -2.f, 2.f), x = test::random_tensor({3, 7}, 5, 0.f, 1.f);
    HostTensor g({3, 7}), term({1});
    const Tensor gt = g.t();
    cpu->likelihood(kind, 0.8f, p.t(), x.t(), &gt, nullptr, term.t());
    for (std::size_t i = 0; i < p.v.size(); ++i) {
      const double fd = test::central_difference(p.v, i, 1e-3, [&] {
        double s = 0;
        for (std::size_t k = 0; k < p.v.size(); ++k) s += kind == Likelihood::bernoulli ? bce(p[k], x[k]) : gauss(p[k], x[k], 0.8);
        return s;
      });
      EXPECT_NEAR(g[i], fd, 1e-3 * std::max(1.0, std::fabs(fd))) << i;
    }
  }
}

TEST(CUVAE_DEVICE_SUITE(Ops), KlAndReparameterizeGradientsMatchFiniteDifferences) {
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 3, L = 4;
  HostTensor mu = test::random_tensor({B, L}, 20, -1.f, 1.f), lv = test::random_tensor({B, L}, 21, -1.f, 1.f);
  HostTensor dmu({B, L}), dlv({B, L}), term({1});
  const Tensor dm = dmu.t(), dl = dlv.t();
  cpu->kl_divergence(mu.t(), lv.t(), Scalar{1.f}, &dm, &dl, nullptr, term.t());
  auto kl_sum = [&] {
    double s = 0;
    for (std::size_t k = 0; k < mu.v.size(); ++k) s += kl_elem(mu[k], lv[k]);
    return s;
  };
  for (std::size_t i = 0; i < mu.v.size(); ++i) {
    EXPECT_NEAR(dmu[i], test::central_difference(mu.v, i, 1e-3, kl_sum), 1e-3) << "dmu " << i;
    EXPECT_NEAR(dlv[i], test::central_difference(lv.v, i, 1e-3, kl_sum), 1e-3) << "dlogvar " << i;
  }
  // f = sum(g * z(mu, logvar)) with eps fixed: reparameterize_backward gives df/dmu and df/dlogvar.
  HostTensor g = test::random_tensor({B, L}, 22);
  const RngKey key = rng_key(1, RngPurpose::reparam, 0);
  HostTensor eps({B, L}), z({B, L}), gm({B, L}), gl({B, L});
  auto f = [&] {
    cpu->reparameterize(mu.t(), lv.t(), key, false, eps.t(), z.t());
    double s = 0;
    for (std::size_t k = 0; k < z.v.size(); ++k) s += double(g[k]) * z[k];
    return s;
  };
  f();
  HostTensor gg = g;
  cpu->reparameterize_backward(lv.t(), eps.t(), gg.t(), gm.t(), gl.t());
  for (std::size_t i = 0; i < mu.v.size(); ++i) {
    EXPECT_NEAR(gm[i], test::central_difference(mu.v, i, 1e-3, f), 1e-3) << "dmu " << i;
    EXPECT_NEAR(gl[i], test::central_difference(lv.v, i, 1e-3, f), 1e-3) << "dlogvar " << i;
  }
}

struct KlCase {
  const char* name;
  std::int64_t B, L;
  bool at_step;  // the weight is the step's beta (warm-up) instead of a constant
};
void PrintTo(const KlCase& c, std::ostream* os) { *os << c.name; }
class OpsKl : public ::testing::TestWithParam<KlCase> {};

TEST_P(OpsKl, TermRowsAndWeightedGradientsMatchDoubleLoops) {
  const KlCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  // stats [B, 2L] = [mu | logvar], as the fused head writes them.
  HostTensor s = test::random_tensor({c.B, 2 * c.L}, 6, -2.f, 2.f);
  const float w = 0.37f;
  Schedule sched;
  sched.beta = 0.74, sched.kl_warmup = 10;  // at step 6: beta = 0.74 * 5 / 10 = 0.37
  std::vector<double> rows(static_cast<std::size_t>(c.B)), dmu, dlv;
  double term = 0;
  for (std::int64_t b = 0; b < c.B; ++b)
    for (std::int64_t l = 0; l < c.L; ++l) {
      const double m = s[static_cast<std::size_t>(b * 2 * c.L + l)], lv = s[static_cast<std::size_t>(b * 2 * c.L + c.L + l)];
      rows[static_cast<std::size_t>(b)] += kl_elem(m, lv);
      term += kl_elem(m, lv);
      dmu.push_back(double(w) * m), dlv.push_back(double(w) * 0.5 * (std::exp(lv) - 1));
    }
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    be->reserve_rows(c.B);
    be->set_schedule(sched);
    be->set_position(6, 0, 1);
    be->update_step_scalars();
    Buffer st = test::upload(*be, s), ds = test::poisoned_on(*be, Shape{c.B, 2 * c.L});
    Buffer r = test::poisoned_on(*be, Shape{c.B}), t = test::poisoned_on(*be, Shape{1});
    const Tensor mu = st.tensor().cols_view(0, c.L), lv = st.tensor().cols_view(c.L, c.L);
    const Tensor dm = ds.tensor().cols_view(0, c.L), dl = ds.tensor().cols_view(c.L, c.L);
    be->kl_divergence(mu, lv, c.at_step ? Scalar::at_step(StepScalar::beta) : Scalar{w}, &dm, &dl, &r.tensor(), t);
    EXPECT_TRUE(test::all_close(download(*be, t), std::vector<double>{term}, kTol, "term"));
    EXPECT_TRUE(test::all_close(download(*be, r), rows, kTol, "rows"));
    const std::vector<float> g = download(*be, ds);
    EXPECT_TRUE(test::all_close(as_float(columns(g, 2 * c.L, 0, c.B, c.L)), dmu, kTol, "dmu"));
    EXPECT_TRUE(test::all_close(as_float(columns(g, 2 * c.L, c.L, c.B, c.L)), dlv, kTol, "dlogvar"));
  }
}

CUVAE_INSTANTIATE(OpsKl,
                         ::testing::Values(KlCase{"Small", 5, 1, false}, KlCase{"VaeShape", 64, 20, true},
                                           KlCase{"WideLatent", 7, 200, true}),
                         [](const auto& tp) { return std::string(tp.param.name); });

TEST(CUVAE_DEVICE_SUITE(Ops), ReparameterizeOnColumnViewsMatchesDoubleLoops) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 13, L = 7, W = 11;  // z lands in columns [2, 9) of a [B, 11] decoder input
  HostTensor s = test::random_tensor({B, 2 * L}, 7, -2.f, 2.f);
  const RngKey key = rng_key(9, RngPurpose::reparam, 0);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    be->set_position(42, 0, 1);
    Buffer st = test::upload(*be, s), eps = test::poisoned_on(*be, Shape{B, L});
    Strided z = strided(*be, test::poisoned({B, W}), 2, L);
    be->reparameterize(st.tensor().cols_view(0, L), st.tensor().cols_view(L, L), key, true, eps, z.view);
    const std::vector<float> e = download(*be, eps);
    HostTensor ref_eps({B, L});
    RngKey at = key;
    at.stream += 42;  // the position's step
    cpu::normal(at, ref_eps.t());
    EXPECT_TRUE(test::all_close(e, ref_eps.v, kTol, "eps"));
    std::vector<double> ref_z;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t l = 0; l < L; ++l)
        ref_z.push_back(double(s[static_cast<std::size_t>(b * 2 * L + l)]) +
                        double(ref_eps[static_cast<std::size_t>(b * L + l)]) *
                            std::exp(0.5 * s[static_cast<std::size_t>(b * 2 * L + L + l)]));
    EXPECT_TRUE(test::all_close(as_float(columns(download(*be, z.buf), W, 2, B, L)), ref_z, kTol, "z"));

    // Backward accumulates into the gradient's column views.
    HostTensor dz = test::random_tensor({B, W}, 8), d0 = test::random_tensor({B, 2 * L}, 9);
    Strided dzv = strided(*be, dz, 2, L);
    Buffer ds = test::upload(*be, d0);
    be->reparameterize_backward(st.tensor().cols_view(L, L), eps, dzv.view, ds.tensor().cols_view(0, L),
                                ds.tensor().cols_view(L, L));
    std::vector<double> ref_ds(d0.v.begin(), d0.v.end());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t l = 0; l < L; ++l) {
        const double g = dz[static_cast<std::size_t>(b * W + 2 + l)];
        ref_ds[static_cast<std::size_t>(b * 2 * L + l)] += g;
        ref_ds[static_cast<std::size_t>(b * 2 * L + L + l)] +=
            g * e[static_cast<std::size_t>(b * L + l)] * 0.5 * std::exp(0.5 * s[static_cast<std::size_t>(b * 2 * L + L + l)]);
      }
    EXPECT_TRUE(test::all_close(download(*be, ds), ref_ds, kTol, "dstats"));
  }
}

struct NoiseCase {
  const char* name;
  NoiseKind kind;
  float level;
};
void PrintTo(const NoiseCase& c, std::ostream* os) { *os << c.name; }
class OpsCorrupt : public ::testing::TestWithParam<NoiseCase> {};

TEST_P(OpsCorrupt, SameNoiseOnEveryBackendAndTheStatedRate) {
  const NoiseCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 64, D = 101, W = 105;
  HostTensor x = test::random_tensor({B, W}, 10, 0.05f, 0.95f);
  const RngKey key = rng_key(3, RngPurpose::noise, 0);
  std::vector<std::vector<float>> got;
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Schedule sched;
    sched.noise = c.level;
    be->set_schedule(sched);
    be->set_position(5, 0, 1);
    be->update_step_scalars();
    Strided xd = strided(*be, x, 1, D), out = strided(*be, test::poisoned({B, W}), 4, D);
    be->corrupt(c.kind, Scalar::at_step(StepScalar::noise), xd.view, key, true, out.view);
    got.push_back(as_float(columns(download(*be, out.buf), W, 4, B, D)));
  }
  const std::vector<double> in = columns(x.v, W, 1, B, D);
  EXPECT_TRUE(test::all_close(got[1], std::vector<double>(got[0].begin(), got[0].end()), kTol, "device vs cpu"));
  // The draws themselves (the double reference of the rule at the element's Philox number).
  RngKey at = key;
  at.stream += 5;
  std::int64_t changed = 0;
  for (std::int64_t i = 0; i < B * D; ++i) {
    const float4 u = philox_uniform4(at, static_cast<std::uint64_t>(i / 4));
    const float4 n = philox_normal4(at, static_cast<std::uint64_t>(i / 4));
    const double ui = float4_at(u, static_cast<unsigned>(i % 4)), ni = float4_at(n, static_cast<unsigned>(i % 4));
    const double xi = in[static_cast<std::size_t>(i)];
    double want = xi;
    if (c.kind == NoiseKind::mask) want = ui <= c.level ? 0 : xi;
    if (c.kind == NoiseKind::saltpepper) want = ui <= c.level / 2 ? 0 : ui <= c.level ? 1 : xi;
    if (c.kind == NoiseKind::gaussian) want = std::clamp(xi + c.level * ni, 0.0, 1.0);
    ASSERT_NEAR(got[0][static_cast<std::size_t>(i)], want, 1e-6) << "element " << i;
    changed += got[0][static_cast<std::size_t>(i)] != xi;
  }
  if (c.kind != NoiseKind::gaussian) {  // the share of pixels hit is P (6464 pixels: +-4 sigma)
    const double rate = double(changed) / double(B * D), sd = std::sqrt(c.level * (1 - c.level) / double(B * D));
    EXPECT_NEAR(rate, c.level, 4 * sd);
  }
}

CUVAE_INSTANTIATE(OpsCorrupt,
                         ::testing::Values(NoiseCase{"Mask", NoiseKind::mask, 0.25f},
                                           NoiseCase{"Gaussian", NoiseKind::gaussian, 0.3f},
                                           NoiseCase{"SaltPepper", NoiseKind::saltpepper, 0.1f}),
                         [](const auto& tp) { return std::string(tp.param.name); });

TEST(CUVAE_DEVICE_SUITE(Ops), CopyAndRecordTermsWriteWhatTheySay) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    HostTensor a = test::random_tensor({6, 9}, 11);
    Strided src = strided(*be, a, 2, 5);
    Buffer dst = test::poisoned_on(*be, Shape{6, 5});
    be->copy(src.view, dst);
    EXPECT_TRUE(test::all_close(download(*be, dst), columns(a.v, 9, 2, 6, 5), 0, "copy"));
    // record_terms: T = 3 terms into row `batch` of the history.
    HostTensor terms = test::random_tensor({3}, 12);
    Buffer t = test::upload(*be, terms), hist = test::poisoned_on(*be, Shape{4, 3});
    for (std::int64_t b = 0; b < 4; ++b) {
      be->set_position(1, b, 1);
      be->record_terms(t, hist);
    }
    const std::vector<float> h = download(*be, hist);
    for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(h[i], terms[i % 3]) << i;
  }
}

// Images into a column view of a wider batch buffer and int32 labels through the same order.
TEST(CUVAE_DEVICE_SUITE(Ops), GatherImagesIntoColumnsAndLabelsThroughTheEpochOrder) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t N = 37, D = 12, W = 15, batch = 8;
  const HostTensor images = test::random_tensor({N, D}, 30);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(1000 + 7 * i);
  const RngKey key = shuffle_key(3, 2);
  const std::vector<std::int64_t> order = shuffled_indices(N, key);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Buffer img = test::upload(*be, images), lab(*be, Shape{N, 1}, DType::i32);
    be->to_device(lab, reinterpret_cast<const float*>(labels.data()));
    Strided x = strided(*be, test::poisoned({batch, W}), 2, D);
    Buffer y = test::poisoned_on(*be, Shape{batch, 1});
    y.tensor().dtype = DType::i32;
    be->shuffle(N, key);
    be->set_position(1, 3, 1);  // batch 3: rows 24..31 of the order
    be->gather_batch(img, batch, x.view);
    be->gather_batch(lab, batch, y);
    const std::vector<float> got = download(*be, x.buf), ys = download(*be, y);
    for (std::int64_t r = 0; r < batch; ++r) {
      const std::int64_t row = order[static_cast<std::size_t>(24 + r)];
      for (std::int64_t c = 0; c < D; ++c)
        ASSERT_EQ(got[static_cast<std::size_t>(r * W + 2 + c)], images.v[static_cast<std::size_t>(row * D + c)]) << r;
      std::int32_t label;
      std::memcpy(&label, &ys[static_cast<std::size_t>(r)], sizeof label);
      EXPECT_EQ(label, labels[static_cast<std::size_t>(row)]) << r;
    }
  }
}

TEST(CUVAE_DEVICE_SUITE(Ops), LossOverMoreRowsThanReservedIsRefused) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  dev->reserve_rows(4);
  Buffer p = test::upload(*dev, test::random_tensor({5, 3}, 13)), t = test::poisoned_on(*dev, Shape{1});
  EXPECT_THAT(test::error_of([&] { dev->likelihood(Likelihood::bernoulli, 1.f, p, p, nullptr, nullptr, t); }),
              ::testing::HasSubstr("5 rows, but the per-row workspace holds 4"));
  EXPECT_EQ(test::error_of([&] { dev->likelihood(Likelihood::gaussian, 0.f, p, p, nullptr, nullptr, t); }),
            "likelihood: gaussian sigma 0.000000 must be a positive number");
}

// IWAE: the row repeat and the per-image importance-weighted bound (kernels/iwae.cuh).
TEST(CUVAE_DEVICE_SUITE(Ops), RepeatRowsBetweenColumnViews) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t n = 7, C = 13, W = 17, K = 5;  // src columns [3, 16) of [n, 17], dst columns [1, 14) of [n*K, 15]
  const HostTensor a = test::random_tensor({n, W}, 40);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Strided src = strided(*be, a, 3, C), dst = strided(*be, test::poisoned({n * K, 15}), 1, C);
    be->repeat_rows(src.view, static_cast<int>(K), dst.view);
    const std::vector<float> whole = download(*be, dst.buf);
    for (std::int64_t r = 0; r < n * K; ++r)
      for (std::int64_t j = 0; j < 15; ++j) {
        const float got = whole[static_cast<std::size_t>(r * 15 + j)];
        if (j < 1 || j >= 1 + C) {
          EXPECT_TRUE(std::isnan(got)) << r << "," << j;  // outside the view: untouched
        } else {
          ASSERT_EQ(got, a.v[static_cast<std::size_t>((r / K) * W + 3 + j - 1)]) << r << "," << j;
        }
      }
  }
  Buffer s = test::upload(*cpu, a), d = test::poisoned_on(*cpu, Shape{n * K + 1, W});
  EXPECT_THAT(test::error_of([&] { cpu->repeat_rows(s, static_cast<int>(K), d); }),
              ::testing::HasSubstr("repeat_rows: want dst [src rows * 5, src cols]"));
}

struct IwaeCase {
  const char* name;
  std::int64_t n, K, L;
};
void PrintTo(const IwaeCase& c, std::ostream* os) { *os << c.name; }
class OpsIwae : public ::testing::TestWithParam<IwaeCase> {};

// recon as a likelihood's per-row values (tens of nats), eps and z dense and as views, logvar a
// column view of [mu | logvar]; against the log-mean-exp in double, and the same bits twice.
TEST_P(OpsIwae, BoundAndElboMatchDoubleLogMeanExp) {
  const IwaeCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t R = c.n * c.K, L = c.L, Wz = L + 3;
  const HostTensor recon = test::random_tensor({R}, 41, 20.f, 60.f), eps = test::random_tensor({R, L}, 42, -2.5f, 2.5f);
  const HostTensor z = test::random_tensor({R, Wz}, 43, -3.f, 3.f), st = test::random_tensor({c.n, 2 * L}, 44, -3.f, 1.f);
  std::vector<double> ref_bound, ref_elbo;
  for (std::int64_t i = 0; i < c.n; ++i) {
    std::vector<double> w;
    for (std::int64_t k = 0; k < c.K; ++k) {
      const std::int64_t r = i * c.K + k;
      double a = -double(recon.v[static_cast<std::size_t>(r)]);
      for (std::int64_t l = 0; l < L; ++l) {
        const double e = eps.v[static_cast<std::size_t>(r * L + l)], zz = z.v[static_cast<std::size_t>(r * Wz + 2 + l)];
        a += 0.5 * (e * e - zz * zz) + 0.5 * double(st.v[static_cast<std::size_t>(i * 2 * L + L + l)]);
      }
      w.push_back(a);
    }
    const double m = *std::max_element(w.begin(), w.end());
    double sum = 0, mean = 0;
    for (double x : w) sum += std::exp(x - m), mean += x;
    ref_bound.push_back(m + std::log(sum / double(c.K)));
    ref_elbo.push_back(mean / double(c.K));
  }
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Buffer rc = test::upload(*be, recon), e = test::upload(*be, eps), s = test::upload(*be, st);
    Strided zv = strided(*be, z, 2, L);
    const Tensor lv = s.tensor().cols_view(L, L);
    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
      Buffer bound = test::poisoned_on(*be, Shape{c.n}), elbo = test::poisoned_on(*be, Shape{c.n});
      be->iwae_bound(rc, e, zv.view, lv, static_cast<int>(c.K), bound, &elbo.tensor());
      const std::vector<float> b = download(*be, bound);
      if (run == 0) {
        EXPECT_TRUE(test::all_close(b, ref_bound, kTol, "bound"));
        EXPECT_TRUE(test::all_close(download(*be, elbo), ref_elbo, kTol, "elbo"));
        first = b;
      } else {
        EXPECT_TRUE(test::bitwise_equal(first, b)) << "a second run gave other bits";
      }
    }
    Buffer only = test::poisoned_on(*be, Shape{c.n});  // without elbo: the same bound
    be->iwae_bound(rc, e, zv.view, lv, static_cast<int>(c.K), only, nullptr);
    EXPECT_TRUE(test::bitwise_equal(first, download(*be, only)));
  }
}

CUVAE_INSTANTIATE(OpsIwae,
                  ::testing::Values(IwaeCase{"OneSample", 9, 1, 5}, IwaeCase{"SevenSamples", 5, 7, 20},
                                    IwaeCase{"MoreSamplesThanThreads", 3, 517, 3}),
                  [](const auto& tp) { return std::string(tp.param.name); });

TEST(CUVAE_DEVICE_SUITE(Ops), IwaeBoundShapesAreChecked) {
  auto cpu = make_cpu_backend(1);
  Buffer r(*cpu, Shape{6}), e(*cpu, Shape{6, 2}), lv(*cpu, Shape{2, 2}), b(*cpu, Shape{2});
  EXPECT_THAT(test::error_of([&] { cpu->iwae_bound(r, e, e, lv, 2, b, nullptr); }),
              ::testing::HasSubstr("iwae_bound: want recon [n*K], eps and z [n*K, L], logvar [n, L], bound and elbo [n] with K = 2"));
}


}  // namespace
}  // namespace cuvae
