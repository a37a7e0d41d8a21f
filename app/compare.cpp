// `cuvae compare pca-ae` (see compare.hpp): two runs through train(), then the linear algebra of
// their checkpoints in float64 on the host (K x K eigenproblems through LAPACK's dsyev).
#include "app/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "host/fileio.hpp"
#include "host/image.hpp"
#include "host/safetensors.hpp"

extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                       double* work, const int* lwork, int* info);

namespace cuvae {
namespace {

// C = A^T B for A [D, K], B [D, M] row-major.
std::vector<double> at_b(const std::vector<double>& a, const std::vector<double>& b, int D, int K, int M) {
  std::vector<double> c(static_cast<std::size_t>(K) * static_cast<std::size_t>(M), 0.0);
  for (int d = 0; d < D; ++d)
    for (int i = 0; i < K; ++i) {
      const double x = a[static_cast<std::size_t>(d * K + i)];
      for (int j = 0; j < M; ++j) c[static_cast<std::size_t>(i * M + j)] += x * b[static_cast<std::size_t>(d * M + j)];
    }
  return c;
}

// The SVD of A [D, K] (full column rank) through its Gram matrix: singular values descending and
// the left singular vectors U [D, K] = A V S^-1.
void thin_svd(const std::vector<double>& a, int D, int K, std::vector<double>& s, std::vector<double>& u) {
  std::vector<double> lambda, v;
  symmetric_eigen(at_b(a, a, D, K, K), K, lambda, v);
  s.resize(static_cast<std::size_t>(K));
  u.assign(static_cast<std::size_t>(D) * static_cast<std::size_t>(K), 0.0);
  for (int j = 0; j < K; ++j) {
    s[static_cast<std::size_t>(j)] = std::sqrt(std::max(lambda[static_cast<std::size_t>(j)], 0.0));
    if (!(s[static_cast<std::size_t>(j)] > 0)) throw Error("compare: the decoder weight does not have full rank");
    for (int d = 0; d < D; ++d) {
      double x = 0;
      for (int k = 0; k < K; ++k)
        x += a[static_cast<std::size_t>(d * K + k)] * v[static_cast<std::size_t>(k * K + j)];
      u[static_cast<std::size_t>(d * K + j)] = x / s[static_cast<std::size_t>(j)];
    }
  }
}

std::vector<double> tensor(const SafetensorsFile& f, const std::filesystem::path& file, const std::string& name,
                           std::int64_t count) {
  const TensorRecord* t = f.find(name);
  if (!t || static_cast<std::int64_t>(t->data.size()) != count)
    throw Error(file.string() + ": tensor '" + name + "' is missing or not of " + std::to_string(count) + " values");
  return {t->data.begin(), t->data.end()};
}

// Each of the K columns of m [D, K] as an image, scaled to [0, 1] (min to max), appended to out.
void append_columns(const std::vector<double>& m, int D, int K, std::vector<float>& out) {
  for (int k = 0; k < K; ++k) {
    double lo = INFINITY, hi = -INFINITY;
    for (int d = 0; d < D; ++d) lo = std::min(lo, m[static_cast<std::size_t>(d * K + k)]), hi = std::max(hi, m[static_cast<std::size_t>(d * K + k)]);
    for (int d = 0; d < D; ++d)
      out.push_back(static_cast<float>(hi > lo ? (m[static_cast<std::size_t>(d * K + k)] - lo) / (hi - lo) : 0.5));
  }
}

}  // namespace

void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& v) {
  std::vector<double> asc(static_cast<std::size_t>(n));
  int lwork = std::max(1, 3 * n), info = 0;
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dsyev_("V", "L", &n, a.data(), &n, asc.data(), work.data(), &lwork, &info);
  if (info != 0) throw Error("compare: LAPACK dsyev failed (info " + std::to_string(info) + ")");
  // LAPACK leaves eigenvector j in column-major column j: a[j * n + i]; reorder descending.
  w.assign(static_cast<std::size_t>(n), 0.0);
  v.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), 0.0);
  for (int j = 0; j < n; ++j) {
    const int src = n - 1 - j;
    w[static_cast<std::size_t>(j)] = asc[static_cast<std::size_t>(src)];
    for (int i = 0; i < n; ++i)
      v[static_cast<std::size_t>(i * n + j)] = a[static_cast<std::size_t>(src * n + i)];
  }
}


std::vector<double> principal_angles(const std::vector<double>& a, const std::vector<double>& b, int D, int K) {
  std::vector<double> sa, ua, sb, ub;
  thin_svd(a, D, K, sa, ua);
  thin_svd(b, D, K, sb, ub);
  const std::vector<double> m = at_b(ua, ub, D, K, K);  // Ua^T Ub: its singular values are the cosines
  std::vector<double> mtm(static_cast<std::size_t>(K) * static_cast<std::size_t>(K), 0.0);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j)
      for (int k = 0; k < K; ++k)
        mtm[static_cast<std::size_t>(i * K + j)] += m[static_cast<std::size_t>(k * K + i)] * m[static_cast<std::size_t>(k * K + j)];
  std::vector<double> w, v;
  symmetric_eigen(mtm, K, w, v);
  std::vector<double> angles;
  for (double c2 : w) angles.push_back(std::acos(std::clamp(std::sqrt(std::max(c2, 0.0)), 0.0, 1.0)) * 180.0 / M_PI);
  return angles;  // cosines descending: angles ascending
}

CompareResult compare_pca_ae(const CompareOptions& opt, std::ostream& out) {
  if (opt.latent < 1) throw UsageError("--latent " + std::to_string(opt.latent) + ": must be at least 1");
  if (!(opt.l2 >= 0) || !std::isfinite(opt.l2)) throw UsageError("--weight-decay: must be a non-negative number");
  const std::filesystem::path dir = opt.out_dir.empty() ? default_out_dir("compare-") : opt.out_dir;
  TrainOptions base;
  base.run = opt.run, base.data = opt.data, base.seed = opt.seed, base.batch_size = opt.batch_size;
  base.train_limit = opt.train_limit, base.test_limit = opt.test_limit, base.progress = opt.progress;
  TrainOptions pca = base, lae = base;
  pca.model = default_config("pca"), pca.model.latent = opt.latent, pca.out_dir = dir / "pca";
  lae.model = default_config("linear-ae"), lae.model.latent = opt.latent, lae.out_dir = dir / "linear-ae";
  lae.epochs = opt.epochs, lae.adam.lr = opt.lr, lae.adam.l2 = opt.l2;
  const TrainSummary ps = train(pca, out), ls = train(lae, out);

  const SafetensorsFile pf = read_safetensors(ps.checkpoint), lf = read_safetensors(ls.checkpoint);
  const ModelConfig pc = config_from_json(nlohmann::json::parse(pf.metadata.at("config")), ps.checkpoint.string());
  const int D = pc.input_dim, K = opt.latent;
  const std::vector<double> comp = tensor(pf, ps.checkpoint, "components", std::int64_t(K) * D);  // [K, D]
  const std::vector<double> var = tensor(pf, ps.checkpoint, "explained_variance", K);
  const std::vector<double> dec = tensor(lf, ls.checkpoint, "decoder.0.weight", std::int64_t(D) * K);  // [D, K]
  std::vector<double> ct(static_cast<std::size_t>(D) * static_cast<std::size_t>(K));  // components as columns
  for (int k = 0; k < K; ++k)
    for (int d = 0; d < D; ++d) ct[static_cast<std::size_t>(d * K + k)] = comp[static_cast<std::size_t>(k * D + d)];

  CompareResult r;
  r.pca_error = ps.epochs.back().at("sq_error");
  r.ae_error = ls.epochs.back().at("sq_error");
  double kept = 0;
  for (double v : var) kept += v;
  r.eckart_young = pc.total_variance - kept;
  r.angles_deg = principal_angles(dec, ct, D, K);
  std::vector<double> u;
  thin_svd(dec, D, K, r.singular_values, u);
  for (int k = 0; k < K; ++k) {
    double dot = 0;
    for (int d = 0; d < D; ++d) dot += u[static_cast<std::size_t>(d * K + k)] * ct[static_cast<std::size_t>(d * K + k)];
    r.singular_cos.push_back(std::fabs(dot));
  }
  const std::vector<double> gram = at_b(dec, dec, D, K, K);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) r.orthonormality += std::pow(gram[static_cast<std::size_t>(i * K + j)] - (i == j), 2);
  r.orthonormality = std::sqrt(r.orthonormality);

  // The picture: the K components, the K decoder columns, the decoder's K left singular vectors.
  std::vector<float> img;
  append_columns(ct, D, K, img), append_columns(dec, D, K, img), append_columns(u, D, K, img);
  r.png = dir / "components.png";
  write_png_grid(r.png, img.data(), 3 * K, input_image(pc), K);

  nlohmann::json j{{"latent", K}, {"epochs", opt.epochs}, {"lr", opt.lr}, {"weight_decay_l2", opt.l2},
                   {"pca_test_sq_error", r.pca_error}, {"linear_ae_test_sq_error", r.ae_error},
                   {"eckart_young_bound", r.eckart_young}, {"principal_angles_deg", r.angles_deg},
                   {"singular_vector_abs_cos", r.singular_cos}, {"decoder_singular_values", r.singular_values},
                   {"decoder_orthonormality_frobenius", r.orthonormality}, {"pca_explained_variance", var}};
  r.json = dir / "compare.json";
  write_file_atomic(r.json, j.dump(2) + "\n");

  char line[160];
  out << "\nIs a linear autoencoder PCA? K = " << K << ", linear-ae after " << opt.epochs << " epochs"
      << (opt.l2 > 0 ? ", L2 " + std::to_string(opt.l2) : std::string()) << "\n";
  std::snprintf(line, sizeof line, "  test squared error per image: PCA %.4f, linear-ae %.4f; Eckart-Young bound (train) %.4f\n",
                r.pca_error, r.ae_error, r.eckart_young);
  out << line;
  std::snprintf(line, sizeof line, "  principal angles between the decoder's column space and the PCA subspace: max %.3f, "
                "median %.3f degrees\n", r.angles_deg.back(), r.angles_deg[r.angles_deg.size() / 2]);
  out << line;
  out << "   i  angle(deg)  |cos(u_i, c_i)|  sigma_i(decoder)  lambda_i(PCA)\n";
  for (int k = 0; k < K; ++k) {
    std::snprintf(line, sizeof line, "  %2d  %10.4f  %14.4f  %16.4f  %13.4f\n", k + 1, r.angles_deg[static_cast<std::size_t>(k)],
                  r.singular_cos[static_cast<std::size_t>(k)], r.singular_values[static_cast<std::size_t>(k)],
                  var[static_cast<std::size_t>(k)]);
    out << line;
  }
  std::snprintf(line, sizeof line, "  decoder columns: ||W^T W - I||_F = %.4f\n", r.orthonormality);
  out << line << "wrote " << r.json.string() << " and " << r.png.string() << "\n";
  return r;
}

}  // namespace cuvae
