// `cuvae compare pca-ae`: the lecture asks whether a one-hidden-layer linear autoencoder trained
// by gradient descent gives the same result as PCA. This fits pca and trains linear-ae with the
// same K on the same data, then compares them: test reconstruction errors and the Eckart-Young
// bound, the principal angles between the decoder's column space and the PCA subspace, how the
// decoder's left singular vectors line up with the components, and how far its columns are from
// orthonormal (with an L2 penalty, Kunin et al. 2019, they line up; without, any basis of the
// subspace is as good: Baldi & Hornik 1989).
#pragma once
#include <filesystem>
#include <ostream>
#include <vector>

#include "app/train.hpp"

namespace cuvae {

struct CompareOptions {
  RunOptions run;
  DataOptions data;
  std::filesystem::path out_dir;  // out: runs/compare-<date-time> when empty
  int latent = 20;
  int epochs = 10;
  std::int64_t batch_size = 128;
  double lr = 1e-3;
  double l2 = 0.0;  // --weight-decay: the L2 penalty on the linear autoencoder's weights
  std::uint64_t seed = 1;
  std::int64_t train_limit = 0, test_limit = 0;
  bool progress = true;
};

struct CompareResult {
  double pca_error = 0, ae_error = 0;  // test squared error per image
  double eckart_young = 0;             // per image: the training covariance's discarded eigenvalues, summed
  std::vector<double> angles_deg;      // principal angles, ascending
  std::vector<double> singular_cos;    // |cos| between the decoder's i-th left singular vector and component i
  std::vector<double> singular_values; // of the decoder weight [D, K], descending
  double orthonormality = 0;           // ||W^T W - I||_F of the decoder weight
  std::filesystem::path json, png;
};

CompareResult compare_pca_ae(const CompareOptions& opt, std::ostream& out);

// Eigen-decomposition of the symmetric n x n matrix a (row-major; symmetric, so column-major too),
// through LAPACK's dsyev: eigenvalues descending into w, eigenvector j in column j of v (v[i * n + j]).
void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& v);

// The principal angles (degrees, ascending) between the column spaces of A [D, K] and B [D, K]
// (row-major, columns need not be orthonormal; both of full column rank).
std::vector<double> principal_angles(const std::vector<double>& a, const std::vector<double>& b, int D, int K);

}  // namespace cuvae
