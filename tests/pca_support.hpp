// Helpers shared by the PCA tests (test_pca.cpp, test_pca_cuda.cpp): data with a known spectrum,
// NaN-poisoned outputs, and the checks on a fitted basis (orthonormality, principal angles, signs).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "host/cpu/pca.hpp"
#include "host/tensor.hpp"

namespace cuvae::test {

// x [N, D] = mean + z diag(scales) Q^T with z standard normal and Q a random orthogonal basis: the
// population covariance has eigenvalues scales^2 (distinct, decaying 0.9 per step) and eigenvectors
// the columns of Q; the mean is far from zero so that centring matters.
struct KnownSpectrum {
  std::int64_t N, D;
  std::vector<float> x;
  std::vector<double> population_variance;  // scales^2, descending
};

inline KnownSpectrum known_spectrum(std::int64_t N, std::int64_t D, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const auto d = static_cast<std::size_t>(D);
  // Q by Gram-Schmidt (twice, for orthogonality to double precision) of a Gaussian matrix; row i of q
  // is basis vector i.
  std::vector<double> q(d * d);
  for (double& v : q) v = normal(rng);
  for (std::size_t i = 0; i < d; ++i)
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t k = 0; k < i; ++k) {
        double dot = 0;
        for (std::size_t j = 0; j < d; ++j) dot += q[i * d + j] * q[k * d + j];
        for (std::size_t j = 0; j < d; ++j) q[i * d + j] -= dot * q[k * d + j];
      }
      double norm = 0;
      for (std::size_t j = 0; j < d; ++j) norm += q[i * d + j] * q[i * d + j];
      for (std::size_t j = 0; j < d; ++j) q[i * d + j] /= std::sqrt(norm);
    }
  KnownSpectrum s{N, D, std::vector<float>(static_cast<std::size_t>(N) * d), {}};
  std::vector<double> scales(d), z(d);
  for (std::size_t i = 0; i < d; ++i) {
    scales[i] = 3.0 * std::pow(0.9, static_cast<double>(i));
    s.population_variance.push_back(scales[i] * scales[i]);
  }
  for (std::int64_t r = 0; r < N; ++r) {
    for (std::size_t i = 0; i < d; ++i) z[i] = scales[i] * normal(rng);
    for (std::size_t j = 0; j < d; ++j) {
      double v = 5.0 + 0.25 * std::sin(static_cast<double>(j));
      for (std::size_t i = 0; i < d; ++i) v += z[i] * q[i * d + j];
      s.x[static_cast<std::size_t>(r) * d + j] = static_cast<float>(v);
    }
  }
  return s;
}

// Outputs of one fit, NaN before the call so that every element must be written.
struct PcaOutputs {
  std::int64_t K, D;
  std::vector<float> mean, components, variance;
  PcaOutputs(std::int64_t k, std::int64_t d)
      : K(k),
        D(d),
        mean(static_cast<std::size_t>(d), std::nanf("")),
        components(static_cast<std::size_t>(k * d), std::nanf("")),
        variance(static_cast<std::size_t>(k), std::nanf("")) {}
  Tensor mean_t() { return {mean.data(), {D}, Device::cpu}; }
  Tensor components_t() { return {components.data(), {K, D}, Device::cpu}; }
  Tensor variance_t() { return {variance.data(), {K}, Device::cpu}; }
};

inline PcaOutputs fit_cpu(const std::vector<float>& x, std::int64_t N, std::int64_t D, int K) {
  PcaOutputs out(K, D);
  const Tensor xt{const_cast<float*>(x.data()), {N, D}, Device::cpu};
  cpu::pca_fit(xt, K, out.mean_t(), out.components_t(), out.variance_t());
  return out;
}

// Eigenvalues of a symmetric n x n matrix (row-major, overwritten) by cyclic Jacobi rotations: small
// and independent of the LAPACK that cuvae itself calls.
inline std::vector<double> jacobi_eigenvalues(std::vector<double> a, std::size_t n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30) break;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq, a[k * n + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk, a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = a[i * n + i];
  return w;
}

// The largest principal angle, in degrees, between the row spaces of a [K, D] and b [K, D], both with
// orthonormal rows: the singular values of a b^T are the cosines of the angles, so the smallest
// eigenvalue of (a b^T)^T (a b^T) is cos^2 of the largest angle.
template <class A, class B>
double max_principal_angle_deg(const std::vector<A>& a, const std::vector<B>& b, std::size_t K, std::size_t D) {
  std::vector<double> m(K * K, 0.0), g(K * K, 0.0);
  for (std::size_t i = 0; i < K; ++i)
    for (std::size_t j = 0; j < K; ++j)
      for (std::size_t d = 0; d < D; ++d) m[i * K + j] += double(a[i * D + d]) * double(b[j * D + d]);
  for (std::size_t i = 0; i < K; ++i)
    for (std::size_t j = 0; j < K; ++j)
      for (std::size_t k = 0; k < K; ++k) g[i * K + j] += m[k * K + i] * m[k * K + j];
  const std::vector<double> w = jacobi_eigenvalues(g, K);
  const double cos2 = std::clamp(*std::min_element(w.begin(), w.end()), 0.0, 1.0);
  return std::asin(std::sqrt(1 - cos2)) * 180 / std::numbers::pi;
}

// max |c c^T - I| over the K x K Gram matrix of the rows.
inline double orthonormality_error(const std::vector<float>& c, std::size_t K, std::size_t D) {
  double worst = 0;
  for (std::size_t i = 0; i < K; ++i)
    for (std::size_t j = 0; j < K; ++j) {
      double dot = 0;
      for (std::size_t d = 0; d < D; ++d) dot += double(c[i * D + d]) * double(c[j * D + d]);
      worst = std::max(worst, std::fabs(dot - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

// The sign rule: in each row the entry of largest magnitude (the first of equals) is positive.
inline ::testing::AssertionResult signs_fixed(const std::vector<float>& c, std::size_t K, std::size_t D) {
  for (std::size_t i = 0; i < K; ++i) {
    std::size_t top = 0;
    for (std::size_t d = 1; d < D; ++d)
      if (std::fabs(c[i * D + d]) > std::fabs(c[i * D + top])) top = d;
    if (!(c[i * D + top] > 0))
      return ::testing::AssertionFailure() << "row " << i << ": largest-magnitude entry [" << top << "] = "
                                           << c[i * D + top] << " is not positive";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace cuvae::test
