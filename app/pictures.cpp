// `cuvae interpolate` and `cuvae manifold` (see pictures.hpp).
#include "app/pictures.hpp"

#include <charconv>
#include <cmath>

#include "app/cvae.hpp"
#include "app/session.hpp"
#include "host/image.hpp"

namespace cuvae {
namespace {

// Labels [n, 1] int32 on the device (a conditional model's), or an empty tensor for another.
Buffer device_labels(Backend& backend, const std::vector<std::int32_t>& y) {
  if (y.empty()) return {};
  Buffer b(backend, Shape{static_cast<std::int64_t>(y.size()), 1}, DType::i32);
  backend.to_device(b, reinterpret_cast<const float*>(y.data()));  // 4-byte words as they are
  return b;
}

void check_test_image(std::int64_t i, const Dataset& test, const char* flag) {
  if (i < 0 || i >= test.count)
    throw UsageError(std::string(flag) + " " + std::to_string(i) + ": want a test image in 0.." + std::to_string(test.count - 1));
}

}  // namespace

std::vector<float> decode_codes(Backend& backend, Model& model, const std::vector<float>& z, std::int64_t n,
                                const std::vector<std::int32_t>& labels) {
  Buffer zb(backend, Shape{n, model.latent()});
  backend.to_device(zb, z.data());
  const Buffer yb = device_labels(backend, labels);
  const Tensor pixels = model.decode_given(backend, zb, yb.tensor());
  std::vector<float> host(static_cast<std::size_t>(pixels.numel()));
  backend.to_host(host.data(), pixels);
  return host;
}

std::pair<int, int> parse_dims(std::string_view text) {
  const std::size_t comma = text.find(',');
  int v[2] = {-1, -1};
  bool ok = comma != std::string_view::npos;
  for (int i = 0; ok && i < 2; ++i) {
    const std::string_view part = i == 0 ? text.substr(0, comma) : text.substr(comma + 1);
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    ok = !part.empty() && ec == std::errc() && end == part.data() + part.size() && v[i] >= 0;
  }
  if (!ok) throw UsageError("--dims '" + std::string(text) + "': want two latent dimensions a,b (integers from 0)");
  return {v[0], v[1]};
}

std::vector<float> line_codes(std::span<const float> z0, std::span<const float> z1, int steps, bool spherical) {
  const std::size_t L = z0.size();
  double dot = 0, n0 = 0, n1 = 0;
  for (std::size_t l = 0; l < L; ++l) dot += double(z0[l]) * z1[l], n0 += double(z0[l]) * z0[l], n1 += double(z1[l]) * z1[l];
  const double cos_w = n0 > 0 && n1 > 0 ? std::clamp(dot / std::sqrt(n0 * n1), -1.0, 1.0) : 1.0;
  const double w = std::acos(cos_w);
  const bool arc = spherical && w > 1e-6 && w < M_PI - 1e-6;
  std::vector<float> z(static_cast<std::size_t>(steps) * L);
  for (int s = 0; s < steps; ++s) {
    const double t = steps > 1 ? double(s) / (steps - 1) : 0.0;
    const double a = arc ? std::sin((1 - t) * w) / std::sin(w) : 1 - t, b = arc ? std::sin(t * w) / std::sin(w) : t;
    for (std::size_t l = 0; l < L; ++l) z[static_cast<std::size_t>(s) * L + l] = static_cast<float>(a * z0[l] + b * z1[l]);
  }
  return z;
}

std::vector<float> manifold_codes(int L, int a, int b, double span, int steps) {
  std::vector<float> z(static_cast<std::size_t>(steps) * static_cast<std::size_t>(steps) * static_cast<std::size_t>(L), 0.f);
  const auto at = [&](int i) { return steps > 1 ? -span + 2 * span * i / (steps - 1) : 0.0; };
  for (int r = 0; r < steps; ++r)
    for (int c = 0; c < steps; ++c) {
      float* row = z.data() + (static_cast<std::size_t>(r) * steps + c) * L;
      row[a] = static_cast<float>(at(c));
      row[b] = static_cast<float>(-at(r));
    }
  return z;
}

std::vector<float> interpolation_strip(Backend& backend, Model& model, const Dataset& test, std::int64_t from,
                                       std::int64_t to, int steps, bool spherical, int label) {
  const int D = model.input_dim(), L = model.latent();
  std::vector<float> pair(test.images.begin() + from * D, test.images.begin() + (from + 1) * D);
  pair.insert(pair.end(), test.images.begin() + to * D, test.images.begin() + (to + 1) * D);
  std::vector<std::int32_t> ends, along;
  if (model.conditional()) {
    ends = {test.labels[static_cast<std::size_t>(from)], test.labels[static_cast<std::size_t>(to)]};
    along.assign(static_cast<std::size_t>(steps), label >= 0 ? label : ends[0]);
  }
  Buffer x(backend, Shape{2, D});
  backend.to_device(x, pair.data());
  const Buffer yb = device_labels(backend, ends);
  std::vector<float> codes(static_cast<std::size_t>(2 * L));
  backend.to_host(codes.data(), model.encode_given(backend, x, yb.tensor()));
  const std::vector<float> z = line_codes(std::span<const float>(codes).first(static_cast<std::size_t>(L)),
                                          std::span<const float>(codes).last(static_cast<std::size_t>(L)), steps, spherical);
  std::vector<float> row(pair.begin(), pair.begin() + D);
  const std::vector<float> decoded = decode_codes(backend, model, z, steps, along);
  row.insert(row.end(), decoded.begin(), decoded.end());
  row.insert(row.end(), pair.begin() + D, pair.end());
  return row;
}

int interpolate_checkpoint(const InterpolateOptions& opt, std::ostream& out) {
  if (opt.from.empty() || opt.from.size() != opt.to.size())
    throw UsageError("--from and --to: want as many of each (one strip per pair), got " + std::to_string(opt.from.size()) +
                     " and " + std::to_string(opt.to.size()));
  if (opt.steps < 2 || opt.steps > kMaxPictureSteps)
    throw UsageError("--steps " + std::to_string(opt.steps) + ": want an integer in 2.." + std::to_string(kMaxPictureSteps));
  const ModelConfig c = read_checkpoint_header(opt.checkpoint).config;
  if (!make_model(c)->generates()) throw Error(no_decoder_message(c));
  int label = -1;  // cvae: --label Y, checked against the classes first
  if (!opt.label.empty()) {
    if (opt.label == "all") throw UsageError("--label all: interpolate decodes each strip given one class; pass --label Y");
    label = sample_labels(c, opt.checkpoint.string(), opt.label, 1, "interpolate").at(0);
  }
  const std::filesystem::path data = opt.data_dir.empty() ? default_data_dir() : opt.data_dir;
  const Dataset test = load_idx_dataset(data, "t10k", opt.test_limit);
  check_test_images(data, test, opt.checkpoint, c.input_dim);
  for (std::size_t i = 0; i < opt.from.size(); ++i) check_test_image(opt.from[i], test, "--from"), check_test_image(opt.to[i], test, "--to");
  if (make_model(c)->conditional())
    check_classes(std::vector<std::int32_t>(test.labels.begin(), test.labels.end()), c, data.string() + " (test labels)");
  LoadedModel m = load_model(opt.checkpoint, opt.run, opt.steps, out);
  std::vector<float> pixels;
  for (std::size_t i = 0; i < opt.from.size(); ++i) {
    const std::vector<float> s = interpolation_strip(*m.backend, *m.model, test, opt.from[i], opt.to[i], opt.steps, opt.spherical, label);
    pixels.insert(pixels.end(), s.begin(), s.end());
  }
  const auto [h, w] = image_shape(c.input_dim);
  const int strips = static_cast<int>(opt.from.size());
  write_png_grid(opt.out, pixels.data(), strips * (opt.steps + 2), h, w, opt.steps + 2);
  return strips;
}

int manifold_checkpoint(const ManifoldOptions& opt, std::ostream& out) {
  const ModelConfig c = read_checkpoint_header(opt.checkpoint).config;
  if (!make_model(c)->generates()) throw Error(no_decoder_message(c));
  if (opt.steps < 2 || opt.steps > kMaxPictureSteps)
    throw UsageError("--steps " + std::to_string(opt.steps) + ": want an integer in 2.." + std::to_string(kMaxPictureSteps));
  if (!(opt.span > 0) || !std::isfinite(opt.span)) throw UsageError("--span: want a positive number");
  for (const int d : {opt.dim_a, opt.dim_b})
    if (d < 0 || d >= c.latent)
      throw UsageError("--dims: dimension " + std::to_string(d) + " is outside the " + c.model + "'s " +
                       std::to_string(c.latent) + " latent dimensions (0.." + std::to_string(c.latent - 1) + ")");
  if (opt.dim_a == opt.dim_b) throw UsageError("--dims: want two different dimensions, got " + std::to_string(opt.dim_a) + " twice");
  // cvae: the classes, one grid each (--label all: every class)
  std::vector<std::int32_t> classes;
  if (opt.label == "all" && make_model(c)->conditional())
    for (int k = 0; k < c.classes; ++k) classes.push_back(k);
  else if (const std::vector<std::int32_t> y = sample_labels(c, opt.checkpoint.string(), opt.label, 1, "manifold"); !y.empty())
    classes = y;
  const std::int64_t n = std::int64_t(opt.steps) * opt.steps;
  LoadedModel m = load_model(opt.checkpoint, opt.run, n, out);
  const std::vector<float> z = manifold_codes(c.latent, opt.dim_a, opt.dim_b, opt.span, opt.steps);
  std::vector<float> pixels;
  const int grids = std::max<int>(1, static_cast<int>(classes.size()));
  for (int g = 0; g < grids; ++g) {
    const std::vector<std::int32_t> y = classes.empty() ? std::vector<std::int32_t>{}
                                                        : std::vector<std::int32_t>(static_cast<std::size_t>(n), classes[static_cast<std::size_t>(g)]);
    const std::vector<float> d = decode_codes(*m.backend, *m.model, z, n, y);
    pixels.insert(pixels.end(), d.begin(), d.end());
  }
  const auto [h, w] = image_shape(c.input_dim);
  write_png_grid(opt.out, pixels.data(), static_cast<int>(grids * n), h, w, opt.steps);
  return grids;
}

}  // namespace cuvae
