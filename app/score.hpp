// `cuvae score CKPT --classifier CLS`: the Frechet distance of a generative model's samples to the
// test images in the feature space of a classifier trained by cuvae on the same data (the FID
// recipe of Heusel et al. 2017, with that classifier in place of Inception), the classifier's own
// test accuracy for scale, and the library function behind it for tests.
#pragma once
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "app/train.hpp"

namespace cuvae {

constexpr int kScoreDefaultCount = 10000;
constexpr int kScoreMaxCount = 100000;
constexpr std::int64_t kScoreBatch = 1000;  // rows per batch through the model and the classifier

// The mean [d] and covariance [d, d] (row-major, both triangles; divisor n - 1, as numpy.cov and
// the FID reference code) of n feature rows [n, d], accumulated in float64 row by row in order, so
// identical rows give identical bits. `what` names the set in errors (fewer than 2 rows, a
// non-finite value).
struct FeatureStats {
  std::int64_t count = 0;
  int dim = 0;
  std::vector<double> mean, cov;
};
FeatureStats feature_stats(std::span<const float> rows, std::int64_t n, int d, const std::string& what);
FeatureStats feature_stats(std::span<const double> rows, std::int64_t n, int d, const std::string& what);

// d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}) in float64. The trace of the square
// root is sum_i sqrt(eig_i(A)) for the symmetric PSD A = S_1^{1/2} S_2 S_1^{1/2}, computed as the sum
// of the singular values of B = S_2^{1/2} S_1^{1/2} (A = B^T B; LAPACK's dgesvd), each root
// S^{1/2} = V diag(sqrt(max(l, 0))) V^T from LAPACK's dsyevr. Not clamped at 0 (identical sets
// give a value within rounding of it).
double frechet_distance(const FeatureStats& a, const FeatureStats& b);
double frechet_distance(std::span<const float> x1, std::int64_t n1, std::span<const float> x2, std::int64_t n2, int d);
double frechet_distance(std::span<const double> x1, std::int64_t n1, std::span<const double> x2, std::int64_t n2,
                        int d);

struct ScoreOptions {
  std::filesystem::path checkpoint, classifier;
  DataOptions data;  // the test split
  std::int64_t test_limit = 0;                              // 0: the whole test split
  int count = kScoreDefaultCount;                           // samples drawn, 2..kScoreMaxCount
  std::uint64_t seed = 1;                                   // batch c's z: Philox (seed, sample, c)
  RunOptions run;
};

struct ScoreResult {
  double frechet = 0;
  std::int64_t samples = 0, test_images = 0;
  int features = 0;
  double test_accuracy = 0;  // the classifier's, on the test images
  // score: cvae hook. For a model that needs_labels(): sample i is drawn for label i mod C, and
  // this is the share of samples the classifier assigns to the label they were drawn for.
  bool conditional = false;
  double conditional_accuracy = 0;
};

// Samples opt.count images from the checkpoint (sample_prior, then decode, in batches of
// kScoreBatch), takes the classifier's penultimate features (encode) of them and of the test
// images, and compares the two. A classifier that is not one, a checkpoint that cannot sample,
// or input sizes that differ are UsageErrors naming the file.
ScoreResult score_checkpoint(const ScoreOptions& opt, std::ostream& out);
// "score: Frechet distance 12.345 (classifier features of 10000 samples vs 10000 test images,
// 400-d); classifier test accuracy 0.8864"
std::string describe(const ScoreResult& r);

}  // namespace cuvae
