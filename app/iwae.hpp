// The importance-weighted bound on log p(x) of a VAE (Burda et al. 2015; `cuvae eval CKPT --iwae K`)
// and its active latent units: the library behind the command, with per-image values for tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app/train.hpp"
#include "models/model.hpp"

namespace cuvae {

constexpr int kIwaeMaxSamples = 5000;
constexpr std::int64_t kIwaeChunkRows = 8192;  // decoder rows per batch: images per chunk x K
// The Philox counter of the bound's samples (purpose eval): far above the ELBO pass's per-batch streams.
constexpr std::uint64_t kIwaeStream = std::uint64_t(1) << 40;

// Images per chunk, max(1, kIwaeChunkRows / K); the rows a model must be allocated for to bound n
// images with K samples: min(n, that) * K.
std::int64_t iwae_chunk_images(int K);
std::int64_t iwae_rows(int K, std::int64_t n);

// Per image: the K-sample bound log 1/K sum_k w_k and the ELBO estimated from the same samples,
// 1/K sum_k log w_k (nats; the float32 values of the device, widened).
struct IwaeImages {
  std::vector<double> bound, elbo;
};
// data.x [n, input_dim] (with data.labels [n, 1] for a cvae) on the model's backend; chunk c of
// iwae_chunk_images(K) images draws its samples from `key` with key.stream + c, so the bits depend
// on the key and K only. `model` must have a posterior (a vae or a cvae; else a UsageError naming
// the model) and be allocated for iwae_rows(K, n) rows.
IwaeImages importance_weighted(Backend& backend, Model& model, const Batch& data, int K, RngKey key);

// Active units (Burda et al.): unit l is active when the variance over the images of E_q[z_l] =
// mu_l (the model's codes, encode) exceeds `threshold`; variances in float64 (population, 1/n).
struct ActiveUnits {
  int active = 0, latent = 0;
  std::vector<double> variance;
};
ActiveUnits active_units(Backend& backend, Model& model, const Batch& data, double threshold = 0.01);

struct IwaeResult {
  int K = 0;
  std::int64_t images = 0;
  double iwae = 0, elbo = 0;  // means over the images, nats
  ActiveUnits units;
};
// A vae's (a cvae's: log p(x | y), with the test labels) bound over the test split (seed: Philox key (seed, eval, kIwaeStream)).
IwaeResult iwae_checkpoint(const std::filesystem::path& checkpoint, const DataOptions& data,
                           std::int64_t test_limit, std::uint64_t seed, int K, const RunOptions& run, std::ostream& out);
// "test log p(x) >= -237.12 (IWAE, K=5000), -243.50 (ELBO, K=1) nats per image over 10000 images; active units 15 of 20"
std::string describe(const IwaeResult& r);

}  // namespace cuvae
