// Shape checks shared by every backend (see op_checks.hpp).
#include "host/op_checks.hpp"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

namespace cuvae::checks {
namespace {

void expect(bool ok, const char* op, const std::string& what) {
  if (!ok) throw Error(std::string(op) + ": " + what);
}

// A float32 rank-2 tensor with memory, whose rows are at least a row apart.
void rank2(const char* op, const char* name, const Tensor& t) {
  expect(t.shape.rank == 2 && t.data != nullptr && t.dtype == DType::f32, op,
         std::string(name) + " must be a non-empty rank-2 float32 tensor, got " + t.str());
  expect(t.row_stride() >= t.cols(), op, std::string(name) + " " + t.str() + ": row stride below the row length");
}

std::string opt(const Tensor* t) { return t ? t->str() : "none"; }

}  // namespace

void dense(const char* op, const char* name, const Tensor& t) {
  expect(t.dense(), op, std::string(name) + " must be dense (no row stride), got " + t.str());
}

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  const char* op = "linear_forward";
  rank2(op, "x", x), rank2(op, "w", w), rank2(op, "y", y);
  dense(op, "x", x), dense(op, "w", w), dense(op, "b", b), dense(op, "y", y);
  expect(x.shape[1] == w.shape[1] && b.numel() == w.shape[0] && y.shape[0] == x.shape[0] &&
             y.shape[1] == w.shape[0],
         op, "shapes disagree: x " + x.str() + ", w " + w.str() + ", b " + b.str() + ", y " + y.str());
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor* dx, const Tensor& dw,
                     const Tensor& db) {
  const char* op = "linear_backward";
  rank2(op, "x", x), rank2(op, "w", w), rank2(op, "dy", dy);
  if (dx) rank2(op, "dx", *dx), dense(op, "dx", *dx);
  dense(op, "x", x), dense(op, "w", w), dense(op, "dy", dy), dense(op, "dw", dw), dense(op, "db", db);
  bool ok = x.shape[1] == w.shape[1] && dy.shape[0] == x.shape[0] && dy.shape[1] == w.shape[0] &&
            dw.shape == w.shape && db.numel() == w.shape[0] && (!dx || dx->shape == x.shape);
  expect(ok, op, "shapes disagree: x " + x.str() + ", w " + w.str() + ", dy " + dy.str() + ", dx " + opt(dx) +
                     ", dw " + dw.str() + ", db " + db.str());
}

std::string conv_text(const ConvShape& s) {
  return std::string(s.transposed ? "ConvTranspose2d" : "Conv2d") + "(" + std::to_string(s.in_c) + ", " +
         std::to_string(s.out_c) + ", kernel " + std::to_string(s.kh) + "x" + std::to_string(s.kw) + ", stride " +
         std::to_string(s.sh) + "x" + std::to_string(s.sw) + ", padding " + std::to_string(s.ph) + "x" + std::to_string(s.pw) +
         (s.transposed ? ", output_padding " + std::to_string(s.oph) + "x" + std::to_string(s.opw) : std::string()) +
         ") on " + std::to_string(s.in_h) + "x" + std::to_string(s.in_w);
}

void conv_shape(const char* op, const ConvShape& s) {
  const bool sizes = s.in_c >= 1 && s.in_h >= 1 && s.in_w >= 1 && s.out_c >= 1 && s.kh >= 1 && s.kw >= 1 && s.sh >= 1 &&
                     s.sw >= 1 && s.ph >= 0 && s.pw >= 0 && s.oph >= 0 && s.opw >= 0;
  expect(sizes, op, conv_text(s) + ": sizes and strides must be positive, paddings non-negative");
  expect(s.transposed || (s.oph == 0 && s.opw == 0), op, conv_text(s) + ": output_padding is for a ConvTranspose2d");
  expect(s.oph < s.sh && s.opw < s.sw, op, conv_text(s) + ": output_padding must be smaller than the stride");
  expect(s.transposed || (s.in_h + 2 * s.ph >= s.kh && s.in_w + 2 * s.pw >= s.kw), op,
         conv_text(s) + ": the kernel is larger than the padded input");
  expect(s.out_h() >= 1 && s.out_w() >= 1, op, conv_text(s) + ": gives an output of " + std::to_string(s.out_h()) + "x" +
                                                  std::to_string(s.out_w()) + " pixels");
  expect(s.in_dim() <= INT32_MAX && s.out_dim() <= INT32_MAX && s.weight_cols() * s.small_c() <= INT32_MAX, op,
         conv_text(s) + ": more than 2^31 - 1 values per image or weight");
}

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, const Tensor& y) {
  const char* op = "conv2d_forward";
  conv_shape(op, s);
  rank2(op, "x", x), rank2(op, "y", y);
  dense(op, "x", x), dense(op, "y", y), dense(op, "w", w), dense(op, "b", b);
  expect(x.cols() == s.in_dim() && y.rows() == x.rows() && y.cols() == s.out_dim() && w.rows() == s.small_c() &&
             w.cols() == s.weight_cols() && b.numel() == s.out_c && w.data && b.data,
         op, conv_text(s) + ": shapes disagree: x " + x.str() + ", w " + w.str() + ", b " + b.str() + ", y " + y.str());
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const ConvShape& s, const Tensor* dx,
                     const Tensor& dw, const Tensor& db) {
  const char* op = "conv2d_backward";
  conv_shape(op, s);
  rank2(op, "x", x), rank2(op, "dy", dy);
  if (dx) rank2(op, "dx", *dx), dense(op, "dx", *dx);
  dense(op, "x", x), dense(op, "dy", dy), dense(op, "w", w), dense(op, "dw", dw), dense(op, "db", db);
  expect(x.cols() == s.in_dim() && dy.rows() == x.rows() && dy.cols() == s.out_dim() && w.rows() == s.small_c() &&
             w.cols() == s.weight_cols() && dw.shape == w.shape && db.numel() == s.out_c && (!dx || dx->shape == x.shape) &&
             dw.data && db.data,
         op, conv_text(s) + ": shapes disagree: x " + x.str() + ", w " + w.str() + ", dy " + dy.str() + ", dx " + opt(dx) +
                 ", dw " + dw.str() + ", db " + db.str());
}

// BatchNorm2d: the per-channel tensors [C] and the channel planes of x's rows.
namespace {
void batchnorm_shapes(const char* op, const Tensor& x, const Tensor& gamma,
                      std::initializer_list<std::pair<const char*, const Tensor*>> planes,
                      std::initializer_list<std::pair<const char*, const Tensor*>> channels) {
  rank2(op, "x", x), dense(op, "x", x);
  for (const auto& [name, t] : planes) rank2(op, name, *t), dense(op, name, *t);
  for (const auto& [name, t] : channels) dense(op, name, *t);
  const std::int64_t C = gamma.numel();
  bool ok = C >= 1 && gamma.data && x.cols() % C == 0;
  for (const auto& [name, t] : planes) ok = ok && t->shape == x.shape;
  for (const auto& [name, t] : channels) ok = ok && t->numel() == C && t->data;
  if (ok) return;
  std::string text = "shapes disagree: x " + x.str() + " with " + std::to_string(C) + " channels";
  for (const auto& [name, t] : planes) text += std::string(", ") + name + " " + t->str();
  for (const auto& [name, t] : channels) text += std::string(", ") + name + " " + t->str();
  expect(false, op, text + " (want [B, C*H*W] and [C])");
}
// PyTorch's "Expected more than 1 value per channel when training": the unbiased variance divides by B*H*W - 1.
void batchnorm_values(const char* op, const Tensor& x, std::int64_t C) {
  expect(x.rows() * (x.cols() / C) >= 2, op,
         "expected more than 1 value per channel when training, got x " + x.str() + " with " + std::to_string(C) +
             " channels");
}
}  // namespace

void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, float momentum,
                         float eps, const Tensor& running_mean, const Tensor& running_var, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& y) {
  const char* op = "batchnorm2d_forward";
  batchnorm_shapes(op, x, gamma, {{"y", &y}},
                   {{"gamma", &gamma}, {"beta", &beta}, {"running_mean", &running_mean}, {"running_var", &running_var},
                    {"save_mean", &save_mean}, {"save_invstd", &save_invstd}});
  expect(momentum >= 0.f && momentum <= 1.f, op, "momentum " + std::to_string(momentum) + " must be in [0, 1]");
  expect(eps > 0.f && std::isfinite(eps), op, "eps " + std::to_string(eps) + " must be a positive number");
  if (training) batchnorm_values(op, x, gamma.numel());
}

void batchnorm2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                          const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                          const Tensor& dbeta) {
  const char* op = "batchnorm2d_backward";
  batchnorm_shapes(op, x, gamma, {{"y", &y}, {"dy", &dy}, {"dx", &dx}},
                   {{"gamma", &gamma}, {"save_mean", &save_mean}, {"save_invstd", &save_invstd}, {"dgamma", &dgamma},
                    {"dbeta", &dbeta}});
  batchnorm_values(op, x, gamma.numel());
}

void reparameterize(const Tensor& mu, const Tensor& logvar, const Tensor& eps, const Tensor& z) {
  const char* op = "reparameterize";
  rank2(op, "mu", mu), rank2(op, "logvar", logvar), rank2(op, "eps", eps), rank2(op, "z", z);
  dense(op, "eps", eps);
  expect(mu.shape == logvar.shape && eps.shape == mu.shape && z.shape == mu.shape, op,
         "shapes disagree: mu " + mu.str() + ", logvar " + logvar.str() + ", eps " + eps.str() + ", z " + z.str());
}

void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar) {
  const char* op = "reparameterize_backward";
  rank2(op, "logvar", logvar), rank2(op, "eps", eps), rank2(op, "dz", dz), rank2(op, "dmu", dmu);
  rank2(op, "dlogvar", dlogvar);
  dense(op, "eps", eps);
  expect(eps.shape == logvar.shape && dz.shape == logvar.shape && dmu.shape == logvar.shape &&
             dlogvar.shape == logvar.shape,
         op, "shapes disagree: logvar " + logvar.str() + ", eps " + eps.str() + ", dz " + dz.str() + ", dmu " +
                 dmu.str() + ", dlogvar " + dlogvar.str());
}

void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term) {
  const char* op = "likelihood";
  rank2(op, "pred", pred), rank2(op, "target", target);
  if (dpred) rank2(op, "dpred", *dpred);
  expect(kind == Likelihood::bernoulli || (sigma > 0 && std::isfinite(sigma)), op,
         "gaussian sigma " + std::to_string(sigma) + " must be a positive number");
  expect(pred.shape == target.shape && (!dpred || dpred->shape == pred.shape) && term.numel() == 1 && term.data &&
             (!rows || (rows->numel() == pred.rows() && rows->dense())),
         op, "shapes disagree: pred " + pred.str() + ", target " + target.str() + ", dpred " + opt(dpred) + ", rows " +
                 opt(rows) + ", term " + term.str());
}

void kl_divergence(const Tensor& mu, const Tensor& logvar, const Tensor* dmu, const Tensor* dlogvar, const Tensor* rows,
                   const Tensor& term) {
  const char* op = "kl_divergence";
  rank2(op, "mu", mu), rank2(op, "logvar", logvar);
  if (dmu) rank2(op, "dmu", *dmu);
  if (dlogvar) rank2(op, "dlogvar", *dlogvar);
  expect(mu.shape == logvar.shape && (!dmu || dmu->shape == mu.shape) && (!dlogvar || dlogvar->shape == mu.shape) &&
             term.numel() == 1 && term.data && (!rows || (rows->numel() == mu.rows() && rows->dense())),
         op, "shapes disagree: mu " + mu.str() + ", logvar " + logvar.str() + ", dmu " + opt(dmu) + ", dlogvar " +
                 opt(dlogvar) + ", rows " + opt(rows) + ", term " + term.str());
}

void corrupt(NoiseKind kind, Scalar level, const Tensor& x, const Tensor& out) {
  const char* op = "corrupt";
  rank2(op, "x", x), rank2(op, "out", out);
  expect(kind != NoiseKind::none, op, "no noise kind given");
  expect(level.slot != StepScalar::none || (level.value >= 0 && std::isfinite(level.value)), op,
         "level " + std::to_string(level.value) + " must be a non-negative number");
  expect(x.shape == out.shape, op, "shapes disagree: x " + x.str() + ", out " + out.str());
}

void record_terms(const Tensor& terms, const Tensor& history) {
  const char* op = "record_terms";
  expect(terms.data && history.data && history.shape.rank == 2 && history.dense() && terms.dense() &&
             history.cols() == terms.numel() && terms.numel() >= 1,
         op, "want terms [T] and history [batches, T], got terms " + terms.str() + ", history " + history.str());
}

void pca_fit(const char* op, Device device, const Tensor& x, int K, const Tensor& mean, const Tensor& components,
             const Tensor& variance) {
  const std::string where = std::string(to_string(device)) + " memory";
  expect(x.shape.rank == 2 && x.data != nullptr && x.numel() > 0, op,
         "x must be a non-empty [N, D] tensor, got " + x.str());
  expect(x.device == device, op, "x must be in " + where + ", got " + x.str());
  const std::int64_t N = x.shape[0], D = x.shape[1];
  expect(N >= 2, op, "x must have N >= 2 rows, got " + x.str());
  // The D x D covariance is indexed with LAPACK's / cuSOLVER's 32-bit ints.
  expect(D <= 46340, op, "x must have D <= 46340 columns, got " + x.str());
  expect(K >= 1 && K <= D, op,
         "K = " + std::to_string(K) + " must be in [1, D] = [1, " + std::to_string(D) + "] for x " + x.str());
  const auto output = [&](const char* name, const Tensor& t, Shape want, const std::string& why) {
    expect(t.shape == want, op, std::string(name) + " must be " + want.str() + " " + why + ", got " + t.str());
    expect(t.device == device, op, std::string(name) + " must be in " + where + ", got " + t.str());
    expect(t.data != nullptr, op, std::string(name) + " has no data: " + t.str());
  };
  output("mean", mean, Shape{D}, "for x " + x.str());
  output("components", components, Shape{K, D}, "for K = " + std::to_string(K) + " and x " + x.str());
  output("variance", variance, Shape{K}, "for K = " + std::to_string(K));
}


void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  expect(a.shape == b.shape, op, "shapes disagree: " + a.str() + " vs " + b.str());
}

void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst) {
  const char* op = "gather_rows";
  dense(op, "src", src);
  expect(dst.rows() == static_cast<std::int64_t>(rows.size()) && dst.cols() == src.cols() && dst.dtype == src.dtype,
         op, std::to_string(rows.size()) + " rows of " + src.str() + " into " + dst.str());
  for (std::int64_t r : rows) expect(r >= 0 && r < src.rows(), op, "row " + std::to_string(r) + " outside " + src.str());
}

// IWAE
void repeat_rows(const Tensor& src, int K, const Tensor& dst) {
  const char* op = "repeat_rows";
  rank2(op, "src", src), rank2(op, "dst", dst);
  expect(K >= 1, op, "K = " + std::to_string(K) + " must be at least 1");
  expect(dst.cols() == src.cols() && dst.rows() == src.rows() * K && dst.dtype == src.dtype, op,
         "want dst [src rows * " + std::to_string(K) + ", src cols], got src " + src.str() + ", dst " + dst.str());
}

void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo) {
  const char* op = "iwae_bound";
  rank2(op, "eps", eps), rank2(op, "z", z), rank2(op, "logvar", logvar);
  expect(K >= 1, op, "K = " + std::to_string(K) + " must be at least 1");
  const std::int64_t n = logvar.rows(), L = logvar.cols();
  expect(eps.shape == z.shape && eps.rows() == n * K && eps.cols() == L && recon.data && recon.dense() &&
             recon.numel() == n * K && bound.data && bound.dense() && bound.numel() == n &&
             (!elbo || (elbo->data && elbo->dense() && elbo->numel() == n)),
         op, "want recon [n*K], eps and z [n*K, L], logvar [n, L], bound and elbo [n] with K = " + std::to_string(K) +
                 ", got recon " + recon.str() + ", eps " + eps.str() + ", z " + z.str() + ", logvar " + logvar.str() +
                 ", bound " + bound.str() + ", elbo " + opt(elbo));
}

// softmax cross-entropy
void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                  const Tensor& terms) {
  const char* op = "softmax_xent";
  rank2(op, "logits", logits);
  if (dlogits) rank2(op, "dlogits", *dlogits);
  expect(labels.data && labels.dtype == DType::i32 && labels.dense(), op,
         "labels must be a dense int32 tensor, got " + labels.str());
  expect(logits.cols() <= INT32_MAX, op, "logits " + logits.str() + ": more than 2^31 - 1 classes");
  expect(labels.numel() == logits.rows() && labels.cols() == 1 && (!dlogits || dlogits->shape == logits.shape) &&
             terms.numel() == 2 && terms.data && terms.dense() && (!rows || (rows->numel() == logits.rows() && rows->dense())),
         op, "shapes disagree: logits " + logits.str() + ", labels " + labels.str() + ", dlogits " + opt(dlogits) +
                 ", rows " + opt(rows) + ", terms " + terms.str() + " (want labels [B, 1], terms [2])");
}

// cvae
void one_hot(const Tensor& labels, const Tensor& out) {
  const char* op = "one_hot";
  rank2(op, "out", out);
  expect(labels.data && labels.dtype == DType::i32 && labels.dense(), op,
         "labels must be a dense int32 tensor, got " + labels.str());
  expect(out.data && out.dtype == DType::f32 && out.cols() >= 1 && labels.cols() == 1 && labels.numel() == out.rows(),
         op, "shapes disagree: labels " + labels.str() + ", out " + out.str() + " (want labels [B, 1], out [B, C])");
}

}  // namespace cuvae::checks
