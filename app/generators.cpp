// `cuvae compare generators` (see generators.hpp): up to three runs through train(), two through
// score_checkpoint(), then the two decoders on the same z and the codes' coverage of N(0, I).
#include "app/generators.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/pictures.hpp"
#include "app/score.hpp"
#include "app/session.hpp"
#include "datasets/idx.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"

namespace cuvae {
namespace {

constexpr std::int64_t kBatch = 1000;  // rows per encode/decode call
constexpr int kPictureRows = 8;        // samples.png: 8 x 8 of each model

// Nearest-neighbour distances by d^2 = |q|^2 + |x|^2 - 2 q.x in float64 (codes of norm ~10 a
// distance ~1 apart lose 2-3 of its 16 digits to the cancellation). Both sets are stored in blocks
// of 4 rows ([block][l][4], padded with zero rows), and every distance is computed by the same
// instructions whichever thread takes it, so the result does not depend on the thread count.
constexpr int kB = 4;                  // rows per block, of queries and of codes
constexpr std::int64_t kChunk = 512;   // code blocks per pass over a thread's queries: 2048 x 20 doubles, in L2
using Pair = double __attribute__((vector_size(2 * sizeof(double))));  // one SSE2 register

struct Blocked {
  std::int64_t n = 0, blocks = 0;
  std::vector<double> v, norm;  // v[(block * L + l) * kB + r]; norm [blocks * kB], `pad_norm` for padding
};

Blocked blocked(const std::vector<double>& x, std::int64_t n, int L, double pad_norm) {
  Blocked b;
  b.n = n, b.blocks = (n + kB - 1) / kB;
  b.v.assign(static_cast<std::size_t>(b.blocks * L * kB), 0.0);
  b.norm.assign(static_cast<std::size_t>(b.blocks * kB), pad_norm);
  for (std::int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int l = 0; l < L; ++l) {
      const double v = x[static_cast<std::size_t>(i * L + l)];
      b.v[static_cast<std::size_t>(((i / kB) * L + l) * kB + i % kB)] = v;
      norm += v * v;
    }
    b.norm[static_cast<std::size_t>(i)] = norm;
  }
  return b;
}

// low[a * kB + b]: the running minimum of d^2 between query a of the block whose values `qd`
// holds ([l][a], each broadcast to a pair) and code b of the blocks [c0, c1), over those blocks.
// An outer-product register block: per dimension, 4 codes (two pairs) times 4 queries, 8
// accumulators. Codes of norm +inf (padding) are never the nearest; with `self`, the query block
// is code block `qblk` and its diagonal (each code against itself) is left out.
void update(const Pair* qd, const double* qn, std::int64_t qblk, const Blocked& x, std::int64_t c0, std::int64_t c1,
            int L, bool self, double* low) {
  static_assert(kB == 4);
  for (std::int64_t jb = c0; jb < c1; ++jb) {
    Pair s00{}, s01{}, s10{}, s11{}, s20{}, s21{}, s30{}, s31{};
    const double* col = x.v.data() + jb * L * kB;
    const Pair* q = qd;
    for (int l = 0; l < L; ++l, col += kB, q += kB) {
      Pair a, b;
      std::memcpy(&a, col, sizeof a);
      std::memcpy(&b, col + 2, sizeof b);
      s00 += q[0] * a, s01 += q[0] * b, s10 += q[1] * a, s11 += q[1] * b;
      s20 += q[2] * a, s21 += q[2] * b, s30 += q[3] * a, s31 += q[3] * b;
    }
    const Pair dots[kB][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31}};
    const double* xn = x.norm.data() + jb * kB;
    for (int a = 0; a < kB; ++a)
      for (int b = 0; b < kB; ++b)
        if (!(self && jb == qblk && a == b))
          low[a * kB + b] = std::min(low[a * kB + b], qn[a] + xn[b] - 2 * dots[a][b / 2][b % 2]);
  }
}

// out[i] = the distance from query i to its nearest code (another code when `self`: q is x). The
// query blocks are split into `threads` contiguous ranges; each thread passes over its queries
// once per chunk of codes, so the chunk stays in cache.
std::vector<double> nearest_all(const Blocked& q, const Blocked& x, int L, bool self, int threads) {
  std::vector<Pair> qdup(static_cast<std::size_t>(q.blocks * L * kB));
  for (std::size_t i = 0; i < qdup.size(); ++i) qdup[i] = Pair{q.v[i], q.v[i]};
  std::vector<double> out(static_cast<std::size_t>(q.blocks * kB));
  const auto work = [&](std::int64_t lo, std::int64_t hi) {
    std::vector<double> low(static_cast<std::size_t>((hi - lo) * kB * kB), std::numeric_limits<double>::infinity());
    for (std::int64_t c0 = 0; c0 < x.blocks; c0 += kChunk)
      for (std::int64_t qb = lo; qb < hi; ++qb)
        update(qdup.data() + qb * L * kB, q.norm.data() + qb * kB, qb, x, c0, std::min(x.blocks, c0 + kChunk), L, self,
               low.data() + (qb - lo) * kB * kB);
    for (std::int64_t qb = lo; qb < hi; ++qb)
      for (int a = 0; a < kB; ++a) {
        const double* l = low.data() + ((qb - lo) * kB + a) * kB;
        out[static_cast<std::size_t>(qb * kB + a)] = std::sqrt(std::max(*std::min_element(l, l + kB), 0.0));
      }
  };
  const int T = static_cast<int>(std::clamp<std::int64_t>(threads, 1, std::max<std::int64_t>(q.blocks, 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < T; ++t) pool.emplace_back(work, q.blocks * t / T, q.blocks * (t + 1) / T);
  work(0, q.blocks / T);
  for (std::thread& th : pool) th.join();
  out.resize(static_cast<std::size_t>(q.n));
  return out;
}

std::vector<double> widened(std::span<const float> v, const char* what) {
  std::vector<double> d(v.begin(), v.end());
  for (std::size_t i = 0; i < d.size(); ++i)
    if (!std::isfinite(d[i]))
      throw Error(std::string("code coverage: the ") + what + " have a non-finite value (element " + std::to_string(i) + ")");
  return d;
}

// The codes the decoder was trained on, one per training image: encode_sample of every row of
// `images` (host, [count, D]), batch c keyed Philox (seed, eval, c).
std::vector<float> training_codes(Backend& backend, Model& model, const std::vector<float>& images, std::int64_t count,
                                  std::uint64_t seed) {
  const int D = model.input_dim();
  std::vector<float> codes(static_cast<std::size_t>(count) * static_cast<std::size_t>(model.latent()));
  Buffer x(backend, Shape{std::min(kBatch, std::max<std::int64_t>(count, 1)), D});
  for (std::int64_t at = 0; at < count; at += kBatch) {
    const std::int64_t b = std::min(kBatch, count - at);
    const Tensor xb = x.tensor().rows_view(0, b);
    backend.to_device(xb, images.data() + at * D);
    const RngKey key = rng_key(seed, RngPurpose::eval, static_cast<std::uint64_t>(at / kBatch));
    backend.to_host(codes.data() + at * model.latent(), model.encode_sample(backend, xb, key));
  }
  return codes;
}

std::string shape_of(const ModelConfig& c) {
  std::string s = std::to_string(c.input_dim);
  for (const int size : c.hidden) s.append("-").append(std::to_string(size));
  return s.append("-").append(std::to_string(c.latent));
}

std::string a_or_an(const std::string& word) {
  return (word.empty() || std::string("aeiou").find(word[0]) == std::string::npos ? "a " : "an ") + word;
}

// Given checkpoints: an ae (or dae) and a vae with the same layers, so the comparison is of the
// training objective alone.
void check_pair(const GeneratorsOptions& opt) {
  const ModelConfig a = read_checkpoint_header(opt.ae).config, v = read_checkpoint_header(opt.vae).config;
  if (a.model != "ae" && a.model != "dae")
    throw UsageError("--ae " + opt.ae.string() + ": holds " + a_or_an(a.model) + ", not an ae (train one with --model ae)");
  if (v.model != "vae")
    throw UsageError("--vae " + opt.vae.string() + ": holds " + a_or_an(v.model) + ", not a vae (train one with --model vae)");
  if (a.input_dim != v.input_dim || a.hidden != v.hidden || a.latent != v.latent || a.activation != v.activation)
    throw UsageError("--ae " + opt.ae.string() + " (" + shape_of(a) + ") and --vae " + opt.vae.string() + " (" +
                     shape_of(v) + ") differ: compare generators wants the same layers and latent size");
}

nlohmann::json to_json(const GeneratorReport& r) {
  const CodeCoverage& c = r.coverage;
  return {{"model", r.model}, {"checkpoint", r.checkpoint.string()}, {"frechet", r.frechet},
          {"train_codes", c.codes}, {"prior_draws", c.draws}, {"code_mean", c.mean}, {"code_variance", c.variance},
          {"nn_radius_99", c.radius}, {"prior_draws_outside", c.outside}};
}

}  // namespace

CodeCoverage code_coverage(std::span<const float> codes, std::int64_t n, int L, std::span<const float> draws,
                           std::int64_t m, int threads) {
  if (L < 1 || n < 2 || m < 1)
    throw Error("code coverage: want at least 2 codes, 1 draw and 1 dimension, not " + std::to_string(n) + ", " +
                std::to_string(m) + " and " + std::to_string(L));
  if (n > kCoverageMaxValues / L || m > kCoverageMaxValues / L)
    throw Error("code coverage: " + std::to_string(std::max(n, m)) + " rows of " + std::to_string(L) + " dimensions are more than the " +
                std::to_string(kCoverageMaxValues) + " values it takes per set (use --train-limit or --count)");
  if (codes.size() != static_cast<std::size_t>(n * L) || draws.size() != static_cast<std::size_t>(m * L))
    throw Error("code coverage: " + std::to_string(codes.size()) + " code and " + std::to_string(draws.size()) +
                " draw values for " + std::to_string(n) + " and " + std::to_string(m) + " rows of " + std::to_string(L));
  const std::vector<double> x = widened(codes, "codes"), q = widened(draws, "prior draws");
  CodeCoverage c;
  c.codes = n, c.draws = m;
  c.mean.assign(static_cast<std::size_t>(L), 0.0);
  c.variance.assign(static_cast<std::size_t>(L), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (int l = 0; l < L; ++l) c.mean[static_cast<std::size_t>(l)] += x[static_cast<std::size_t>(i * L + l)];
  for (double& v : c.mean) v /= static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (int l = 0; l < L; ++l)
      c.variance[static_cast<std::size_t>(l)] += std::pow(x[static_cast<std::size_t>(i * L + l)] - c.mean[static_cast<std::size_t>(l)], 2);
  for (double& v : c.variance) v /= static_cast<double>(n);

  const Blocked codes_b = blocked(x, n, L, std::numeric_limits<double>::infinity());
  std::vector<double> own = nearest_all(codes_b, codes_b, L, true, threads);
  const std::vector<double> far = nearest_all(blocked(q, m, L, 0.0), codes_b, L, false, threads);
  const std::int64_t k = (99 * n + 99) / 100 - 1;  // ceil(0.99 n) - 1: at least 99% are within own[k]
  std::nth_element(own.begin(), own.begin() + k, own.end());
  c.radius = own[static_cast<std::size_t>(k)];
  c.outside = static_cast<double>(std::count_if(far.begin(), far.end(), [&](double d) { return d > c.radius; })) /
              static_cast<double>(m);
  return c;
}

GeneratorsResult compare_generators(const GeneratorsOptions& opt, std::ostream& out) {
  if (opt.ae.empty() != opt.vae.empty())
    throw UsageError("--ae and --vae go together: give both checkpoints, or neither to train both here");
  if (opt.count < 2 || opt.count > kScoreMaxCount)
    throw UsageError("--count " + std::to_string(opt.count) + ": want an integer in 2.." + std::to_string(kScoreMaxCount));
  if (opt.steps < 2) throw UsageError("--steps " + std::to_string(opt.steps) + ": want at least 2");
  if (opt.from == opt.to) throw UsageError("--from and --to are both " + std::to_string(opt.from) + ": want two images");
  const std::filesystem::path dir = opt.out_dir.empty() ? default_out_dir("generators-") : opt.out_dir;
  const std::filesystem::path data = data_path(opt.data);
  if (!opt.ae.empty()) check_pair(opt);
  if (!opt.classifier.empty() && read_checkpoint_header(opt.classifier).config.model != "classifier")
    throw UsageError("--classifier " + opt.classifier.string() + ": not a classifier checkpoint (train one with --model classifier)");

  const Dataset train_set = load_data(opt.data, Split::train, opt.train_limit, out);
  const Dataset test = load_data(opt.data, Split::test, opt.test_limit, out);
  for (const std::int64_t i : {opt.from, opt.to})
    if (i < 0 || i >= test.count)
      throw UsageError("--from/--to " + std::to_string(i) + ": want a test image in 0.." + std::to_string(test.count - 1));
  const int latent = opt.ae.empty() ? opt.latent : read_checkpoint_header(opt.ae).config.latent;
  if (std::max<std::int64_t>(train_set.count, opt.count) > kCoverageMaxValues / std::max(latent, 1))
    throw UsageError("--latent " + std::to_string(latent) + ": codes of " + std::to_string(std::max<std::int64_t>(train_set.count, opt.count)) +
                     " images are more than the " + std::to_string(kCoverageMaxValues) +
                     " values the coverage takes per set (use --train-limit or --count)");

  TrainOptions base;
  base.run = opt.run, base.data = opt.data, base.seed = opt.seed, base.epochs = opt.epochs;
  base.train_limit = opt.train_limit, base.test_limit = opt.test_limit, base.progress = opt.progress;
  const auto trained = [&](const char* model) {
    TrainOptions t = base;
    t.model = default_config(model);
    if (std::string(model) != "classifier") t.model.hidden = opt.hidden, t.model.latent = opt.latent;
    t.out_dir = dir / model;
    return train(t, out).checkpoint;
  };
  GeneratorsResult r;
  r.ae.model = "ae", r.vae.model = "vae";
  r.ae.checkpoint = opt.ae.empty() ? trained("ae") : opt.ae;
  r.vae.checkpoint = opt.vae.empty() ? trained("vae") : opt.vae;
  r.classifier = opt.classifier.empty() ? trained("classifier") : opt.classifier;

  // The samples' scores: the classifier's features, as `cuvae score`.
  for (GeneratorReport* g : {&r.ae, &r.vae}) {
    ScoreOptions s;
    s.checkpoint = g->checkpoint, s.classifier = r.classifier, s.data = opt.data;
    s.test_limit = opt.test_limit, s.count = opt.count, s.seed = opt.seed, s.run = opt.run;
    const ScoreResult sr = score_checkpoint(s, out);
    g->frechet = sr.frechet;
    r.classifier_accuracy = sr.test_accuracy;
  }

  LoadedModel ae = load_model(r.ae.checkpoint, opt.run, kBatch, out), vae = load_model(r.vae.checkpoint, opt.run, kBatch, out);
  const int D = ae.model->input_dim(), L = ae.model->latent();
  if (train_set.dim() != D || test.dim() != D)
    throw Error(data.string() + ": images of " + std::to_string(train_set.dim()) + " pixels, the models take " + std::to_string(D));

  // The prior draws: the same z for both decoders and for both coverages.
  std::vector<float> z(static_cast<std::size_t>(opt.count) * static_cast<std::size_t>(L));
  {
    Buffer zb(*ae.backend, Shape{opt.count, L});
    ae.model->sample_prior(*ae.backend, rng_key(opt.seed, RngPurpose::sample, 0), zb);
    ae.backend->to_host(z.data(), zb);
  }
  const int threads = opt.run.threads > 0 ? opt.run.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const ImageShape shape = input_image(ae.ck.config);
  const int per = kPictureRows * kPictureRows, shown = std::min(per, opt.count);
  std::vector<std::vector<float>> pictures, strips;
  for (auto [g, m] : {std::pair{&r.ae, &ae}, std::pair{&r.vae, &vae}}) {
    const std::vector<float> codes = training_codes(*m->backend, *m->model, train_set.images, train_set.count, opt.seed);
    g->coverage = code_coverage(codes, train_set.count, L, z, opt.count, threads);
    pictures.push_back(decode_codes(*m->backend, *m->model, z, shown));
    strips.push_back(interpolation_strip(*m->backend, *m->model, test, opt.from, opt.to, opt.steps, false));
  }

  std::filesystem::create_directories(dir);
  // samples.png: the ae's 8 x 8 grid, a grey column, the vae's grid on the same z.
  const int cols = 2 * kPictureRows + 1, rows = (shown + kPictureRows - 1) / kPictureRows;
  std::vector<float> grid(static_cast<std::size_t>(rows * cols) * static_cast<std::size_t>(D), 0.5f);
  for (int s = 0; s < shown; ++s)
    for (int side = 0; side < 2; ++side) {
      const int cell = (s / kPictureRows) * cols + side * (kPictureRows + 1) + s % kPictureRows;
      std::copy_n(pictures[static_cast<std::size_t>(side)].begin() + s * D, D, grid.begin() + cell * D);
    }
  r.samples_png = dir / "samples.png";
  write_png_grid(r.samples_png, grid.data(), rows * cols, shape, cols);
  std::vector<float> both = strips[0];
  both.insert(both.end(), strips[1].begin(), strips[1].end());
  r.interpolation_png = dir / "interpolation.png";
  write_png_grid(r.interpolation_png, both.data(), 2 * (opt.steps + 2), shape, opt.steps + 2);

  r.json = dir / "generators.json";
  const nlohmann::json j{{"ae", to_json(r.ae)}, {"vae", to_json(r.vae)}, {"classifier", r.classifier.string()},
                         {"classifier_test_accuracy", r.classifier_accuracy}, {"samples", opt.count},
                         {"seed", std::to_string(opt.seed)}, {"interpolation", {opt.from, opt.to}}};
  write_file_atomic(r.json, j.dump(2) + "\n");

  char line[200];
  out << "\nWhy not use an autoencoder's decoder as a generator? ae and vae " << shape_of(ae.model->config())
      << ", the same " << opt.count << " draws z ~ N(0, I)\n";
  std::snprintf(line, sizeof line, "  Frechet distance of the samples (classifier features; its test accuracy %.4f): ae %.3f, vae %.3f\n",
                r.classifier_accuracy, r.ae.frechet, r.vae.frechet);
  out << line;
  std::snprintf(line, sizeof line,
                "  prior draws farther from every training code than 99%% of codes are from their nearest: ae %.1f%%, vae %.1f%%\n",
                100 * r.ae.coverage.outside, 100 * r.vae.coverage.outside);
  out << line << "  the codes each decoder was trained on (ae: its codes; vae: z ~ q(z|x)), per dimension; N(0, I) has mean 0, variance 1:\n"
      << "     i   ae mean  ae variance   vae mean  vae variance\n";
  for (int l = 0; l < L; ++l) {
    const auto at = static_cast<std::size_t>(l);
    std::snprintf(line, sizeof line, "  %4d  %8.3f  %11.3f  %9.3f  %12.3f\n", l, r.ae.coverage.mean[at],
                  r.ae.coverage.variance[at], r.vae.coverage.mean[at], r.vae.coverage.variance[at]);
    out << line;
  }
  out << "wrote " << r.samples_png.string() << " (ae left, vae right), " << r.interpolation_png.string()
      << " (test images " << opt.from << " to " << opt.to << ": ae above, vae below) and " << r.json.string() << "\n";
  return r;
}

}  // namespace cuvae
