// The training program behind `cuvae train|eval|sample`: data on the device, the training
// loop, evaluation, images, metrics and checkpoints. Backend-agnostic.
#pragma once
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "host/device.hpp"
#include "models/checkpoint.hpp"

namespace cuvae {

struct RunOptions {               // shared by train, eval and sample
  std::string device = "auto";
  int threads = 0;                // 0: all hardware threads
  CudaRunOptions cuda;            // --precision, --gemm, --no-graph
};

struct TrainOptions {
  RunOptions run;
  std::filesystem::path data_dir;  // empty: default_data_dir()
  std::filesystem::path out_dir;   // empty: runs/<timestamp>, or the resumed checkpoint's folder
  std::filesystem::path resume;    // checkpoint to continue from
  int epochs = 10;
  std::int64_t batch_size = 128;
  VaeConfig model;                 // ignored on resume (the checkpoint's config is used)
  bool model_given = false;        // --latent/--hidden/--beta given: must agree with a resumed checkpoint
  AdamConfig adam;
  std::uint64_t seed = 1;
  std::int64_t train_limit = 0;    // 0: whole split
  std::int64_t test_limit = 0;
  std::int64_t max_steps = 0;      // stop (with a checkpoint) after this many optimizer steps in total
  std::int64_t log_every = 0;      // also log step losses to metrics.jsonl every N steps
  bool progress = true;            // progress bar when stdout is a terminal
};

struct EvalResult {
  double recon = 0, kl = 0;        // per image, nats
  std::int64_t images = 0;
  double elbo() const { return recon + kl; }  // test -ELBO per image
};

struct TrainSummary {
  std::filesystem::path out_dir, checkpoint, metrics;
  std::vector<EvalResult> epochs;  // test figures of each epoch finished in this run
  std::int64_t steps = 0;          // total optimizer steps so far
  double last_train_loss = 0;      // per image, last finished epoch
};

TrainSummary train(const TrainOptions& opt, std::ostream& out);

// One training step at the backend's device-side position, as train() runs it inside
// Backend::run_step (the unit the CUDA backend captures once per batch size): the batch gathered
// through the epoch's order into xb, forward and backward, Adam, the loss terms recorded in
// history, the position advanced.
void training_step(Backend& backend, MlpVae& model, ParamStore& params, const Tensor& images, std::int64_t batch_size,
                   const Tensor& xb, RngKey step_key, const AdamConfig& adam, const Tensor& history);

// Test -ELBO of a checkpoint (one z sample per image, Philox stream `eval`, counter 0).
EvalResult evaluate_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& data_dir,
                               std::int64_t test_limit, std::uint64_t seed, const RunOptions& run, std::ostream& out);

// Decodes `count` z ~ N(0, I) and writes them as a PNG grid (8 per row).
void sample_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& png, int count,
                       std::uint64_t seed, const RunOptions& run, std::ostream& out);

}  // namespace cuvae
