// The Frechet distance in a cuvae classifier's feature space (see score.hpp).
#include "app/score.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app/session.hpp"
#include "datasets/idx.hpp"
#include "models/model.hpp"

// LAPACK's symmetric eigensolver (declared as host/cpu/pca.cpp declares it: Debian's OpenBLAS has
// no LAPACKE header; gfortran passes each CHARACTER argument's length as a trailing size_t).
extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a,
                        const int* lda, const double* vl, const double* vu, const int* il, const int* iu,
                        const double* abstol, int* m, double* w, double* z, const int* ldz, int* isuppz,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info,
                        std::size_t jobz_len, std::size_t range_len, std::size_t uplo_len);
extern "C" void dgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, double* a, const int* lda,
                        double* s, double* u, const int* ldu, double* vt, const int* ldvt, double* work,
                        const int* lwork, int* info, std::size_t jobu_len, std::size_t jobvt_len);

namespace cuvae {
namespace {

template <class T>
FeatureStats stats_of(std::span<const T> rows, std::int64_t n, int d, const std::string& what) {
  if (d < 1) throw Error("Frechet distance: the " + what + " have " + std::to_string(d) + " features per row");
  if (n < 2)
    throw Error("Frechet distance: the " + what + " have " + std::to_string(n) +
                " feature rows; a covariance needs at least 2");
  const auto D = static_cast<std::size_t>(d);
  if (rows.size() != static_cast<std::size_t>(n) * D)
    throw Error("Frechet distance: the " + what + " hold " + std::to_string(rows.size()) + " values, not " +
                std::to_string(n) + " x " + std::to_string(d));
  FeatureStats s{n, d, std::vector<double>(D, 0.0), std::vector<double>(D * D, 0.0)};
  for (std::int64_t r = 0; r < n; ++r) {
    const T* row = rows.data() + static_cast<std::size_t>(r) * D;
    for (std::size_t j = 0; j < D; ++j) {
      if (!std::isfinite(static_cast<double>(row[j])))
        throw Error("Frechet distance: the " + what + " have a non-finite feature (row " + std::to_string(r) +
                    ", column " + std::to_string(j) + ")");
      s.mean[j] += static_cast<double>(row[j]);
    }
  }
  for (double& m : s.mean) m /= static_cast<double>(n);
  // Upper triangle of the scatter matrix, row after row; then the divisor and the mirror image.
  std::vector<double> c(D);
  for (std::int64_t r = 0; r < n; ++r) {
    const T* row = rows.data() + static_cast<std::size_t>(r) * D;
    for (std::size_t j = 0; j < D; ++j) c[j] = static_cast<double>(row[j]) - s.mean[j];
    for (std::size_t i = 0; i < D; ++i) {
      const double ci = c[i];
      double* out = s.cov.data() + i * D;
      for (std::size_t j = i; j < D; ++j) out[j] += ci * c[j];
    }
  }
  const double divisor = static_cast<double>(n - 1);
  for (std::size_t i = 0; i < D; ++i)
    for (std::size_t j = i; j < D; ++j) s.cov[j * D + i] = s.cov[i * D + j] /= divisor;
  return s;
}

// Eigenvalues (ascending) of the symmetric d x d matrix a (destroyed), and with `vectors` its
// eigenvectors as the columns of a column-major d x d matrix.
std::vector<double> symmetric_eigen(std::vector<double>& a, int d, std::vector<double>* vectors, const char* what) {
  const char* jobz = vectors ? "V" : "N";
  const int ldz = d, il = 0, iu = 0;
  const double vl = 0, vu = 0, abstol = 0;
  int found = 0, info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  std::vector<double> w(static_cast<std::size_t>(d));
  std::vector<double> scratch(1);
  double* z = scratch.data();
  if (vectors) {
    vectors->assign(static_cast<std::size_t>(d) * static_cast<std::size_t>(d), 0.0);
    z = vectors->data();
  }
  std::vector<int> isuppz(2 * static_cast<std::size_t>(d));
  dsyevr_(jobz, "A", "L", &d, a.data(), &d, &vl, &vu, &il, &iu, &abstol, &found, w.data(), z, &ldz, isuppz.data(),
          &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1, 1);
  if (info != 0) throw Error(std::string("Frechet distance: dsyevr workspace query for ") + what + ": info " +
                             std::to_string(info));
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(static_cast<std::size_t>(lwork));
  std::vector<int> iwork(static_cast<std::size_t>(liwork));
  dsyevr_(jobz, "A", "L", &d, a.data(), &d, &vl, &vu, &il, &iu, &abstol, &found, w.data(), z, &ldz, isuppz.data(),
          work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1, 1);
  if (info != 0 || found != d)
    throw Error(std::string("Frechet distance: dsyevr failed for ") + what + " (" + std::to_string(d) + " x " +
                std::to_string(d) + ", info " + std::to_string(info) + ", " + std::to_string(found) + " eigenvalues)");
  return w;
}

// S^{1/2} = V diag(sqrt(max(l, 0))) V^T of a symmetric PSD d x d matrix (eigenvalues below 0 from
// rounding clamped), column-major = row-major as it is symmetric.
std::vector<double> symmetric_root(const std::vector<double>& s, int d, const char* what) {
  const auto D = static_cast<std::size_t>(d);
  std::vector<double> a = s, v;
  const std::vector<double> l = symmetric_eigen(a, d, &v, what);
  std::vector<double> w = v, root(D * D);
  for (std::size_t k = 0; k < D; ++k) {
    const double r = std::sqrt(std::max(l[k], 0.0));
    for (std::size_t j = 0; j < D; ++j) w[k * D + j] *= r;
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, w.data(), d, v.data(), d, 0.0, root.data(), d);
  return root;
}

// The singular values of the column-major d x d matrix a (destroyed), by LAPACK's dgesvd.
std::vector<double> singular_values(std::vector<double>& a, int d, const char* what) {
  std::vector<double> sv(static_cast<std::size_t>(d));
  const int one = 1;
  double u = 0, vt = 0, work_query = 0;
  int lwork = -1, info = 0;
  dgesvd_("N", "N", &d, &d, a.data(), &d, sv.data(), &u, &one, &vt, &one, &work_query, &lwork, &info, 1, 1);
  if (info != 0)
    throw Error(std::string("Frechet distance: dgesvd workspace query for ") + what + ": info " + std::to_string(info));
  lwork = static_cast<int>(work_query);
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgesvd_("N", "N", &d, &d, a.data(), &d, sv.data(), &u, &one, &vt, &one, work.data(), &lwork, &info, 1, 1);
  if (info != 0)
    throw Error(std::string("Frechet distance: dgesvd failed for ") + what + " (" + std::to_string(d) + " x " +
                std::to_string(d) + ", info " + std::to_string(info) + ")");
  return sv;
}

}  // namespace

FeatureStats feature_stats(std::span<const float> rows, std::int64_t n, int d, const std::string& what) {
  return stats_of(rows, n, d, what);
}
FeatureStats feature_stats(std::span<const double> rows, std::int64_t n, int d, const std::string& what) {
  return stats_of(rows, n, d, what);
}

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  if (a.dim != b.dim)
    throw Error("Frechet distance: feature sets of " + std::to_string(a.dim) + " and " + std::to_string(b.dim) +
                " dimensions");
  const int d = a.dim;
  const auto D = static_cast<std::size_t>(d);
  double mean_term = 0, trace = 0;
  for (std::size_t j = 0; j < D; ++j) {
    const double diff = a.mean[j] - b.mean[j];
    mean_term += diff * diff;
    trace += a.cov[j * D + j] + b.cov[j * D + j];
  }
  // Tr((S_1 S_2)^{1/2}) = sum_i sqrt(eig_i(A)) for A = S_1^{1/2} S_2 S_1^{1/2} = B^T B with
  // B = S_2^{1/2} S_1^{1/2}: the sum of B's singular values. Taken from the SVD rather than from
  // A's eigenvalues, whose absolute error eps ||A|| becomes sqrt(eps ||A||) under the square root
  // (identical 50-d sets gave -2.7e-7 that way, ~1e-13 this way).
  const std::vector<double> r1 = symmetric_root(a.cov, d, "the first covariance");
  const std::vector<double> r2 = symmetric_root(b.cov, d, "the second covariance");
  std::vector<double> m(D * D);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, r2.data(), d, r1.data(), d, 0.0, m.data(), d);
  double root_trace = 0;
  for (const double sv : singular_values(m, d, "S_2^1/2 S_1^1/2")) root_trace += sv;
  return mean_term + trace - 2.0 * root_trace;
}

double frechet_distance(std::span<const float> x1, std::int64_t n1, std::span<const float> x2, std::int64_t n2, int d) {
  return frechet_distance(feature_stats(x1, n1, d, "first set"), feature_stats(x2, n2, d, "second set"));
}
double frechet_distance(std::span<const double> x1, std::int64_t n1, std::span<const double> x2, std::int64_t n2,
                        int d) {
  return frechet_distance(feature_stats(x1, n1, d, "first set"), feature_stats(x2, n2, d, "second set"));
}

namespace {

// A checkpoint's model on `backend`, for batches of kScoreBatch rows; failures name the file.
std::unique_ptr<Model> load_scored(Backend& backend, const std::filesystem::path& file, const ModelConfig& config) {
  std::unique_ptr<Model> m = make_model(config);
  try {
    m->allocate(backend, kScoreBatch);
  } catch (const Error& e) {
    throw Error(file.string() + ": the " + config.model + " model for batches of " + std::to_string(kScoreBatch) +
                " rows: " + e.what());
  }
  load_checkpoint(file, backend, *m);
  return m;
}

std::size_t term_index(const Model& m, const std::string& name) {
  const std::vector<std::string> names = m.term_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw Error("the " + m.config().model + " model records no '" + name + "' term");
  return static_cast<std::size_t>(it - names.begin());
}

// The classifier on rows x [b, D] with labels [b, 1]: appends its features to `features` and
// returns how many rows it assigns to their label (the `correct` term).
double classify(Backend& backend, Model& classifier, const Batch& batch, std::vector<float>& features) {
  classifier.eval_batch(backend, batch, RngKey{}, false);
  std::vector<float> terms(classifier.term_names().size());
  backend.to_host(terms.data(), classifier.terms());
  const Tensor f = classifier.encode(backend, batch.x);
  const std::size_t at = features.size();
  features.resize(at + static_cast<std::size_t>(f.numel()));
  backend.to_host(features.data() + at, f);
  return terms[term_index(classifier, "correct")];
}

// score: cvae hook. The pixel means of z; a conditional model (the cvae) decodes each z with its
// label ([b, 1] int32 on the device).
Tensor decode_samples(Backend& backend, Model& model, const Tensor& z, const Tensor& labels) {
  return model.conditional() ? model.decode_given(backend, z, labels) : model.decode(backend, z);
}

}  // namespace

ScoreResult score_checkpoint(const ScoreOptions& opt, std::ostream& out) {
  if (opt.count < 2 || opt.count > kScoreMaxCount)
    throw UsageError("--count " + std::to_string(opt.count) + ": want an integer in 2.." +
                     std::to_string(kScoreMaxCount));
  // Every check on the two headers before anything is allocated.
  const ModelConfig mc = read_checkpoint_header(opt.checkpoint).config;
  const ModelConfig cc = read_checkpoint_header(opt.classifier).config;
  if (cc.model != "classifier")
    throw UsageError("--classifier " + opt.classifier.string() + ": holds a " + cc.model +
                     ", not a classifier (train one with --model classifier)");
  if (!make_model(mc)->generates())
    throw UsageError("score: " + opt.checkpoint.string() + " holds a " + mc.model +
                     ", which cannot sample; score a generative model (pca, ae, vae, ...)");
  if (cc.input_dim != mc.input_dim)
    throw UsageError("--classifier " + opt.classifier.string() + " takes images of " + std::to_string(cc.input_dim) +
                     " pixels, but " + opt.checkpoint.string() + " (" + mc.model + ") generates " +
                     std::to_string(mc.input_dim));
  const std::unique_ptr<Backend> backend = make_run_backend(opt.run, out);
  const std::unique_ptr<Model> model = load_scored(*backend, opt.checkpoint, mc);
  const std::unique_ptr<Model> classifier = load_scored(*backend, opt.classifier, cc);
  const bool conditional = model->conditional();  // score: cvae hook
  if (conditional && mc.classes != cc.classes)
    throw UsageError("--classifier " + opt.classifier.string() + " has " + std::to_string(cc.classes) + " classes, but " +
                     opt.checkpoint.string() + " (" + mc.model + ") draws " + std::to_string(mc.classes));

  const std::filesystem::path data = data_path(opt.data);
  const Dataset test = load_data(for_model(opt.data, cc), Split::test, opt.test_limit, out);
  check_test_images(data, test, opt.classifier, cc.input_dim);
  require_labels(test, cc, data, "test");  // the classifier's own accuracy
  for (std::size_t i = 0; i < test.labels.size(); ++i)
    if (test.labels[i] >= cc.classes)
      throw Error(data.string() + ": test label " + std::to_string(test.labels[i]) + " (image " + std::to_string(i) +
                  ") is outside the classifier's " + std::to_string(cc.classes) + " classes");

  const int D = cc.input_dim;
  Buffer x(*backend, Shape{kScoreBatch, D}), labels(*backend, Shape{kScoreBatch, 1}, DType::i32),
      z(*backend, Shape{kScoreBatch, mc.latent});
  std::vector<std::int32_t> host_labels(static_cast<std::size_t>(kScoreBatch));
  auto put_labels = [&](std::int64_t b) {
    const Tensor t = labels.tensor().rows_view(0, b);
    backend->to_device(t, reinterpret_cast<const float*>(host_labels.data()));  // 4-byte words as they are
    return t;
  };

  // The test images' features and the classifier's accuracy on them.
  std::vector<float> real, fake;
  double correct = 0;
  for (std::int64_t first = 0; first < test.count; first += kScoreBatch) {
    const std::int64_t b = std::min(kScoreBatch, test.count - first);
    const Tensor xb = x.tensor().rows_view(0, b);
    backend->to_device(xb, test.images.data() + first * D);
    for (std::int64_t i = 0; i < b; ++i) host_labels[static_cast<std::size_t>(i)] = test.labels[static_cast<std::size_t>(first + i)];
    correct += classify(*backend, *classifier, {xb, put_labels(b)}, real);
  }

  // The samples: batch c's z from Philox (seed, sample, c); sample i drawn for label i mod C when
  // the model is conditional, and the classifier's agreement with those labels counted.
  double agreed = 0;
  for (std::int64_t first = 0, c = 0; first < opt.count; first += kScoreBatch, ++c) {
    const std::int64_t b = std::min<std::int64_t>(kScoreBatch, opt.count - first);
    for (std::int64_t i = 0; i < b; ++i)
      host_labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((first + i) % std::max(cc.classes, 1));
    const Tensor lb = put_labels(b), zb = z.tensor().rows_view(0, b);
    model->sample_prior(*backend, rng_key(opt.seed, RngPurpose::sample, static_cast<std::uint64_t>(c)), zb);
    const Tensor pixels = decode_samples(*backend, *model, zb, lb);
    agreed += classify(*backend, *classifier, {pixels, lb}, fake);
  }

  ScoreResult r;
  r.samples = opt.count, r.test_images = test.count, r.features = cc.hidden.back();
  r.frechet = frechet_distance(feature_stats(std::span<const float>(fake), opt.count, r.features, "samples' features"),
                               feature_stats(std::span<const float>(real), test.count, r.features, "test images' features"));
  r.test_accuracy = correct / static_cast<double>(test.count);
  r.conditional = conditional;
  r.conditional_accuracy = agreed / static_cast<double>(opt.count);
  return r;
}

std::string describe(const ScoreResult& r) {
  char line[320];
  std::snprintf(line, sizeof line,
                "score: Frechet distance %.3f (classifier features of %lld samples vs %lld test images, %d-d); "
                "classifier test accuracy %.4f",
                r.frechet, static_cast<long long>(r.samples), static_cast<long long>(r.test_images), r.features,
                r.test_accuracy);
  std::string s = line;
  if (r.conditional) {  // score: cvae hook
    std::snprintf(line, sizeof line, "; conditional accuracy %.4f", r.conditional_accuracy);
    s += line;
  }
  return s;
}

}  // namespace cuvae
