// The programs on a checkpoint: eval, sample, encode / decode / reconstruct, eval --iwae (see
// train.hpp); the shared parts in session.hpp.
#include <algorithm>
#include <cmath>

#include "app/cvae.hpp"  // cvae
#include "app/iwae.hpp"  // IWAE
#include "app/session.hpp"
#include "datasets/npy.hpp"
#include "host/image.hpp"

namespace cuvae {

EvalResult evaluate_checkpoint(const std::filesystem::path& checkpoint, const DataOptions& data_opt,
                               std::int64_t test_limit, std::uint64_t seed, const RunOptions& run, std::ostream& out) {
  const std::int64_t batch = 128;
  LoadedModel m = load_model(checkpoint, run, batch, out);
  const std::filesystem::path data = data_path(data_opt);
  DeviceSplit test = load_split(*m.backend, for_model(data_opt, m.ck.config), Split::test, test_limit, out);
  check_test_images(data, test.host, checkpoint, m.ck.config.input_dim);
  check_labels(test, m.ck.config, data, "test");
  return evaluate(*m.backend, *m.model, test, batch, rng_key(seed, RngPurpose::eval, 0), 0, nullptr);
}

int sample_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& file, int count,
                      std::uint64_t seed, const RunOptions& run, std::ostream& out, const std::string& label) {
  if (count < 1 || count > 4096) throw UsageError("--count " + std::to_string(count) + ": must be in 1..4096");
  const ModelConfig c = read_checkpoint_header(checkpoint).config;
  if (!make_model(c)->generates()) throw Error(no_decoder_message(c));
  // cvae: the labels a conditional model samples given (checked first)
  const std::vector<std::int32_t> labels = sample_labels(c, checkpoint.string(), label, count);
  LoadedModel m = load_model(checkpoint, run, labels.empty() ? count : std::min<std::int64_t>(std::ssize(labels), 1024), out);
  if (!labels.empty()) {  // cvae
    write_conditional_samples(*m.backend, *m.model, file, labels, rng_key(seed, RngPurpose::sample, 0), input_image(c));
    return static_cast<int>(labels.size());
  }
  write_samples(*m.backend, *m.model, file, count, rng_key(seed, RngPurpose::sample, 0), input_image(c));
  return count;
}

std::int64_t transform_checkpoint(const TransformOptions& opt, std::ostream& out) {
  const Checkpoint ck = read_checkpoint_header(opt.checkpoint);
  if (opt.what != Transform::encode && !make_model(ck.config)->generates()) throw Error(no_decoder_message(ck.config));
  const int in_cols = opt.what == Transform::decode ? ck.config.latent : ck.config.input_dim;
  const int out_cols = opt.what == Transform::encode ? code_size(ck.config) : ck.config.input_dim;
  // The input rows, validated before anything is allocated on the device.
  std::vector<float> rows;
  std::int64_t n = 0;
  std::vector<std::int32_t> data_labels;  // cvae: the split's labels (--data)
  if (!opt.input.empty()) {
    NpyMatrix x = read_npy_matrix(opt.input);
    if (x.cols != in_cols)
      throw Error(opt.input.string() + ": rows of " + std::to_string(x.cols) + " values, but " + opt.checkpoint.string() +
                  " (" + ck.config.model + ") " + (opt.what == Transform::decode ? "decodes codes of " : "takes images of ") +
                  std::to_string(in_cols));
    rows = std::move(x.data), n = x.rows;
  } else {
    if (opt.what == Transform::decode) throw Error("decode: --input Z.npy is required");
    if (opt.split != "train" && opt.split != "test") throw Error("--split '" + opt.split + "': want train or test");
    const std::filesystem::path data = data_path(opt.data);
    Dataset d = load_data(for_model(opt.data, ck.config), opt.split == "train" ? Split::train : Split::test, 0, out);
    if (d.dim() != in_cols)
      throw Error(data.string() + ": images of " + std::to_string(d.dim()) + " pixels, " + opt.checkpoint.string() +
                  " expects " + std::to_string(in_cols));
    rows = std::move(d.images), n = d.count;
    data_labels.assign(d.labels.begin(), d.labels.end());  // cvae
  }
  const std::vector<std::int32_t> labels = transform_labels(opt, ck.config, n, data_labels);  // cvae: empty if unconditional
  const std::int64_t batch = 1024;
  LoadedModel m = load_model(opt.checkpoint, opt.run, batch, out);
  std::vector<float> result(static_cast<std::size_t>(n) * static_cast<std::size_t>(out_cols));
  Buffer in(*m.backend, Shape{batch, in_cols});
  Buffer in_labels(*m.backend, Shape{labels.empty() ? 1 : batch, 1}, DType::i32);  // cvae
  for (std::int64_t first = 0; first < n; first += batch) {
    const std::int64_t b = std::min(batch, n - first);
    const Tensor x = in.tensor().rows_view(0, b);
    m.backend->to_device(x, rows.data() + first * in_cols);
    Tensor lab;  // cvae: this chunk's labels (a conditional model's; the others ignore them)
    if (!labels.empty()) {
      lab = in_labels.tensor().rows_view(0, b);
      m.backend->to_device(lab, reinterpret_cast<const float*>(labels.data() + first));
    }
    const Tensor y = opt.what == Transform::encode ? m.model->encode_given(*m.backend, x, lab)
                     : opt.what == Transform::decode ? m.model->decode_given(*m.backend, x, lab)
                                                     : m.model->reconstruct_given(*m.backend, x, lab);
    m.backend->to_host(result.data() + first * out_cols, y);
  }
  if (opt.out.extension() == ".png" && opt.what != Transform::encode) {
    write_png_grid(opt.out, result.data(), static_cast<int>(std::min<std::int64_t>(n, 4096)), input_image(ck.config), kGrid);
  } else {
    const std::int64_t shape[2] = {n, out_cols};
    write_npy(opt.out, result.data(), shape);
  }
  return n;
}

// IWAE: `cuvae eval CKPT --iwae K` (app/iwae.hpp).
IwaeResult iwae_checkpoint(const std::filesystem::path& checkpoint, const DataOptions& data_opt,
                           std::int64_t test_limit, std::uint64_t seed, int K, const RunOptions& run, std::ostream& out) {
  if (K < 1 || K > kIwaeMaxSamples)
    throw UsageError("--iwae " + std::to_string(K) + ": want an integer in 1.." + std::to_string(kIwaeMaxSamples));
  const ModelConfig config = read_checkpoint_header(checkpoint).config;
  if (!make_model(config)->has_posterior())
    throw UsageError("eval --iwae: " + checkpoint.string() + " holds model " + config.model +
                     ", which has no posterior q(z|x); the importance-weighted bound needs a vae or a cvae");
  const std::filesystem::path data = data_path(data_opt);
  LoadedModel m = load_model(checkpoint, run, iwae_rows(K, test_limit > 0 ? test_limit : kIwaeChunkRows), out);
  DeviceSplit test = load_split(*m.backend, for_model(data_opt, m.ck.config), Split::test, test_limit, out);
  check_test_images(data, test.host, checkpoint, m.ck.config.input_dim);
  check_labels(test, m.ck.config, data, "test");  // a cvae's labels must be its classes
  const Batch all = m.model->needs_labels() ? test.all() : Batch{test.images.tensor(), {}};
  const IwaeImages v = importance_weighted(*m.backend, *m.model, all, K, rng_key(seed, RngPurpose::eval, kIwaeStream));
  IwaeResult r;
  r.K = K, r.images = test.host.count;
  for (std::size_t i = 0; i < v.bound.size(); ++i) r.iwae += v.bound[i], r.elbo += v.elbo[i];
  r.iwae /= static_cast<double>(std::max<std::int64_t>(r.images, 1));
  r.elbo /= static_cast<double>(std::max<std::int64_t>(r.images, 1));
  if (!std::isfinite(r.iwae) || !std::isfinite(r.elbo))
    throw Error("eval --iwae: the bound is " + std::string(std::isnan(r.iwae + r.elbo) ? "NaN" : "Inf") + " over " +
                std::to_string(r.images) + " images (the model's outputs overflow)");
  r.units = active_units(*m.backend, *m.model, all);
  return r;
}

}  // namespace cuvae
