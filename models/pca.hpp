// PCA in closed form: K = latent components of the training split, fitted by the backend's
// pca_fit (CPU: SSYRK chunks summed in float64 and LAPACK; GPU: cuBLAS and cuSOLVER), no training loop.
// Checkpoint tensors: mean [D], components [K, D] (orthonormal rows by descending variance),
// explained_variance [K] (divided by n - 1, as scikit-learn). Codes z = (x - mean) C^T, pixels
// z C + mean; samples z ~ N(0, diag(explained_variance)).
#pragma once
#include "models/model.hpp"

namespace cuvae {

class Pca final : public Model {
 public:
  explicit Pca(const ModelConfig& config);
  void allocate(Backend& backend, std::int64_t max_batch) override;
  bool trained_by_gradient() const override { return false; }
  void fit(Backend& backend, const Tensor& images) override;
  void loaded(Backend& backend) override;
  std::vector<std::string> term_names() const override { return {"recon"}; }
  double loss(std::span<const float> terms, const StepScalars&) const override { return terms[0]; }
  void train_step(Backend& backend, const Batch& batch, std::uint64_t seed) override;
  void eval_batch(Backend& backend, const Batch& batch, RngKey key, bool noisy) override;
  Metrics metrics(std::span<const double> clean, std::span<const double> noisy) const override;
  Tensor encode(Backend& backend, const Tensor& x) override;
  Tensor decode(Backend& backend, const Tensor& z) override;
  void sample_prior(Backend& backend, RngKey key, const Tensor& z) override;

  const std::vector<float>& explained_variance() const { return variance_; }

 private:
  std::size_t mean_ = 0, components_ = 0, variance_index_ = 0;
  Buffer enc_bias_, dec_weight_;  // -(C mean) [K] and C^T [D, K], derived in loaded()
  Buffer codes_, pixels_;
  std::vector<float> variance_;   // host copy of explained_variance
};

}  // namespace cuvae
