// The conditional VAE on the op interface (see cvae.hpp).
#include "models/cvae.hpp"

#include "models/arch.hpp"

namespace cuvae {

Cvae::Cvae(const ModelConfig& config) : Model(config) {
  const ModelConfig& c = config_;
  const int D = c.input_dim, C = c.classes, L = c.latent;
  int width = 0;
  if (c.arch == "conv") {
    const int F = add_conv_features(conv_, params_, c, "encoder");
    encoder_.add(params_, "encoder.5", F + C, kConvWidth, Activation::relu);
    width = kConvWidth;
  } else if (c.arch == "conv64") {  // fc_mu and fc_logvar take [features | onehot]
    width = add_conv_features(conv_, params_, c, "encoder") + C;
  } else {
    encoder_.add_mlp(params_, "encoder", D + C, c.hidden, c.activation);
    width = c.hidden.empty() ? D + C : c.hidden.back();
  }
  // Both head weights first, then both biases: each pair is adjacent and acts as one tensor (as the vae's).
  Layer head;
  head.weight = params_.add("fc_mu.weight", Shape{L, width}, width);
  params_.add("fc_logvar.weight", Shape{L, width}, width);
  head.bias = params_.add("fc_mu.bias", Shape{L}, width);
  params_.add("fc_logvar.bias", Shape{L}, width);
  head.count = 2, head.in = width, head.out = 2 * L, head.act = Activation::none;
  head_.add(head);
  add_decoder(decoder_, params_, c, L + C);
}

void Cvae::allocate(Backend& backend, std::int64_t max_batch) {
  Model::allocate(backend, max_batch);
  const int D = config_.input_dim, C = config_.classes, L = config_.latent;
  if (!encoder_.empty()) encoder_.allocate(backend, max_batch);
  head_.allocate(backend, max_batch);
  decoder_.allocate(backend, max_batch);
  if (conv()) {
    conv_.allocate(backend, max_batch);
    images_ = Buffer(backend, Shape{max_batch, D});
    dinput_ = Buffer(backend, Shape{max_batch, conv_.out() + C}), dfeatures_ = Buffer(backend, Shape{max_batch, conv_.out()});
  }
  input_ = Buffer(backend, Shape{max_batch, label_at() + C});
  code_ = Buffer(backend, Shape{max_batch, L + C}), dcode_ = Buffer(backend, Shape{max_batch, L + C});
  eps_ = Buffer(backend, Shape{max_batch, L}), codes_ = Buffer(backend, Shape{max_batch, L});
  pixels_ = Buffer(backend, Shape{max_batch, D});
  iwae_stats_ = Buffer(backend, Shape{max_batch, 2 * L});  // IWAE
  iwae_x_ = Buffer(backend, Shape{max_batch, D});
  iwae_recon_ = Buffer(backend, Shape{max_batch});
}

void Cvae::condition(Backend& backend, const Tensor& x, const Tensor& labels, Mode mode, const char* what) {
  check_batch(x, config_.input_dim, what);
  const std::int64_t b = x.rows();
  if (labels.data == nullptr || labels.rows() != b)
    throw Error(std::string("cvae ") + what + " " + x.str() + ": needs its labels [" + std::to_string(b) + ", 1], got " +
                labels.str());
  const Tensor into = images(b);
  if (x.data != into.data || x.row_stride() != into.row_stride()) backend.copy(x, into);  // the trainer's batch is there already
  if (conv()) {  // the convolutions' features where the images sit in the mlp's workspace
    conv_.forward(backend, params_, into, mode);
    backend.copy(conv_.output(b), input(b).cols_view(0, conv_.out()));
  }
  backend.one_hot(labels, input(b).cols_view(label_at(), config_.classes));
}

void Cvae::encoder_forward(Backend& backend, std::int64_t b, Mode mode) {
  if (!encoder_.empty()) encoder_.forward(backend, params_, input(b), mode);
  head_.forward(backend, params_, hidden_out(b), mode);
}

void Cvae::forward(Backend& backend, const Batch& batch, RngKey key, bool at_step, bool with_grads, const char* what) {
  const Mode mode = with_grads ? Mode::train : Mode::eval;
  condition(backend, batch.x, batch.labels, mode, what);
  const std::int64_t b = batch.x.rows();
  const int L = config_.latent;
  encoder_forward(backend, b, mode);
  const Tensor s = stats(b), mu = s.cols_view(0, L), logvar = s.cols_view(L, L);
  backend.reparameterize(mu, logvar, key, at_step, eps(b), code(b).cols_view(0, L));
  backend.one_hot(batch.labels, code(b).cols_view(L, config_.classes));
  decoder_.forward(backend, params_, code(b), mode);
  const Tensor dpred = decoder_.grad_output(b), ds = head_.grad_output(b);
  const Tensor dmu = ds.cols_view(0, L), dlogvar = ds.cols_view(L, L);
  const Tensor terms = terms_.tensor();
  backend.likelihood(config_.likelihood, static_cast<float>(config_.sigma), pred(b), images(b),
                     with_grads ? &dpred : nullptr, nullptr, terms.rows_view(0, 1));
  backend.kl_divergence(mu, logvar, Scalar::at_step(StepScalar::beta), with_grads ? &dmu : nullptr,
                        with_grads ? &dlogvar : nullptr, nullptr, terms.rows_view(1, 1));
}

void Cvae::train_step(Backend& backend, const Batch& batch, std::uint64_t seed) {
  forward(backend, batch, rng_key(seed, RngPurpose::reparam, 0), true, true, "training batch");
  const std::int64_t b = batch.x.rows();
  const int L = config_.latent;
  // The decoder's input gradient covers [z | onehot]; only its z columns flow on.
  const Tensor dcode = dcode_.tensor().rows_view(0, b), ds = head_.grad_output(b);
  decoder_.backward(backend, params_, code(b), Activation::none, decoder_.grad_output(b), &dcode);
  backend.reparameterize_backward(stats(b).cols_view(L, L), eps(b), dcode.cols_view(0, L), ds.cols_view(0, L),
                                  ds.cols_view(L, L));
  if (encoder_.empty() && !conv()) {
    head_.backward(backend, params_, input(b), Activation::none, ds, nullptr);
    return;
  }
  // conv: the gradient w.r.t. [features | onehot] (times the activation's derivative at the
  // features); the features' columns flow on into the convolutions, made dense.
  const Tensor din = conv() ? dinput_.tensor().rows_view(0, b) : Tensor{};
  if (encoder_.empty()) {  // conv64: the heads take [features | onehot]
    head_.backward(backend, params_, input(b), conv_.out_act(), ds, &din);
  } else {
    const Tensor dh = encoder_.grad_output(b);
    head_.backward(backend, params_, encoder_.output(b), encoder_.out_act(), ds, &dh);
    if (!conv()) {
      encoder_.backward(backend, params_, input(b), Activation::none, dh, nullptr);
      return;
    }
    encoder_.backward(backend, params_, input(b), conv_.out_act(), dh, &din);
  }
  const Tensor dfeat = dfeatures_.tensor().rows_view(0, b);
  backend.copy(din.cols_view(0, conv_.out()), dfeat);
  conv_.backward(backend, params_, images(b), Activation::none, dfeat, nullptr);
}

void Cvae::eval_batch(Backend& backend, const Batch& batch, RngKey key, bool) {
  forward(backend, batch, key, false, false, "evaluation batch");
}

Metrics Cvae::metrics(std::span<const double> clean, std::span<const double>) const {
  return {{"elbo", clean[0] + clean[1]}, {"recon", clean[0]}, {"kl", clean[1]}};
}

Tensor Cvae::encode(Backend&, const Tensor&) { throw Error("a cvae encodes images given their class labels"); }
Tensor Cvae::decode(Backend&, const Tensor&) { throw Error("a cvae decodes codes given their class labels"); }

Tensor Cvae::encode_given(Backend& backend, const Tensor& x, const Tensor& labels) {
  condition(backend, x, labels, Mode::eval, "encode input");
  encoder_forward(backend, x.rows(), Mode::eval);
  const Tensor codes = codes_.tensor().rows_view(0, x.rows());
  backend.copy(stats(x.rows()).cols_view(0, config_.latent), codes);  // mu, packed dense
  return codes;
}

Tensor Cvae::decode_given(Backend& backend, const Tensor& z, const Tensor& labels) {
  check_batch(z, config_.latent, "decode input");
  const std::int64_t b = z.rows();
  if (labels.data == nullptr || labels.rows() != b)
    throw Error("cvae decode input " + z.str() + ": needs its labels [" + std::to_string(b) + ", 1], got " + labels.str());
  backend.copy(z, code(b).cols_view(0, config_.latent));
  backend.one_hot(labels, code(b).cols_view(config_.latent, config_.classes));
  decoder_.forward(backend, params_, code(b), Mode::eval);
  const Tensor out = decoder_.output(b);
  if (config_.likelihood == Likelihood::gaussian) return out;
  const Tensor px = pixels_.tensor().rows_view(0, b);
  backend.sigmoid(out, px);
  return px;
}


// IWAE: as Vae::importance_bound, with onehot(y) beside x at the encoder and beside each of the
// image's K codes at the decoder (repeated with the rows, into the code workspace's label columns).
void Cvae::importance_bound(Backend& backend, const Batch& batch, int K, RngKey key, const Tensor& bound,
                            const Tensor* elbo) {
  condition(backend, batch.x, batch.labels, Mode::eval, "importance-weighted bound input");
  const std::int64_t n = batch.x.rows(), rows = n * K;
  const int L = config_.latent, C = config_.classes;
  check_iwae_rows(n, K);
  encoder_forward(backend, n, Mode::eval);
  const Tensor s = stats(n), reps = iwae_stats_.tensor().rows_view(0, rows), xs = iwae_x_.tensor().rows_view(0, rows);
  backend.repeat_rows(s, K, reps);
  backend.repeat_rows(images(n), K, xs);
  const Tensor c = code(rows), z = c.cols_view(0, L), recon = iwae_recon_.tensor().rows_view(0, rows);
  backend.repeat_rows(input(n).cols_view(label_at(), C), K, c.cols_view(L, C));
  backend.reparameterize(reps.cols_view(0, L), reps.cols_view(L, L), key, false, eps(rows), z);
  decoder_.forward(backend, params_, c, Mode::eval);
  backend.likelihood(config_.likelihood, static_cast<float>(config_.sigma), pred(rows), xs, nullptr, &recon,
                     terms_.tensor().rows_view(0, 1));
  backend.iwae_bound(recon, eps(rows), z, s.cols_view(L, L), K, bound, elbo);
}

}  // namespace cuvae
