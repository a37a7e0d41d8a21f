// BatchNorm2d (+ activation) by its definition in plain double loops (PyTorch's semantics), the
// oracle of the batchnorm tests, the table of shapes they run and their inputs.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "reference_conv.hpp"  // act_ref, act_derivative_from_output
#include "support.hpp"

namespace cuvae::test {

struct BatchNormCase {
  const char* name;
  int channels, h, w, batch;
  long long plane() const { return static_cast<long long>(h) * w; }
  long long cols() const { return channels * plane(); }
};
inline void PrintTo(const BatchNormCase& c, std::ostream* os) { *os << c.name; }

// C no multiple of anything, H*W = 1, 7x7 and 14x14, B = 1, 2 and 5; one channel of more than 2048
// values (the launcher's larger block). Small: the SIMT runtime runs every case.
inline std::vector<BatchNormCase> batchnorm_cases() {
  return {
      {"c1_1x1_b2", 1, 1, 1, 2},     // the fewest values training allows: 2
      {"c3_1x1_b5", 3, 1, 1, 5},     // after a flatten: B values per channel
      {"c5_7x7_b1", 5, 7, 7, 1},
      {"c7_7x7_b2", 7, 7, 7, 2},
      {"c3_14x14_b5", 3, 14, 14, 5},
      {"c2_3x5_b2", 2, 3, 5, 2},     // not square
      {"c2_24x24_b5", 2, 24, 24, 5},  // 2880 values per channel
  };
}

// The inputs of a case: x off-centre per channel (the mean matters), gamma of both signs, running
// statistics that are not PyTorch's initial ones.
struct BatchNormInputs {
  HostTensor x, gamma, beta, running_mean, running_var, dy;
  BatchNormInputs(const BatchNormCase& c, std::uint64_t seed)
      : x(random_tensor({c.batch, c.cols()}, seed, -1.f, 3.f)),
        gamma(random_tensor({c.channels}, seed + 1, -1.5f, 1.5f)),
        beta(random_tensor({c.channels}, seed + 2, -0.5f, 0.5f)),
        running_mean(random_tensor({c.channels}, seed + 3, -0.5f, 0.5f)),
        running_var(random_tensor({c.channels}, seed + 4, 0.5f, 2.f)),
        dy(random_tensor({c.batch, c.cols()}, seed + 5)) {
    for (std::size_t i = 0; i < x.v.size(); ++i) x.v[i] += float((i / static_cast<std::size_t>(c.plane())) % c.channels);
  }
};

struct BatchNormRef {
  std::vector<double> y, mean, invstd, running_mean, running_var;  // forward
  std::vector<double> dx, dgamma, dbeta;                           // backward (training)
  // The size of dx's terms, max |gamma invstd g|: with few values per channel dx cancels far below
  // it (two values: to eps / var of it), under what the float32 saved statistics resolve, so dx's
  // error is measured against this scale.
  double dx_terms = 0;

  // all_close's rtol (relative to max|dx|) for an error of `rtol` relative to dx_terms.
  double dx_rtol(double rtol) const {
    double m = 0;
    for (double v : dx) m = std::max(m, std::fabs(v));
    return rtol * std::max(dx_terms, m) / std::max(m, 1e-300);
  }
};

// The forward (training: batch statistics, the running update with the unbiased variance; eval: the
// running statistics) and, in training, the backward of L = sum(dy * y).
inline BatchNormRef batchnorm_ref(const BatchNormCase& c, const BatchNormInputs& in, bool training, double momentum,
                                  double eps, Activation act) {
  const long long C = c.channels, P = c.plane(), n = c.batch * P;
  auto at = [&](long long b, long long ch, long long p) { return static_cast<std::size_t>((b * C + ch) * P + p); };
  BatchNormRef r;
  r.y.resize(in.x.v.size()), r.dx.resize(in.x.v.size());
  for (long long ch = 0; ch < C; ++ch) {
    const std::size_t k = static_cast<std::size_t>(ch);
    double mean = 0, var = 0;
    for (long long b = 0; b < c.batch; ++b)
      for (long long p = 0; p < P; ++p) mean += in.x.v[at(b, ch, p)];
    mean /= double(n);
    for (long long b = 0; b < c.batch; ++b)
      for (long long p = 0; p < P; ++p) var += (in.x.v[at(b, ch, p)] - mean) * (in.x.v[at(b, ch, p)] - mean);
    var /= double(n);
    const double rm = in.running_mean.v[k], rv = in.running_var.v[k];
    r.mean.push_back(mean), r.invstd.push_back(1 / std::sqrt(var + eps));
    r.running_mean.push_back((1 - momentum) * rm + momentum * mean);
    r.running_var.push_back((1 - momentum) * rv + momentum * var * double(n) / double(n - 1));
    const double m = training ? mean : rm, inv = training ? r.invstd.back() : 1 / std::sqrt(rv + eps);
    double sum_g = 0, sum_gx = 0;
    for (long long b = 0; b < c.batch; ++b)
      for (long long p = 0; p < P; ++p) {
        const std::size_t i = at(b, ch, p);
        const double xhat = (in.x.v[i] - m) * inv;
        r.y[i] = act_ref(act, in.gamma.v[k] * xhat + in.beta.v[k]);
        const double g = in.dy.v[i] * act_derivative_from_output(act, r.y[i]);
        sum_g += g, sum_gx += g * xhat;
      }
    r.dbeta.push_back(sum_g), r.dgamma.push_back(sum_gx);
    for (long long b = 0; b < c.batch; ++b)
      for (long long p = 0; p < P; ++p) {
        const std::size_t i = at(b, ch, p);
        const double xhat = (in.x.v[i] - m) * inv, g = in.dy.v[i] * act_derivative_from_output(act, r.y[i]);
        r.dx[i] = in.gamma.v[k] * inv * (g - sum_g / double(n) - xhat * sum_gx / double(n));
        r.dx_terms = std::max(r.dx_terms, std::fabs(in.gamma.v[k] * inv * g));
      }
  }
  return r;
}

inline const std::vector<Activation>& batchnorm_activations() {
  static const std::vector<Activation> acts{Activation::none, Activation::relu, Activation::leaky_relu,
                                            Activation::sigmoid};
  return acts;
}

}  // namespace cuvae::test
