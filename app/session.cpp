// What every program shares (see session.hpp).
#include "app/session.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "app/cvae.hpp"  // cvae
#include "app/simt_device.hpp"
#include "datasets/batches.hpp"
#include "datasets/npy.hpp"
#include "host/device.hpp"
#include "host/image.hpp"

namespace cuvae {

DataOptions for_model(DataOptions data, const ModelConfig& config) {
  data.expect = input_image(config);
  return data;
}

DeviceSplit load_split(Backend& backend, const DataOptions& data, Split split, std::int64_t limit, std::ostream& log) {
  DeviceSplit s{load_data(data, split, limit, log), Buffer(), Buffer()};
  const std::filesystem::path dir = data_path(data);
  try {
    s.images = Buffer(backend, Shape{s.host.count, s.host.dim()});
    s.labels = Buffer(backend, Shape{s.host.count, 1}, DType::i32);
  } catch (const Error& e) {
    throw Error(dir.string() + ": the " + (split == Split::train ? "train" : "test") + " split on the device (" + std::to_string(s.host.count) + " x " +
                std::to_string(s.host.dim()) + " floats): " + e.what());
  }
  backend.to_device(s.images, s.host.images.data());
  std::vector<std::int32_t> labels(s.host.labels.begin(), s.host.labels.end());
  labels.resize(static_cast<std::size_t>(s.host.count), 0);  // data without labels: zeros, which no model reads
  backend.to_device(s.labels, reinterpret_cast<const float*>(labels.data()));  // 4-byte words, copied as they are
  return s;
}

EvalResult evaluate(Backend& backend, Model& model, const DeviceSplit& test, std::int64_t batch, RngKey base,
                    int keep, std::vector<float>* kept) {
  const std::size_t T = model.term_names().size();
  const std::int64_t n = test.host.count, nb = batch_count(n, batch);
  std::vector<double> clean(T, 0.0), noisy(model.has_noise() ? T : 0, 0.0);
  std::vector<float> t(T);
  for (int pass = 0; pass < (model.has_noise() ? 2 : 1); ++pass) {
    std::vector<double>& sums = pass ? noisy : clean;
    for (std::int64_t bi = 0; bi < nb; ++bi) {
      const std::int64_t b = std::min(batch, n - bi * batch);
      RngKey key = base;
      key.stream += static_cast<std::uint64_t>(bi);
      model.eval_batch(backend, test.rows(bi * batch, b), key, pass == 1);
      backend.to_host(t.data(), model.terms());
      for (std::size_t k = 0; k < T; ++k) sums[k] += t[k];
    }
  }
  for (double& v : clean) v /= static_cast<double>(n);
  for (double& v : noisy) v /= static_cast<double>(n);
  if (kept && keep > 0 && n > 0) {
    const std::int64_t shown = std::min<std::int64_t>(keep, n);
    const Batch first = test.rows(0, shown);  // cvae: with the labels a conditional model decodes with
    const Tensor px = model.reconstruct_given(backend, first.x, first.labels);
    kept->resize(static_cast<std::size_t>(px.numel()));
    backend.to_host(kept->data(), px);
  }
  EvalResult r{model.metrics(clean, noisy), n};
  for (const auto& [name, v] : r.metrics)
    if (!std::isfinite(v))
      throw Error("test pass: the " + name + " figure is " + (std::isnan(v) ? "NaN" : "Inf") + " over " +
                  std::to_string(n) + " images (the model's outputs overflow)");
  return r;
}

void check_test_images(const std::filesystem::path& data, const Dataset& test, const std::filesystem::path& checkpoint,
                       int input_dim) {
  if (test.dim() != input_dim)
    throw Error(data.string() + ": test images have " + std::to_string(test.dim()) + " pixels, " + checkpoint.string() +
                " expects " + std::to_string(input_dim));
}

void require_labels(const Dataset& d, const ModelConfig& c, const std::filesystem::path& data, const char* split) {
  if (has_classes(c) && d.labels.empty())
    throw Error(data.string() + ": the " + split + " images have no labels (a flat image folder, or a .npy without " +
                "<stem>_labels.npy beside it); a " + c.model + " needs them: put the images in one folder per class");
}

void check_labels(const DeviceSplit& s, const ModelConfig& c, const std::filesystem::path& data, const char* split) {
  if (!has_classes(c)) return;
  require_labels(s.host, c, data, split);
  for (std::size_t i = 0; i < s.host.labels.size(); ++i)
    if (s.host.labels[i] >= c.classes)
      throw Error(data.string() + ": " + split + " label " + std::to_string(s.host.labels[i]) + " (image " +
                  std::to_string(i) + ") is outside the " + c.model + "'s " + std::to_string(c.classes) + " classes");  // cvae
}

void allocate_model(Backend& backend, Model& model, std::int64_t rows) {
  try {
    model.allocate(backend, rows);
  } catch (const Error& e) {
    throw Error("the " + model.config().model + " model " + to_json(model.config()).dump() + " for batches of " +
                std::to_string(rows) + " rows: " + e.what());
  }
}

void write_samples(Backend& backend, Model& model, const std::filesystem::path& file, int count, RngKey key,
                   ImageShape image) {
  Buffer z(backend, Shape{count, model.latent()});
  model.sample_prior(backend, key, z);
  const Tensor pixels = model.decode(backend, z);
  std::vector<float> host(static_cast<std::size_t>(pixels.numel()));
  backend.to_host(host.data(), pixels);
  if (file.extension() == ".npy") {
    const std::int64_t shape[2] = {count, model.input_dim()};
    write_npy(file, host.data(), shape);
  } else {
    write_png_grid(file, host.data(), count, image, kGrid);
  }
}

std::unique_ptr<Backend> make_run_backend(const RunOptions& run, std::ostream& out) {
  if (run.device == "simt") return make_simt_backend(run.cuda);
  return make_backend(run.device, run.threads, out, run.cuda);
}

LoadedModel load_model(const std::filesystem::path& checkpoint, const RunOptions& run, std::int64_t batch,
                       std::ostream& out) {
  LoadedModel m;
  const CheckpointFile file = read_checkpoint(checkpoint);  // read and checked once
  m.ck = file.header;
  m.backend = make_run_backend(run, out);
  m.model = make_model(m.ck.config);
  allocate_model(*m.backend, *m.model, batch);
  load_checkpoint(checkpoint, file, *m.backend, *m.model);
  return m;
}

}  // namespace cuvae
