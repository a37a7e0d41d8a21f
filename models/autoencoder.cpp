// The autoencoder family on the op interface (see autoencoder.hpp).
#include "models/autoencoder.hpp"

#include "models/arch.hpp"

#include <cmath>
#include <numbers>

namespace cuvae {

double squared_error_from_gaussian(double recon, int D, double sigma) {
  return 2.0 * sigma * sigma * (recon - D * std::log(sigma * std::sqrt(2.0 * std::numbers::pi)));
}

Autoencoder::Autoencoder(const ModelConfig& config) : Model(config) {
  const ModelConfig& c = config_;
  const Trunk t = add_encoder_trunk(encoder_, params_, c, "encoder", c.input_dim);
  encoder_.add(params_, "encoder." + std::to_string(t.next), t.width, c.latent, Activation::none);
  add_decoder(decoder_, params_, c, c.latent);
}

void Autoencoder::allocate(Backend& backend, std::int64_t max_batch) {
  Model::allocate(backend, max_batch);
  encoder_.allocate(backend, max_batch);
  decoder_.allocate(backend, max_batch);
  if (has_noise()) noisy_ = Buffer(backend, Shape{max_batch, config_.input_dim});
  pixels_ = Buffer(backend, Shape{max_batch, config_.input_dim});
}

void Autoencoder::forward(Backend& backend, const Tensor& input, const Tensor& target, bool with_grads) {
  const std::int64_t b = input.rows();
  const Mode mode = with_grads ? Mode::train : Mode::eval;
  encoder_.forward(backend, params_, input, mode);
  decoder_.forward(backend, params_, encoder_.output(b), mode);
  const Tensor dpred = decoder_.grad_output(b);
  backend.likelihood(config_.likelihood, static_cast<float>(config_.sigma), decoder_.output(b), target,
                     with_grads ? &dpred : nullptr, nullptr, terms_.tensor().rows_view(0, 1));
}

void Autoencoder::train_step(Backend& backend, const Batch& batch, std::uint64_t seed) {
  const Tensor& x = batch.x;
  check_batch(x, config_.input_dim, "training batch");
  const std::int64_t b = x.rows();
  Tensor input = x;
  if (has_noise()) {
    input = noisy(b);
    backend.corrupt(config_.noise.kind, Scalar::at_step(StepScalar::noise), x, rng_key(seed, RngPurpose::noise, 0),
                    true, input);
  }
  forward(backend, input, x, true);
  const Tensor dcode = encoder_.grad_output(b);
  decoder_.backward(backend, params_, encoder_.output(b), Activation::none, decoder_.grad_output(b), &dcode);
  encoder_.backward(backend, params_, input, Activation::none, dcode, nullptr);
}

void Autoencoder::eval_batch(Backend& backend, const Batch& batch, RngKey key, bool corrupt) {
  const Tensor& x = batch.x;
  check_batch(x, config_.input_dim, "evaluation batch");
  Tensor input = x;
  if (corrupt && has_noise()) {
    input = noisy(x.rows());
    backend.corrupt(config_.noise.kind, Scalar{static_cast<float>(config_.noise.level)}, x, key, false, input);
  }
  forward(backend, input, x, false);
}

Metrics Autoencoder::metrics(std::span<const double> clean, std::span<const double> noisy_terms) const {
  Metrics m{{"recon", clean[0]}};
  const bool gauss = config_.likelihood == Likelihood::gaussian;
  if (gauss) m.emplace_back("sq_error", squared_error_from_gaussian(clean[0], config_.input_dim, config_.sigma));
  if (!noisy_terms.empty()) {
    m.emplace_back("recon_noisy", noisy_terms[0]);
    if (gauss)
      m.emplace_back("sq_error_noisy", squared_error_from_gaussian(noisy_terms[0], config_.input_dim, config_.sigma));
  }
  return m;
}

Tensor Autoencoder::encode(Backend& backend, const Tensor& x) {
  check_batch(x, config_.input_dim, "encode input");
  encoder_.forward(backend, params_, x, Mode::eval);
  return encoder_.output(x.rows());
}

Tensor Autoencoder::decode(Backend& backend, const Tensor& z) {
  check_batch(z, config_.latent, "decode input");
  decoder_.forward(backend, params_, z, Mode::eval);
  const Tensor out = decoder_.output(z.rows());
  if (config_.likelihood == Likelihood::gaussian) return out;  // the means themselves
  const Tensor px = pixels_.tensor().rows_view(0, z.rows());
  backend.sigmoid(out, px);
  return px;
}

}  // namespace cuvae
