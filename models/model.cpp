// The Model interface's shared parts and the factory (see model.hpp).
#include "models/model.hpp"

#include "models/autoencoder.hpp"
#include "models/classifier.hpp"
#include "models/cvae.hpp"  // cvae
#include "models/pca.hpp"
#include "models/vae.hpp"

namespace cuvae {

void Model::allocate(Backend& backend, std::int64_t max_batch) {
  CUVAE_CHECK(max_batch > 0, "max_batch " + std::to_string(max_batch));
  max_batch_ = max_batch;
  params_.allocate(backend);
  terms_ = Buffer(backend, Shape{static_cast<std::int64_t>(term_names().size())});
  backend.reserve_rows(max_batch);
}

void Model::fit(Backend&, const Tensor&) { throw Error("--model " + config_.model + " is trained, not fitted"); }

void Model::importance_bound(Backend&, const Batch&, int, RngKey, const Tensor&, const Tensor*) {
  throw Error("importance_bound: the " + config_.model + " model has no posterior q(z|x)");
}

void Model::sample_prior(Backend& backend, RngKey key, const Tensor& z) { backend.normal(key, z); }

void Model::check_batch(const Tensor& x, int cols, const char* what) const {
  if (x.rows() < 0 || x.rows() > max_batch_ || x.cols() != cols)
    throw Error(std::string(what) + " " + x.str() + ": the " + config_.model + " model takes [<=" +
                std::to_string(max_batch_) + ", " + std::to_string(cols) + "]");
}

void Model::check_iwae_rows(std::int64_t n, int K) const {
  if (K < 1 || n * K > max_batch_)
    throw Error("importance_bound: " + std::to_string(n) + " images x K = " + std::to_string(K) + " samples, but " +
                config_.model + " was allocated for " + std::to_string(max_batch_) + " rows");
}

std::unique_ptr<Model> make_model(const ModelConfig& config) {
  validate(config, "--model " + config.model);
  if (config.model == "vae") return std::make_unique<Vae>(config);
  if (config.model == "pca") return std::make_unique<Pca>(config);
  if (config.model == "classifier") return std::make_unique<Classifier>(config);
  if (config.model == "cvae") return std::make_unique<Cvae>(config);  // cvae
  return std::make_unique<Autoencoder>(config);  // ae, linear-ae, dae
}

std::string no_decoder_message(const ModelConfig& config) { return "a " + config.model + " has no decoder"; }

}  // namespace cuvae
