// The VAE on the op interface (see vae.hpp).
#include "models/vae.hpp"

#include "models/arch.hpp"

namespace cuvae {

Vae::Vae(const ModelConfig& config) : Model(config) {
  const ModelConfig& c = config_;
  const int width = add_encoder_trunk(encoder_, params_, c, "encoder", c.input_dim).width;
  // Both head weights first, then both biases: each pair is adjacent and acts as one tensor.
  Layer head;
  head.weight = params_.add("fc_mu.weight", Shape{c.latent, width}, width);
  params_.add("fc_logvar.weight", Shape{c.latent, width}, width);
  head.bias = params_.add("fc_mu.bias", Shape{c.latent}, width);
  params_.add("fc_logvar.bias", Shape{c.latent}, width);
  head.count = 2, head.in = width, head.out = 2 * c.latent, head.act = Activation::none;
  head_.add(head);
  add_decoder(decoder_, params_, c, c.latent);
}

void Vae::allocate(Backend& backend, std::int64_t max_batch) {
  Model::allocate(backend, max_batch);
  if (!encoder_.empty()) encoder_.allocate(backend, max_batch);
  head_.allocate(backend, max_batch);
  decoder_.allocate(backend, max_batch);
  const Shape codes{max_batch, config_.latent};
  eps_ = Buffer(backend, codes), z_ = Buffer(backend, codes), dz_ = Buffer(backend, codes);
  pixels_ = Buffer(backend, Shape{max_batch, config_.input_dim});
  // IWAE
  iwae_stats_ = Buffer(backend, Shape{max_batch, 2 * config_.latent});
  iwae_x_ = Buffer(backend, Shape{max_batch, config_.input_dim});
  iwae_recon_ = Buffer(backend, Shape{max_batch});
}

Tensor Vae::posterior(Backend& backend, const Tensor& x, RngKey key, bool at_step, Mode mode) {
  const std::int64_t b = x.rows();
  const int L = config_.latent;
  if (!encoder_.empty()) encoder_.forward(backend, params_, x, mode);
  head_.forward(backend, params_, hidden_out(x), mode);
  const Tensor s = stats(b), z = z_.tensor().rows_view(0, b);
  backend.reparameterize(s.cols_view(0, L), s.cols_view(L, L), key, at_step, eps(b), z);
  return z;
}

void Vae::forward(Backend& backend, const Tensor& x, RngKey key, bool at_step, bool with_grads) {
  const std::int64_t b = x.rows();
  const int L = config_.latent;
  const Mode mode = with_grads ? Mode::train : Mode::eval;
  decoder_.forward(backend, params_, posterior(backend, x, key, at_step, mode), mode);
  const Tensor s = stats(b), mu = s.cols_view(0, L), logvar = s.cols_view(L, L);
  const Tensor dpred = decoder_.grad_output(b), ds = head_.grad_output(b);
  const Tensor dmu = ds.cols_view(0, L), dlogvar = ds.cols_view(L, L);
  const Tensor terms = terms_.tensor();
  backend.likelihood(config_.likelihood, static_cast<float>(config_.sigma), pred(b), x, with_grads ? &dpred : nullptr,
                     nullptr, terms.rows_view(0, 1));
  backend.kl_divergence(mu, logvar, Scalar::at_step(StepScalar::beta), with_grads ? &dmu : nullptr,
                        with_grads ? &dlogvar : nullptr, nullptr, terms.rows_view(1, 1));
}

void Vae::train_step(Backend& backend, const Batch& batch, std::uint64_t seed) {
  const Tensor& x = batch.x;
  check_batch(x, config_.input_dim, "training batch");
  const std::int64_t b = x.rows();
  const int L = config_.latent;
  forward(backend, x, rng_key(seed, RngPurpose::reparam, 0), true, true);
  const Tensor dz = dz_.tensor().rows_view(0, b), ds = head_.grad_output(b);
  decoder_.backward(backend, params_, z_.tensor().rows_view(0, b), Activation::none, decoder_.grad_output(b), &dz);
  backend.reparameterize_backward(stats(b).cols_view(L, L), eps(b), dz, ds.cols_view(0, L), ds.cols_view(L, L));
  if (encoder_.empty()) {
    head_.backward(backend, params_, x, Activation::none, ds, nullptr);
    return;
  }
  const Tensor dh = encoder_.grad_output(b);
  head_.backward(backend, params_, encoder_.output(b), encoder_.out_act(), ds, &dh);
  encoder_.backward(backend, params_, x, Activation::none, dh, nullptr);
}

void Vae::eval_batch(Backend& backend, const Batch& batch, RngKey key, bool) {
  const Tensor& x = batch.x;
  check_batch(x, config_.input_dim, "evaluation batch");
  forward(backend, x, key, false, false);
}

Metrics Vae::metrics(std::span<const double> clean, std::span<const double>) const {
  return {{"elbo", clean[0] + clean[1]}, {"recon", clean[0]}, {"kl", clean[1]}};
}

Tensor Vae::encode(Backend& backend, const Tensor& x) {
  check_batch(x, config_.input_dim, "encode input");
  if (!encoder_.empty()) encoder_.forward(backend, params_, x, Mode::eval);
  head_.forward(backend, params_, hidden_out(x), Mode::eval);
  // mu is a column view of the head's [mu | logvar]; the codes are packed dense (in z_, free
  // outside a training step), so every caller (decode, downloads) gets a plain [b, latent].
  const Tensor codes = z_.tensor().rows_view(0, x.rows());
  backend.copy(stats(x.rows()).cols_view(0, config_.latent), codes);
  return codes;
}

Tensor Vae::encode_sample(Backend& backend, const Tensor& x, RngKey key) {
  check_batch(x, config_.input_dim, "encode input");
  return posterior(backend, x, key, false, Mode::eval);
}

Tensor Vae::decode(Backend& backend, const Tensor& z) {
  check_batch(z, config_.latent, "decode input");
  decoder_.forward(backend, params_, z, Mode::eval);
  const Tensor out = decoder_.output(z.rows());
  if (config_.likelihood == Likelihood::gaussian) return out;
  const Tensor px = pixels_.tensor().rows_view(0, z.rows());
  backend.sigmoid(out, px);
  return px;
}

// IWAE
void Vae::importance_bound(Backend& backend, const Batch& batch, int K, RngKey key, const Tensor& bound,
                           const Tensor* elbo) {
  const Tensor& x = batch.x;
  check_batch(x, config_.input_dim, "importance-weighted bound input");
  const std::int64_t n = x.rows(), rows = n * K;
  const int L = config_.latent;
  check_iwae_rows(n, K);
  if (!encoder_.empty()) encoder_.forward(backend, params_, x, Mode::eval);
  head_.forward(backend, params_, hidden_out(x), Mode::eval);
  const Tensor s = stats(n), reps = iwae_stats_.tensor().rows_view(0, rows), xs = iwae_x_.tensor().rows_view(0, rows);
  backend.repeat_rows(s, K, reps);
  backend.repeat_rows(x, K, xs);
  const Tensor z = z_.tensor().rows_view(0, rows), recon = iwae_recon_.tensor().rows_view(0, rows);
  backend.reparameterize(reps.cols_view(0, L), reps.cols_view(L, L), key, false, eps(rows), z);
  decoder_.forward(backend, params_, z, Mode::eval);
  backend.likelihood(config_.likelihood, static_cast<float>(config_.sigma), pred(rows), xs, nullptr, &recon,
                     terms_.tensor().rows_view(0, 1));
  backend.iwae_bound(recon, eps(rows), z, s.cols_view(L, L), K, bound, elbo);
}

}  // namespace cuvae

