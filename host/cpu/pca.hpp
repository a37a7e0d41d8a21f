// Closed-form PCA on the CPU: mean, covariance (float64, OpenBLAS) and its top-K eigenpairs (LAPACK).
#pragma once
#include "host/tensor.hpp"

namespace cuvae::cpu {

// x [N, D] float32 in host memory, N >= 2, 1 <= K <= D. Writes
//   mean [D]          the column means,
//   components [K, D] orthonormal rows, the covariance's eigenvectors by descending eigenvalue, each
//                     row's sign fixed so that its entry of largest magnitude as written (float32; the
//                     first of equals) is positive,
//   variance [K]      the matching eigenvalues of the covariance with divisor N-1 (scikit-learn's
//                     explained_variance_).
// The mean is accumulated in float64; the covariance in float32 over chunks of 1024 rows whose sums are
// added in float64, whatever N. Uses as many OpenBLAS threads as the
// caller set (openblas_set_num_threads); holds a D x D float64 matrix and a bounded chunk of rows.
// Throws Error naming the shapes, before allocating anything, on bad shapes or non-host tensors; and
// Error on non-finite values in x (found by the mean pass, before any output is written).
void pca_fit(const Tensor& x, int K, const Tensor& mean, const Tensor& components, const Tensor& variance);

}  // namespace cuvae::cpu
