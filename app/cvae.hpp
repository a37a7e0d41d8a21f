// The app's side of a conditional model (the cvae): which labels a command samples, encodes or
// decodes with, checked against the model's classes before anything runs on the device, and
// decoding z from the prior given labels into a PNG grid or .npy. Used by app/train.cpp.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/train.hpp"

namespace cuvae {

// The grid of a conditional model: `per_class` samples of class 0, then of class 1, ... (one grid
// row per class with 8 per row).
std::vector<std::int32_t> class_grid_labels(int classes, int per_class);

// `cuvae sample --label`: "" (none), a class number, or "all". Empty for a model without labels
// and no --label; UsageErrors for --label on a model without labels, a class out of range, or a
// conditional model without --label. `what` names the checkpoint in messages, `command` the
// command that asks.
std::vector<std::int32_t> sample_labels(const ModelConfig& c, const std::string& what, const std::string& label,
                                        int count, const char* command = "sample");

// encode / decode / reconstruct: a conditional model's labels, one per row (--labels Y.npy, or
// the data's labels with --data); empty for another model (which refuses --labels).
// data_labels: the split's labels when the rows came from --data.
std::vector<std::int32_t> transform_labels(const TransformOptions& opt, const ModelConfig& c, std::int64_t n,
                                           const std::vector<std::int32_t>& data_labels);

// Every label a class of the model: an Error "<what>: label 12 (row 3) is outside the cvae's 10
// classes (0..9)" otherwise.
void check_classes(const std::vector<std::int32_t>& labels, const ModelConfig& c, const std::string& what);

// z ~ the prior (Philox key) for each label, decoded given it (in chunks of the model's batch),
// written as a PNG grid (8 per row; images rows x cols) or float32 [n, D] .npy.
void write_conditional_samples(Backend& backend, Model& model, const std::filesystem::path& file,
                               const std::vector<std::int32_t>& labels, RngKey key, ImageShape image);

}  // namespace cuvae
