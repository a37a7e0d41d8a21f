// `cuvae compare generators`: the lecture's question "why not use an autoencoder's decoder as a
// generator?" answered by a command. An ae and a vae of the same architecture and latent size
// (trained here, or given) decode the same z ~ N(0, I); the two sample grids go side by side,
// with an interpolation strip between two test images for each; each model's samples are scored
// (the Frechet distance of `cuvae score`), and the codes each decoder was trained on (the ae's
// codes; for the vae, z ~ q(z|x)) are measured against the prior both are sampled from:
// per-dimension mean and variance over the training images, and how many prior draws land where
// no training code is.
#pragma once
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "app/train.hpp"

namespace cuvae {

// How well a model's training codes [n, L] cover its prior, measured with draws [m, L] from it:
// the codes' per-dimension mean and variance (float64, population), every training code's
// distance to its nearest other training code, the 99th percentile r of those distances (the
// smallest distance that at least 99% of the codes are within), and the share of prior draws
// farther than r from every training code: ~1% when the codes fill the prior's mass as densely
// as they fill their own, near 100% when the draws fall where no code is. Distances in float64;
// the result does not depend on `threads` (each distance is computed the same way by any thread).
constexpr std::int64_t kCoverageMaxValues = std::int64_t(1) << 27;  // rows x L per set (float64 copies: ~3 GB)
struct CodeCoverage {
  std::int64_t codes = 0, draws = 0;
  std::vector<double> mean, variance;
  double radius = 0;   // the 99th percentile of the codes' nearest-neighbour distances
  double outside = 0;  // share of draws farther than `radius` from every code
};
CodeCoverage code_coverage(std::span<const float> codes, std::int64_t n, int L, std::span<const float> draws,
                           std::int64_t m, int threads = 1);

struct GeneratorsOptions {
  RunOptions run;
  // Both or neither: an ae (or dae) and a vae checkpoint of the same architecture. Neither: both
  // trained here for `epochs` with `hidden` and `latent`, in out_dir/ae and out_dir/vae.
  std::filesystem::path ae, vae;
  std::filesystem::path classifier;  // empty: one is trained here (out_dir/classifier), `epochs` too
  DataOptions data;
  std::filesystem::path out_dir;  // out: runs/generators-<date-time> when empty
  int epochs = 10;
  std::vector<int> hidden{400};
  int latent = 20;
  int count = 10000;           // samples scored, and prior draws for the coverage
  std::int64_t from = 0, to = 1;  // the test images the interpolation strips join
  int steps = 10;              // decoded points on each strip, ends included
  std::uint64_t seed = 1;
  std::int64_t train_limit = 0, test_limit = 0;
  bool progress = true;
};

struct GeneratorReport {
  std::string model;  // "ae", "vae"
  std::filesystem::path checkpoint;
  double frechet = 0;
  CodeCoverage coverage;
};

struct GeneratorsResult {
  GeneratorReport ae, vae;
  std::filesystem::path classifier;
  double classifier_accuracy = 0;
  std::filesystem::path samples_png, interpolation_png, json;
};

GeneratorsResult compare_generators(const GeneratorsOptions& opt, std::ostream& out);

}  // namespace cuvae
