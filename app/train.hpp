// The programs behind `cuvae train|eval|sample|encode|decode|reconstruct`: data on the device,
// the training loop, evaluation, images, metrics and checkpoints. Model-agnostic: every model is
// driven through models/model.hpp.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "datasets/source.hpp"
#include "host/device.hpp"
#include "models/checkpoint.hpp"

namespace cuvae {

// A bad option or combination of options (the command line's exit code 2), as opposed to bad
// files or a failed run.
struct UsageError : Error {
  using Error::Error;
};

struct RunOptions {               // shared by every program
  std::string device = "auto";
  int threads = 0;                // 0: all hardware threads
  CudaRunOptions cuda;            // --precision, --gemm, --no-graph
};

struct TrainOptions {
  RunOptions run;
  DataOptions data;
  std::filesystem::path out_dir;   // empty: runs/<timestamp>, or the resumed checkpoint's folder
  std::filesystem::path resume;    // checkpoint to continue from
  int epochs = 10;
  std::int64_t batch_size = 128;
  ModelConfig model;               // ignored on resume (the checkpoint's config is used)
  // The config fields (to_json keys) that flags set: on resume each must equal the checkpoint's.
  std::vector<std::string> model_fields_given;
  AdamConfig adam;
  double lr_decay = 1.0;           // --lr-decay: ExponentialLR gamma per epoch
  std::int64_t kl_warmup = 0;      // --kl-warmup: steps over which beta rises from 0
  std::uint64_t seed = 1;
  std::int64_t train_limit = 0;    // 0: whole split
  std::int64_t test_limit = 0;
  std::int64_t max_steps = 0;      // stop (with a checkpoint) after this many optimizer steps in total
  std::int64_t log_every = 0;      // also log step losses to metrics.jsonl every N steps
  bool progress = true;            // progress bar when stdout is a terminal
  // Set (to the signal's number) by a SIGINT or SIGTERM handler: the step under way finishes, a
  // checkpoint is written and train() returns with TrainSummary::interrupted set.
  const std::atomic<int>* stop = nullptr;
};

// Test figures of a model (Model::metrics: per image), over `images` test images.
struct EvalResult {
  Metrics metrics;
  std::int64_t images = 0;
  double at(const std::string& name) const;  // an Error if the model has no such figure
};

struct TrainSummary {
  std::filesystem::path out_dir, checkpoint, metrics;
  std::vector<EvalResult> epochs;  // test figures of each epoch finished in this run
  std::int64_t steps = 0;          // total optimizer steps so far
  double last_train_loss = 0;      // per image, last finished epoch
  int interrupted = 0;             // the signal that stopped the run (opt.stop), else 0
};

TrainSummary train(const TrainOptions& opt, std::ostream& out);

// runs/<prefix><date-time>: where a program writes when no --out is given.
std::filesystem::path default_out_dir(const std::string& prefix = "");
// The progress bar's line (on a terminal, ten times a second): "epoch 3/10 [=====    ] 120/469 loss
// 245.12 | 11234 images/s | 0:31 left", the rate and the time left in the epoch from its batches so far.
std::string progress_line(std::int64_t epoch, std::int64_t epochs, std::int64_t done, std::int64_t total, double loss,
                          double images_per_s, double seconds_left);

// One training step at the backend's device-side position, as train() runs it inside
// Backend::run_step (the unit the CUDA backend captures once per batch size): the step's scalars,
// the batch gathered through the epoch's order from `data` (the split on the device: images and,
// for a model that needs_labels(), labels) into `batch`, forward and backward, Adam, the loss
// terms recorded in history, the position advanced.
void training_step(Backend& backend, Model& model, const Batch& data, std::int64_t batch_size, const Batch& batch,
                   std::uint64_t seed, const Tensor& history);

// The test figures of a checkpoint (a VAE: one z sample per image, Philox stream `eval`).
EvalResult evaluate_checkpoint(const std::filesystem::path& checkpoint, const DataOptions& data,
                               std::int64_t test_limit, std::uint64_t seed, const RunOptions& run, std::ostream& out);
// One line for the console: "test -ELBO 100.1 (recon 90.0, KL 10.1)" or "test recon 50.2, ...".
std::string describe(const EvalResult& r);

// Decodes `count` z from the model's prior; a PNG grid (8 per row), or float32 [count, D] when
// `file` ends in .npy. cvae: `label` ("" none, a class, or "all": 8 of each class, one grid row
// per class) is what a conditional model decodes given (app/cvae.hpp). Returns the samples written.
int sample_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& file, int count,
                      std::uint64_t seed, const RunOptions& run, std::ostream& out, const std::string& label = "");

// encode / decode / reconstruct: rows of a .npy file (or, for encode, a data split) through the
// model, written as float32 [N, cols] .npy (or a PNG grid for images when `out` ends in .png).
enum class Transform { encode, decode, reconstruct };
struct TransformOptions {
  Transform what = Transform::encode;
  std::filesystem::path checkpoint, input, out;
  DataOptions data;  // encode --data
  std::string split = "test";  // --data: train or test
  RunOptions run;
  std::filesystem::path labels;  // cvae: --labels Y.npy, one class per row of --input
};
std::int64_t transform_checkpoint(const TransformOptions& opt, std::ostream& out);  // rows written

}  // namespace cuvae
