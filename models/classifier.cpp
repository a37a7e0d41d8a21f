// The classifier on the op interface (see classifier.hpp).
#include "models/classifier.hpp"

#include "models/arch.hpp"

namespace cuvae {

Classifier::Classifier(const ModelConfig& config) : Model(config) {
  const ModelConfig& c = config_;
  CUVAE_CHECK(c.arch != "mlp" || !c.hidden.empty(), "a classifier needs a hidden layer");  // validate() says so first
  const Trunk t = add_encoder_trunk(features_, params_, c, "net", c.input_dim);
  head_.add(params_, "net." + std::to_string(t.next), t.width, c.classes, Activation::none);
}

void Classifier::allocate(Backend& backend, std::int64_t max_batch) {
  Model::allocate(backend, max_batch);
  features_.allocate(backend, max_batch);
  head_.allocate(backend, max_batch);
}

void Classifier::forward(Backend& backend, const Batch& batch, bool with_grads) {
  const Tensor& x = batch.x;
  const std::int64_t b = x.rows();
  if (batch.labels.data == nullptr || batch.labels.rows() != b)
    throw Error("classifier batch " + x.str() + ": needs its labels [" + std::to_string(b) + ", 1], got " +
                batch.labels.str());
  const Mode mode = with_grads ? Mode::train : Mode::eval;
  features_.forward(backend, params_, x, mode);
  head_.forward(backend, params_, features_.output(b), mode);
  const Tensor dlogits = head_.grad_output(b);
  backend.softmax_xent(logits(b), batch.labels, with_grads ? &dlogits : nullptr, nullptr, terms_.tensor());
}

void Classifier::train_step(Backend& backend, const Batch& batch, std::uint64_t) {
  check_batch(batch.x, config_.input_dim, "training batch");
  forward(backend, batch, true);
  const std::int64_t b = batch.x.rows();
  const Tensor dfeatures = features_.grad_output(b);
  head_.backward(backend, params_, features_.output(b), features_.out_act(), head_.grad_output(b), &dfeatures);
  features_.backward(backend, params_, batch.x, Activation::none, dfeatures, nullptr);
}

void Classifier::eval_batch(Backend& backend, const Batch& batch, RngKey, bool) {
  check_batch(batch.x, config_.input_dim, "evaluation batch");
  forward(backend, batch, false);
}

Metrics Classifier::metrics(std::span<const double> clean, std::span<const double>) const {
  return {{"xent", clean[0]}, {"accuracy", clean[1]}};
}

Tensor Classifier::encode(Backend& backend, const Tensor& x) {
  check_batch(x, config_.input_dim, "encode input");
  features_.forward(backend, params_, x, Mode::eval);
  return features_.output(x.rows());
}

Tensor Classifier::decode(Backend&, const Tensor&) { throw Error(no_decoder_message(config_)); }

void Classifier::sample_prior(Backend&, RngKey, const Tensor&) { throw Error(no_decoder_message(config_)); }

}  // namespace cuvae
