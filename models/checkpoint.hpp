// Model checkpoints: parameters under their PyTorch names, Adam moments and the training
// position, in one safetensors file with the model config in its metadata.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "models/mlp_vae.hpp"

namespace cuvae {

// Where training stands; with the seed this fixes every random number still to come.
struct TrainState {
  std::uint64_t seed = 0;
  std::int64_t step = 0;            // optimizer steps taken
  std::int64_t epoch = 1;           // epoch in progress (1-based)
  std::int64_t batch_in_epoch = 0;  // batches of that epoch already done
  std::int64_t batch_size = 128;
  double epoch_loss_sum = 0;        // sum of batch losses so far in this epoch
  AdamConfig adam;
  std::string shuffle;              // the shuffle scheme of the run (datasets/batches.hpp)
};

struct Checkpoint {
  VaeConfig config;
  std::optional<TrainState> train;  // absent in a weights-only file
};

// Writes params (and, with `train`, the Adam moments and state) to `file` atomically.
void save_checkpoint(const std::filesystem::path& file, Backend& backend, const VaeConfig& config,
                     const ParamStore& params, const TrainState* train);

// Reads the config and state only (to build the model before loading weights).
Checkpoint read_checkpoint_header(const std::filesystem::path& file);

// Loads values (and moments if present) into `params`, which must have the layout of the
// file's config. Every tensor is checked by name and shape; errors name the file.
Checkpoint load_checkpoint(const std::filesystem::path& file, Backend& backend, const ParamStore& params);

}  // namespace cuvae
