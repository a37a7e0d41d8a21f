// PCA in closed form (see pca.hpp).
#include "models/pca.hpp"

#include <cmath>
#include <numbers>

#include "models/autoencoder.hpp"

namespace cuvae {

Pca::Pca(const ModelConfig& config) : Model(config) {
  const std::int64_t D = config_.input_dim, K = config_.latent;
  mean_ = params_.add("mean", Shape{D}, 0);  // fan-in 0: fitted, not drawn
  components_ = params_.add("components", Shape{K, D}, 0);
  variance_index_ = params_.add("explained_variance", Shape{K}, 0);
}

void Pca::allocate(Backend& backend, std::int64_t max_batch) {
  Model::allocate(backend, max_batch);
  enc_bias_ = Buffer(backend, Shape{config_.latent});
  dec_weight_ = Buffer(backend, Shape{config_.input_dim, config_.latent});
  codes_ = Buffer(backend, Shape{max_batch, config_.latent});
  pixels_ = Buffer(backend, Shape{max_batch, config_.input_dim});
}

void Pca::fit(Backend& backend, const Tensor& images) {
  backend.pca_fit(images, config_.latent, params_.value(mean_), params_.value(components_),
                  params_.value(variance_index_));
  // The total variance (trace of the covariance), for the explained-variance ratio.
  const std::int64_t n = images.rows(), D = images.cols();
  std::vector<float> x(static_cast<std::size_t>(images.numel()));
  backend.to_host(x.data(), images);
  double total = 0;
  for (std::int64_t j = 0; j < D; ++j) {
    double sum = 0, sq = 0;
    for (std::int64_t i = 0; i < n; ++i) sum += x[static_cast<std::size_t>(i * D + j)];
    const double mean = sum / static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = x[static_cast<std::size_t>(i * D + j)] - mean;
      sq += d * d;
    }
    total += sq / static_cast<double>(n - 1);
  }
  config_.total_variance = total;
  loaded(backend);
}

void Pca::loaded(Backend& backend) {
  const std::int64_t D = config_.input_dim, K = config_.latent;
  std::vector<float> mean(static_cast<std::size_t>(D)), c(static_cast<std::size_t>(K * D));
  variance_.resize(static_cast<std::size_t>(K));
  backend.to_host(mean.data(), params_.value(mean_));
  backend.to_host(c.data(), params_.value(components_));
  backend.to_host(variance_.data(), params_.value(variance_index_));
  std::vector<float> bias(static_cast<std::size_t>(K)), ct(static_cast<std::size_t>(D * K));
  for (std::int64_t k = 0; k < K; ++k) {
    double dot = 0;
    for (std::int64_t j = 0; j < D; ++j) {
      dot += double(c[static_cast<std::size_t>(k * D + j)]) * mean[static_cast<std::size_t>(j)];
      ct[static_cast<std::size_t>(j * K + k)] = c[static_cast<std::size_t>(k * D + j)];
    }
    bias[static_cast<std::size_t>(k)] = static_cast<float>(-dot);
  }
  backend.to_device(enc_bias_, bias.data());
  backend.to_device(dec_weight_, ct.data());
}

void Pca::train_step(Backend&, const Batch&, std::uint64_t) {
  throw Error("--model pca is fitted in closed form, it has no training step");
}

void Pca::eval_batch(Backend& backend, const Batch& batch, RngKey, bool) {
  const Tensor& x = batch.x;
  check_batch(x, config_.input_dim, "evaluation batch");
  const Tensor r = reconstruct(backend, x);
  // The Gaussian term with sigma 1; metrics() turns it into the squared error.
  backend.likelihood(Likelihood::gaussian, 1.f, r, x, nullptr, nullptr, terms_.tensor());
}

Metrics Pca::metrics(std::span<const double> clean, std::span<const double>) const {
  double explained = 0;
  for (float v : variance_) explained += v;
  return {{"sq_error", squared_error_from_gaussian(clean[0], config_.input_dim, 1.0)},
          {"explained_variance_ratio", config_.total_variance > 0 ? explained / config_.total_variance : 0.0}};
}

Tensor Pca::encode(Backend& backend, const Tensor& x) {
  check_batch(x, config_.input_dim, "encode input");
  const Tensor z = codes_.tensor().rows_view(0, x.rows());
  backend.linear_forward(x, params_.value(components_), enc_bias_, Activation::none, z);
  return z;
}

Tensor Pca::decode(Backend& backend, const Tensor& z) {
  check_batch(z, config_.latent, "decode input");
  const Tensor px = pixels_.tensor().rows_view(0, z.rows());
  backend.linear_forward(z, dec_weight_, params_.value(mean_), Activation::none, px);
  return px;
}

void Pca::sample_prior(Backend& backend, RngKey key, const Tensor& z) {
  backend.normal(key, z);
  const std::int64_t n = z.rows(), K = z.cols();
  std::vector<float> h(static_cast<std::size_t>(z.numel()));
  backend.to_host(h.data(), z);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < K; ++k)
      h[static_cast<std::size_t>(i * K + k)] *= std::sqrt(std::max(variance_[static_cast<std::size_t>(k)], 0.f));
  backend.to_device(z, h.data());
}

}  // namespace cuvae
