// The fast CPU ops (host/cpu/fast/) against their plain-loop references (host/cpu/ops.hpp), one
// table row per op: the same random non-zero inputs through both (odd sizes, column views where the
// op takes them, several chunks of rows), every output poisoned with NaN first, then NaN and the
// max error checked against the reference (FP32 tolerance scaled to max|ref|; the same bits where
// fast.hpp promises them), the columns outside a view left as they were; and the fast op's outputs
// the same bits with 1, 2 and 3 threads.
// Run: ctest --test-dir build/<dir> -R FastOps --output-on-failure
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/ops.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::HostTensor;

constexpr double kTol = 1e-5;

struct Output {
  std::string name;
  std::vector<float> v;  // a whole buffer, the columns outside the op's view included
};
// Runs the op on fresh inputs: the reference when threads == 0, else the fast op on that many threads.
using Run = std::function<std::vector<Output>(int threads)>;

struct FastCase {
  const char* name;
  bool same_bits;  // the fast op computes exactly what the reference does
  Run run;
};
void PrintTo(const FastCase& c, std::ostream* os) { *os << c.name; }

// NaN where the reference left the poison (outside a view), within tol * max|ref| elsewhere.
::testing::AssertionResult matches(const Output& got, const Output& ref, double rtol) {
  if (got.v.size() != ref.v.size()) return ::testing::AssertionFailure() << got.name << ": size " << got.v.size();
  double scale = 0;
  std::size_t written = 0;
  for (float r : ref.v)
    if (!std::isnan(r)) scale = std::max(scale, double(std::fabs(r))), ++written;
  if (written == 0) return ::testing::AssertionFailure() << ref.name << ": the reference wrote nothing";
  const double tol = rtol * scale;
  double worst = 0;
  std::size_t worst_i = 0, bad = 0;
  for (std::size_t i = 0; i < got.v.size(); ++i) {
    if (std::isnan(ref.v[i])) {
      if (!std::isnan(got.v[i]) && bad++ == 0) worst_i = i, worst = INFINITY;  // wrote outside the view
      continue;
    }
    const double e = std::isfinite(got.v[i]) ? std::fabs(double(got.v[i]) - ref.v[i]) : INFINITY;
    if (e > worst) worst = e, worst_i = i;
    if (e > tol) ++bad;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << got.name << ": " << bad << " of " << got.v.size() << " elements off (max error "
                                       << worst << " at " << worst_i << ": got " << got.v[worst_i] << ", want "
                                       << ref.v[worst_i] << "; tolerance " << tol << " = " << rtol << " * " << scale << ")";
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class FastOps : public ::testing::TestWithParam<FastCase> {};

TEST_P(FastOps, MatchesTheReferenceAndGivesTheSameBitsForAnyThreadCount) {
  const FastCase& c = GetParam();
  const std::vector<Output> ref = c.run(0), one = c.run(1);
  ASSERT_EQ(ref.size(), one.size());
  for (std::size_t k = 0; k < ref.size(); ++k) {
    SCOPED_TRACE(ref[k].name);
    EXPECT_TRUE(matches(one[k], ref[k], kTol));
    if (c.same_bits) {
      EXPECT_TRUE(matches(one[k], ref[k], 0.0)) << "fast.hpp promises the reference's bits";
    }
  }
  for (int threads : {2, 3}) {
    const std::vector<Output> more = c.run(threads);
    for (std::size_t k = 0; k < ref.size(); ++k)
      EXPECT_TRUE(same_bits(one[k].v, more[k].v)) << ref[k].name << ": 1 and " << threads << " threads differ";
  }
}

// ---- the table's inputs: seeded, so every call of a case's run sees the same values ----

// [rows, width] uniform in [lo, hi], every 7th element nudged off zero (no element is exactly 0).
HostTensor input(Shape s, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  HostTensor h = test::random_tensor(s, seed, lo, hi);
  for (float& x : h.v)
    if (x == 0.f) x = 0.25f;
  return h;
}
// A column view [rows, cols] at column `offset` of h, [rows, width].
Tensor view(HostTensor& h, std::int64_t offset, std::int64_t cols) { return h.t().cols_view(offset, cols); }

// The Bernoulli likelihood's logits: wide, with the edges exp and log1p care about.
HostTensor logits(Shape s, std::uint64_t seed) {
  HostTensor h = input(s, seed, -30.f, 30.f);
  const float edges[] = {0.f, -0.f, 1e-30f, -1e-30f, 88.f, -88.f, 104.f, -104.f, 200.f, -200.f, 0.5f, -0.5f};
  for (std::size_t i = 0; i < h.v.size(); i += 5) h.v[i] = edges[(i / 5) % std::size(edges)];
  return h;
}
// Image targets in [0, 1] with exact zeros and ones, as pixels have.
HostTensor pixels(Shape s, std::uint64_t seed) {
  HostTensor h = input(s, seed, 0.f, 1.f);
  for (std::size_t i = 0; i < h.v.size(); i += 3) h.v[i] = (i / 3) % 2 ? 1.f : 0.f;
  return h;
}

// GEMM operands are dense (host/backend.hpp).
Run linear_forward_case(Activation act) {
  return [act](int threads) {
    const std::int64_t B = 301, in = 67, out = 203;  // 4 chunks of rows
    HostTensor x = input({B, in}, 1), w = input({out, in}, 2, -0.3f, 0.3f), b = input({out}, 3), y = test::poisoned({B, out});
    if (threads == 0)
      cpu::linear_forward(x.t(), w.t(), b.t(), act, y.t());
    else
      cpu::fast::linear_forward(*test::pool(threads), x.t(), w.t(), b.t(), act, y.t());
    return std::vector<Output>{{"y", y.v}};
  };
}

Run linear_backward_case(Activation act, bool with_dx) {
  return [act, with_dx](int threads) {
    const std::int64_t B = 129, in = 331, out = 157;  // 3 chunks of dx's rows, 2 of db's columns
    // a leaky ReLU's output has negative values (derivative kLeakyReluSlope), the others' do not
    HostTensor x = input({B, in}, 4, act == Activation::leaky_relu ? -0.95f : 0.05f, 0.95f), w = input({out, in}, 5),
               dy = input({B, out}, 6);
    if (act == Activation::relu)
      for (std::size_t i = 0; i < x.v.size(); i += 3) x.v[i] = 0.f;  // a ReLU's output has zeros
    HostTensor dx = test::poisoned({B, in}), dw = test::poisoned({out, in}), db = test::poisoned({out});
    const Tensor dxt = dx.t(), *dxp = with_dx ? &dxt : nullptr;
    if (threads == 0)
      cpu::linear_backward(x.t(), act, w.t(), dy.t(), dxp, dw.t(), db.t());
    else
      cpu::fast::linear_backward(*test::pool(threads), x.t(), act, w.t(), dy.t(), dxp, dw.t(), db.t());
    std::vector<Output> outs{{"dw", dw.v}, {"db", db.v}};
    if (with_dx) outs.push_back({"dx", dx.v});
    return outs;
  };
}

// leaky_relu, both passes in one row: the forward's y, and the backward's gradients (dx through act').
Run linear_leaky_relu_case() {
  return [](int threads) {
    std::vector<Output> outs = linear_forward_case(Activation::leaky_relu)(threads);
    for (Output& o : linear_backward_case(Activation::leaky_relu, true)(threads)) outs.push_back(std::move(o));
    return outs;
  };
}

Run likelihood_case(Likelihood kind, bool with_grad) {
  return [kind, with_grad](int threads) {
    const std::int64_t B = 300, D = 203, W = 211;  // columns [3, 206) of [B, 211]; 4 chunks of rows
    HostTensor p = kind == Likelihood::bernoulli ? logits({B, W}, 7) : input({B, W}, 7, -1.f, 2.f);
    HostTensor x = pixels({B, W}, 8), g = test::poisoned({B, W}), rows = test::poisoned({B}), term = test::poisoned({1});
    const Tensor pv = view(p, 3, D), xv = view(x, 3, D), gv = view(g, 3, D);
    const Tensor *gp = with_grad ? &gv : nullptr, rt = rows.t(), *rp = with_grad ? &rt : nullptr;
    if (threads == 0)
      cpu::likelihood(kind, 0.7f, pv, xv, gp, rp, term.t());
    else
      cpu::fast::likelihood(*test::pool(threads), kind, 0.7f, pv, xv, gp, rp, term.t());
    std::vector<Output> out{{"term", term.v}};
    if (with_grad) out.push_back({"rows", rows.v}), out.push_back({"dpred", g.v});
    return out;
  };
}

Run kl_case(bool with_grad) {
  return [with_grad](int threads) {
    const std::int64_t B = 2000, L = 23;  // stats [B, 2L] = [mu | logvar]; 3 chunks of rows
    HostTensor s = input({B, 2 * L}, 9, -3.f, 3.f), ds = test::poisoned({B, 2 * L});
    HostTensor rows = test::poisoned({B}), term = test::poisoned({1});
    const Tensor mu = view(s, 0, L), lv = view(s, L, L), dm = view(ds, 0, L), dl = view(ds, L, L), rt = rows.t();
    const Tensor *dmp = with_grad ? &dm : nullptr, *dlp = with_grad ? &dl : nullptr, *rp = with_grad ? &rt : nullptr;
    if (threads == 0)
      cpu::kl_divergence(mu, lv, 0.37f, dmp, dlp, rp, term.t());
    else
      cpu::fast::kl_divergence(*test::pool(threads), mu, lv, 0.37f, dmp, dlp, rp, term.t());
    std::vector<Output> out{{"term", term.v}};
    if (with_grad) out.push_back({"rows", rows.v}), out.push_back({"dstats", ds.v});
    return out;
  };
}

Run normal_case() {
  return [](int threads) {
    HostTensor out = test::poisoned({10001});  // not a multiple of 4: the last group is cut; 3 chunks
    const RngKey key = rng_key(5, RngPurpose::reparam, 3);
    if (threads == 0)
      cpu::normal(key, out.t());
    else
      cpu::fast::normal(*test::pool(threads), key, out.t());
    return std::vector<Output>{{"out", out.v}};
  };
}

Run reparameterize_case() {
  return [](int threads) {
    const std::int64_t B = 2003, L = 19, W = 25;  // z in columns [2, 21) of [B, 25]; 3 chunks of rows
    HostTensor s = input({B, 2 * L}, 10, -3.f, 2.f), eps = test::poisoned({B, L}), z = test::poisoned({B, W});
    const RngKey key = rng_key(6, RngPurpose::reparam, 1);
    const Tensor mu = view(s, 0, L), lv = view(s, L, L), zv = view(z, 2, L);
    if (threads == 0)
      cpu::reparameterize(mu, lv, key, eps.t(), zv);
    else
      cpu::fast::reparameterize(*test::pool(threads), mu, lv, key, eps.t(), zv);
    return std::vector<Output>{{"eps", eps.v}, {"z", z.v}};
  };
}

Run reparameterize_backward_case() {
  return [](int threads) {
    const std::int64_t B = 2003, L = 19, W = 25;
    HostTensor lv = input({B, L + 1}, 11, -3.f, 2.f), eps = input({B, L}, 12, -2.5f, 2.5f);
    HostTensor dz = input({B, W}, 13), ds = input({B, 2 * L}, 14);  // accumulated into: non-zero
    const Tensor lvv = view(lv, 1, L), dzv = view(dz, 2, L), dm = view(ds, 0, L), dl = view(ds, L, L);
    if (threads == 0)
      cpu::reparameterize_backward(lvv, eps.t(), dzv, dm, dl);
    else
      cpu::fast::reparameterize_backward(*test::pool(threads), lvv, eps.t(), dzv, dm, dl);
    return std::vector<Output>{{"dstats", ds.v}};
  };
}

Run adam_case() {
  return [](int threads) {
    const std::int64_t n = 70001;  // 5 chunks, the last one short
    HostTensor p = input({n}, 15), g = input({n}, 16, -2.f, 2.f), m = input({n}, 17, -0.1f, 0.1f);
    HostTensor v = input({n}, 18, 0.f, 0.01f);
    for (std::int64_t i = 0; i < n; i += 11) m.v[i] = 1e-39f, v.v[i] = 1e-40f, g.v[i] = 1e-30f;  // flushed moments
    Schedule sched;
    sched.adam.lr = 3e-3, sched.adam.weight_decay = 0.05, sched.adam.l2 = 0.1;
    const StepScalars s = step_scalars(sched, 7, 1);
    if (threads == 0)
      cpu::adam_step(p.t(), g.t(), m.t(), v.t(), s);
    else
      cpu::fast::adam_step(*test::pool(threads), p.t(), g.t(), m.t(), v.t(), s);
    return std::vector<Output>{{"params", p.v}, {"exp_avg", m.v}, {"exp_avg_sq", v.v}};
  };
}

Run repeat_rows_case() {
  return [](int threads) {
    const std::int64_t n = 23, C = 197, K = 41;  // src columns [3, 200) of [n, 203]; dst [1, 198) of [n K, 199]
    HostTensor src = input({n, C + 6}, 19), dst = test::poisoned({n * K, C + 2});
    if (threads == 0)
      cpu::repeat_rows(view(src, 3, C), static_cast<int>(K), view(dst, 1, C));
    else
      cpu::fast::repeat_rows(*test::pool(threads), view(src, 3, C), static_cast<int>(K), view(dst, 1, C));
    return std::vector<Output>{{"dst", dst.v}};
  };
}

Run iwae_bound_case() {
  return [](int threads) {
    const std::int64_t n = 40, K = 601, L = 5, R = n * K;  // 8 chunks of weights, 2 of images
    HostTensor recon = input({R}, 20, 20.f, 60.f), eps = input({R, L}, 21, -2.5f, 2.5f), z = input({R, L + 3}, 22, -3.f, 3.f);
    HostTensor st = input({n, 2 * L}, 23, -3.f, 1.f), bound = test::poisoned({n}), elbo = test::poisoned({n});
    const Tensor zv = view(z, 2, L), lv = view(st, L, L), et = elbo.t();
    if (threads == 0)
      cpu::iwae_bound(recon.t(), eps.t(), zv, lv, static_cast<int>(K), bound.t(), &et);
    else
      cpu::fast::iwae_bound(*test::pool(threads), recon.t(), eps.t(), zv, lv, static_cast<int>(K), bound.t(), &et);
    return std::vector<Output>{{"bound", bound.v}, {"elbo", elbo.v}};
  };
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, FastOps,
    ::testing::Values(FastCase{"LinearForwardRelu", false, linear_forward_case(Activation::relu)},
                      FastCase{"LinearForwardNone", false, linear_forward_case(Activation::none)},
                      FastCase{"LinearForwardSigmoid", false, linear_forward_case(Activation::sigmoid)},
                      FastCase{"LinearBackwardRelu", false, linear_backward_case(Activation::relu, true)},
                      FastCase{"LinearBackwardSigmoid", false, linear_backward_case(Activation::sigmoid, true)},
                      FastCase{"LinearBackwardNoDx", false, linear_backward_case(Activation::none, false)},
                      FastCase{"LinearLeakyRelu", false, linear_leaky_relu_case()},
                      FastCase{"LikelihoodBernoulli", false, likelihood_case(Likelihood::bernoulli, true)},
                      FastCase{"LikelihoodBernoulliTermOnly", false, likelihood_case(Likelihood::bernoulli, false)},
                      FastCase{"LikelihoodGaussian", false, likelihood_case(Likelihood::gaussian, true)},
                      FastCase{"KlDivergence", false, kl_case(true)},
                      FastCase{"KlDivergenceTermOnly", false, kl_case(false)},
                      FastCase{"Normal", true, normal_case()},
                      FastCase{"Reparameterize", false, reparameterize_case()},
                      FastCase{"ReparameterizeBackward", false, reparameterize_backward_case()},
                      FastCase{"AdamStep", true, adam_case()},
                      FastCase{"RepeatRows", true, repeat_rows_case()},
                      FastCase{"IwaeBound", true, iwae_bound_case()}),
    [](const auto& tp) { return std::string(tp.param.name); });

// The term without gradient and rows is the term with them, bit for bit (the same row sums).
TEST(FastOpsTerms, LikelihoodAndKlTermsDoNotDependOnTheOptionalOutputs) {
  for (Likelihood kind : {Likelihood::bernoulli, Likelihood::gaussian}) {
    const std::vector<Output> with = likelihood_case(kind, true)(2), without = likelihood_case(kind, false)(2);
    EXPECT_TRUE(same_bits(with[0].v, without[0].v)) << (kind == Likelihood::bernoulli ? "bernoulli" : "gaussian");
  }
  EXPECT_TRUE(same_bits(kl_case(true)(2)[0].v, kl_case(false)(2)[0].v));
}

// The shape checks are the references': the same messages.
TEST(FastOpsTerms, ShapeErrorsAreTheReferences) {
  HostTensor x({4, 5}), w({3, 6}), b({3}), y({4, 3});
  EXPECT_EQ(test::error_of([&] { cpu::fast::linear_forward(*test::pool(2), x.t(), w.t(), b.t(), Activation::none, y.t()); }),
            test::error_of([&] { cpu::linear_forward(x.t(), w.t(), b.t(), Activation::none, y.t()); }));
  HostTensor r({6}), e({6, 2}), lv({2, 2}), bd({2});
  EXPECT_EQ(test::error_of([&] { cpu::fast::iwae_bound(*test::pool(2), r.t(), e.t(), e.t(), lv.t(), 2, bd.t(), nullptr); }),
            test::error_of([&] { cpu::iwae_bound(r.t(), e.t(), e.t(), lv.t(), 2, bd.t(), nullptr); }));
  EXPECT_NE(test::error_of([&] { cpu::fast::iwae_bound(*test::pool(2), r.t(), e.t(), e.t(), lv.t(), 2, bd.t(), nullptr); }),
            "<no cuvae::Error thrown>");
}

}  // namespace
}  // namespace cuvae
