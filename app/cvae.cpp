// The app's side of a conditional model (see cvae.hpp).
#include "app/cvae.hpp"

#include <charconv>

#include "datasets/npy.hpp"
#include "host/image.hpp"

namespace cuvae {

namespace {
std::string classes_text(const ModelConfig& c) {
  return "the " + c.model + "'s " + std::to_string(c.classes) + " classes (0.." + std::to_string(c.classes - 1) + ")";
}
}  // namespace

std::vector<std::int32_t> class_grid_labels(int classes, int per_class) {
  std::vector<std::int32_t> y;
  for (int k = 0; k < classes; ++k) y.insert(y.end(), static_cast<std::size_t>(per_class), k);
  return y;
}

std::vector<std::int32_t> sample_labels(const ModelConfig& c, const std::string& what, const std::string& label,
                                        int count, const char* command) {
  const bool conditional = make_model(c)->conditional();
  if (!conditional) {
    if (!label.empty())
      throw UsageError("--label " + label + ": " + what + " holds a " + c.model + ", which takes no labels");
    return {};
  }
  if (label.empty())
    throw UsageError(std::string(command) + ": " + what + " holds a " + c.model + ", which samples given a class: pass --label Y (0.." +
                     std::to_string(c.classes - 1) + ") or --label all");
  if (label == "all") return class_grid_labels(c.classes, 8);
  int y = -1;
  const auto [end, ec] = std::from_chars(label.data(), label.data() + label.size(), y);
  if (ec != std::errc() || end != label.data() + label.size() || y < 0 || y >= c.classes)
    throw UsageError("--label " + label + ": outside " + classes_text(c) + "; want a class or all");
  return std::vector<std::int32_t>(static_cast<std::size_t>(count), y);
}

void check_classes(const std::vector<std::int32_t>& labels, const ModelConfig& c, const std::string& what) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= c.classes)
      throw Error(what + ": label " + std::to_string(labels[i]) + " (row " + std::to_string(i) + ") is outside " +
                  classes_text(c));
}

std::vector<std::int32_t> transform_labels(const TransformOptions& opt, const ModelConfig& c, std::int64_t n,
                                           const std::vector<std::int32_t>& data_labels) {
  const std::string ckpt = opt.checkpoint.string();
  if (!make_model(c)->conditional()) {
    if (!opt.labels.empty()) throw UsageError("--labels: " + ckpt + " holds a " + c.model + ", which takes no labels");
    return {};
  }
  const char* cmd = opt.what == Transform::encode ? "encode" : opt.what == Transform::decode ? "decode" : "reconstruct";
  if (!opt.labels.empty() && opt.input.empty())
    throw UsageError("--labels: is for --input; with --data, " + std::string(cmd) + " uses the split's labels");
  if (opt.labels.empty() && !opt.input.empty())
    throw UsageError(std::string(cmd) + ": " + ckpt + " holds a " + c.model +
                     ", which needs --labels Y.npy (one class label per row of --input)");
  std::vector<std::int32_t> y = opt.labels.empty() ? data_labels : read_npy_labels(opt.labels);
  const std::string what = opt.labels.empty() ? data_path(opt.data).string() : opt.labels.string();
  if (static_cast<std::int64_t>(y.size()) != n)
    throw Error(what + ": " + std::to_string(y.size()) + " labels for the " + std::to_string(n) + " rows of " +
                opt.input.string());
  check_classes(y, c, what);
  return y;
}

void write_conditional_samples(Backend& backend, Model& model, const std::filesystem::path& file,
                               const std::vector<std::int32_t>& labels, RngKey key, ImageShape image) {
  const std::int64_t n = static_cast<std::int64_t>(labels.size()), D = model.input_dim();
  const std::int64_t chunk = std::min<std::int64_t>(model.max_batch(), std::max<std::int64_t>(n, 1));
  Buffer z(backend, Shape{n, model.latent()}), y(backend, Shape{chunk, 1}, DType::i32);
  model.sample_prior(backend, key, z);  // one draw for all rows: the same z whatever the chunking
  std::vector<float> host(static_cast<std::size_t>(n * D));
  for (std::int64_t first = 0; first < n; first += chunk) {
    const std::int64_t b = std::min(chunk, n - first);
    const Tensor yb = y.tensor().rows_view(0, b);
    backend.to_device(yb, reinterpret_cast<const float*>(labels.data() + first));  // 4-byte words as they are
    const Tensor px = model.decode_given(backend, z.tensor().rows_view(first, b), yb);
    backend.to_host(host.data() + first * D, px);
  }
  if (file.extension() == ".npy") {
    const std::int64_t shape[2] = {n, D};
    write_npy(file, host.data(), shape);
  } else {
    write_png_grid(file, host.data(), static_cast<int>(n), image, 8);
  }
}

}  // namespace cuvae
