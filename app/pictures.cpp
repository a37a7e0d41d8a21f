// `cuvae interpolate`, `cuvae manifold` and `cuvae latent-map` (see pictures.hpp).
#include "app/pictures.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "app/compare.hpp"
#include "app/cvae.hpp"
#include "app/session.hpp"
#include "host/image.hpp"
#include "host/plot.hpp"

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
  const std::filesystem::path data = data_path(opt.data);
  const Dataset test = load_data(for_model(opt.data, c), Split::test, opt.test_limit, out);
  check_test_images(data, test, opt.checkpoint, c.input_dim);
  for (std::size_t i = 0; i < opt.from.size(); ++i) check_test_image(opt.from[i], test, "--from"), check_test_image(opt.to[i], test, "--to");
  if (make_model(c)->conditional()) require_labels(test, c, data, "test");
  if (make_model(c)->conditional())
    check_classes(std::vector<std::int32_t>(test.labels.begin(), test.labels.end()), c, data.string() + " (test labels)");
  LoadedModel m = load_model(opt.checkpoint, opt.run, opt.steps, out);
  std::vector<float> pixels;
  for (std::size_t i = 0; i < opt.from.size(); ++i) {
    const std::vector<float> s = interpolation_strip(*m.backend, *m.model, test, opt.from[i], opt.to[i], opt.steps, opt.spherical, label);
    pixels.insert(pixels.end(), s.begin(), s.end());
  }
  const int strips = static_cast<int>(opt.from.size());
  write_png_grid(opt.out, pixels.data(), strips * (opt.steps + 2), input_image(c), opt.steps + 2);
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
  write_png_grid(opt.out, pixels.data(), static_cast<int>(grids * n), input_image(c), opt.steps);
  return grids;
}

Projection principal_plane(const std::vector<float>& codes, std::int64_t n, int L) {
  std::vector<double> mean(static_cast<std::size_t>(L), 0.0), cov(static_cast<std::size_t>(L) * static_cast<std::size_t>(L), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (int a = 0; a < L; ++a) mean[static_cast<std::size_t>(a)] += codes[static_cast<std::size_t>(i * L + a)];
  for (double& m : mean) m /= static_cast<double>(std::max<std::int64_t>(n, 1));
  std::vector<double> d(static_cast<std::size_t>(L));
  for (std::int64_t i = 0; i < n; ++i) {
    for (int a = 0; a < L; ++a) d[static_cast<std::size_t>(a)] = codes[static_cast<std::size_t>(i * L + a)] - mean[static_cast<std::size_t>(a)];
    for (int a = 0; a < L; ++a)
      for (int b = 0; b <= a; ++b) cov[static_cast<std::size_t>(a * L + b)] += d[static_cast<std::size_t>(a)] * d[static_cast<std::size_t>(b)];
  }
  for (int a = 0; a < L; ++a)
    for (int b = 0; b < a; ++b) cov[static_cast<std::size_t>(b * L + a)] = cov[static_cast<std::size_t>(a * L + b)];
  std::vector<double> w, v;
  symmetric_eigen(cov, L, w, v);
  for (int j = 0; j < 2; ++j) {  // the sign: the largest entry positive
    int top = 0;
    for (int a = 1; a < L; ++a)
      if (std::fabs(v[static_cast<std::size_t>(a * L + j)]) > std::fabs(v[static_cast<std::size_t>(top * L + j)])) top = a;
    if (v[static_cast<std::size_t>(top * L + j)] < 0)
      for (int a = 0; a < L; ++a) v[static_cast<std::size_t>(a * L + j)] = -v[static_cast<std::size_t>(a * L + j)];
  }
  Projection p;
  double total = 0;
  for (double e : w) total += std::max(e, 0.0);
  p.explained = total > 0 ? (std::max(w[0], 0.0) + std::max(w[1], 0.0)) / total : 1.0;
  for (std::int64_t i = 0; i < n; ++i) {
    double x = 0, y = 0;
    for (int a = 0; a < L; ++a) {
      const double c = codes[static_cast<std::size_t>(i * L + a)] - mean[static_cast<std::size_t>(a)];
      x += c * v[static_cast<std::size_t>(a * L)], y += c * v[static_cast<std::size_t>(a * L + 1)];
    }
    p.x.push_back(x), p.y.push_back(y);
  }
  return p;
}

std::int64_t latent_map_checkpoint(const LatentMapOptions& opt, std::ostream& out) {
  const ModelConfig c = read_checkpoint_header(opt.checkpoint).config;
  const std::filesystem::path data = data_path(opt.data);
  const Dataset test = load_data(for_model(opt.data, c), Split::test, opt.test_limit, out);
  check_test_images(data, test, opt.checkpoint, c.input_dim);
  const std::unique_ptr<Model> probe = make_model(c);
  if (probe->conditional()) require_labels(test, c, data, "test");
  const int L = code_size(c);
  if (L < 2) throw UsageError("latent-map: " + opt.checkpoint.string() + " has a 1-dimensional code; a map needs 2 or more");
  constexpr std::int64_t kBatch = 1024;
  LoadedModel m = load_model(opt.checkpoint, opt.run, std::min<std::int64_t>(kBatch, test.count), out);
  const int D = c.input_dim;
  std::vector<float> codes(static_cast<std::size_t>(test.count) * static_cast<std::size_t>(L));
  Buffer x(*m.backend, Shape{std::min<std::int64_t>(kBatch, test.count), D});
  for (std::int64_t at = 0; at < test.count; at += kBatch) {
    const std::int64_t b = std::min(kBatch, test.count - at);
    const Tensor xb = x.tensor().rows_view(0, b);
    m.backend->to_device(xb, test.images.data() + at * D);
    std::vector<std::int32_t> y;
    if (m.model->conditional()) y.assign(test.labels.begin() + at, test.labels.begin() + at + b);
    const Buffer yb = device_labels(*m.backend, y);
    m.backend->to_host(codes.data() + at * L, m.model->encode_given(*m.backend, xb, yb.tensor()));
  }
  Projection p;
  const std::filesystem::path run = opt.checkpoint.parent_path().filename();
  std::string title = (run.empty() ? opt.checkpoint.filename() : run).string() + ": " + c.model + " test codes";
  std::string xl = "z0", yl = "z1";
  if (L == 2) {
    for (std::int64_t i = 0; i < test.count; ++i)
      p.x.push_back(codes[static_cast<std::size_t>(2 * i)]), p.y.push_back(codes[static_cast<std::size_t>(2 * i + 1)]);
  } else {
    p = principal_plane(codes, test.count, L);
    char share[64];
    std::snprintf(share, sizeof share, "%.0f%%", 100 * p.explained);
    title += " on their first two principal components (" + std::string(share) + " of the variance of " + std::to_string(L) + " dimensions)";
    xl = "PC1", yl = "PC2";
  }
  std::vector<Series> series;
  if (test.labels.empty()) {
    series.push_back({"test images", p.x, p.y});
  } else {
    int classes = 0;
    for (std::uint8_t l : test.labels) classes = std::max(classes, int(l) + 1);
    series.resize(static_cast<std::size_t>(classes));
    for (int k = 0; k < classes; ++k)
      series[static_cast<std::size_t>(k)].name =
          k < std::ssize(test.classes) ? test.classes[static_cast<std::size_t>(k)] : "label " + std::to_string(k);
    for (std::int64_t i = 0; i < test.count; ++i) {
      Series& s = series[test.labels[static_cast<std::size_t>(i)]];
      s.x.push_back(p.x[static_cast<std::size_t>(i)]), s.y.push_back(p.y[static_cast<std::size_t>(i)]);
    }
  }
  write_scatter_chart(opt.out, series, title, xl, yl);
  return test.count;
}

}  // namespace cuvae
