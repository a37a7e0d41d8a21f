// Model checkpoints: parameters under their PyTorch names, Adam moments and the training
// position, in one safetensors file with the model config (JSON) in its metadata. Files of the
// first format (cuvae.mlp_vae.v1: pytorch/examples' names fc1, fc21, ...) still load.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "host/safetensors.hpp"
#include "models/model.hpp"

namespace cuvae {

// Limits of a training run (the command line's and a checkpoint's): steps stay exact in a double.
inline constexpr std::int64_t kMaxSteps = std::int64_t(1) << 53;
inline constexpr std::int64_t kMaxEpochs = 100000;
inline constexpr std::int64_t kMaxBatch = std::int64_t(1) << 20;

// Where training stands; with the seed this fixes every random number still to come.
struct TrainState {
  std::uint64_t seed = 0;
  std::int64_t step = 0;            // optimizer steps taken
  std::int64_t epoch = 1;           // epoch in progress (1-based)
  std::int64_t batch_in_epoch = 0;  // batches of that epoch already done
  std::int64_t batch_size = 128;
  double epoch_loss_sum = 0;        // sum of batch losses so far in this epoch
  AdamConfig adam;
  double lr_decay = 1.0;            // per epoch (ExponentialLR gamma)
  std::int64_t kl_warmup = 0;       // steps over which beta rises from 0
  std::string shuffle;              // the shuffle scheme of the run (datasets/batches.hpp)
};

// The run's schedule for the backend: the state's Adam, decay and warm-up, the model's beta and noise.
Schedule schedule_of(const TrainState& state, const ModelConfig& config);

struct Checkpoint {
  ModelConfig config;
  std::optional<TrainState> train;  // absent in a weights-only file
  bool legacy = false;              // the first format's names
};

// Writes the model's parameters (and, with `train`, the Adam moments and state) atomically.
// Refuses (an Error naming the tensor, nothing written) when any value is NaN or Inf, so the
// last good checkpoint is never replaced by a diverged one.
void save_checkpoint(const std::filesystem::path& file, Backend& backend, const Model& model, const TrainState* train);

// Reads the config and state (to build the model before loading weights), after checking the
// whole file strictly: every metadata field typed and in range, every tensor of the model present
// with its shape, no other tensor, every value finite. One-line errors name the file and field.
Checkpoint read_checkpoint_header(const std::filesystem::path& file);
// The file read once and checked as by read_checkpoint_header, kept to load from: a program builds
// and allocates the model from `header`, then loads `tensors` without reading the file again.
struct CheckpointFile {
  SafetensorsFile tensors;
  Checkpoint header;
};
CheckpointFile read_checkpoint(const std::filesystem::path& file);
// Loads a file already read by read_checkpoint (`file` names it in errors).
Checkpoint load_checkpoint(const std::filesystem::path& file, const CheckpointFile& checked, Backend& backend,
                           Model& model);

// The same checks on a safetensors file already read (`file` names it in errors; the fuzzer's entry).
Checkpoint check_checkpoint(const std::filesystem::path& file, const SafetensorsFile& f);

// Loads values (and moments if present) into the model, which must have the file's config, and
// calls model.loaded(). Every tensor is checked by name and shape; errors name the file.
Checkpoint load_checkpoint(const std::filesystem::path& file, Backend& backend, Model& model);

}  // namespace cuvae
