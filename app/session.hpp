// What every program (train, eval, sample, encode/decode, IWAE, score) shares: the backend a run
// asks for, a data split on the device, the test pass, sample grids, and a model loaded from a
// checkpoint. Internal to app/.
#pragma once
#include <filesystem>
#include <memory>
#include <ostream>
#include <utility>
#include <vector>

#include "app/train.hpp"
#include "datasets/idx.hpp"

namespace cuvae {

constexpr int kGrid = 8;  // images per row in PNG grids, as pytorch/examples

// A data split resident on the device: images as [count, dim] floats in [0, 1], labels [count, 1] int32.
struct DeviceSplit {
  Dataset host;
  Buffer images, labels;
  Batch all() const { return {images.tensor(), labels.tensor()}; }
  Batch rows(std::int64_t first, std::int64_t count) const { return all().rows(first, count); }
};

// The split `split` ("train", "t10k") of the IDX folder, first `limit` images (0: all), on the device.
DeviceSplit load_split(Backend& backend, const DataOptions& data, Split split, std::int64_t limit, std::ostream& log);
// The data options with a checkpoint's input shape as the image folder's default size and channels.
DataOptions for_model(DataOptions data, const ModelConfig& config);

// "<data>: test images have 100 pixels, <checkpoint> expects 784" unless the sizes agree.
void check_test_images(const std::filesystem::path& data, const Dataset& test, const std::filesystem::path& checkpoint,
                       int input_dim);

// Test pass (a VAE: one z sample per image, like pytorch/examples' test()): the per-image term
// means, clean and (a dae) with corrupted inputs. Optionally keeps the first `keep`
// reconstructions (pixel means) for the comparison picture.
EvalResult evaluate(Backend& backend, Model& model, const DeviceSplit& test, std::int64_t batch, RngKey base,
                    int keep, std::vector<float>* kept);

// A classifier's (cvae: a cvae's) labels must be classes of the model (the ops would give NaN rows for others).
// "<data>: the test images have no labels ..." for a model with classes and data without labels.
void require_labels(const Dataset& d, const ModelConfig& c, const std::filesystem::path& data, const char* split);
void check_labels(const DeviceSplit& s, const ModelConfig& c, const std::filesystem::path& data, const char* split);

// The model's parameters and workspace; a failure names the model and the batch it was sized for.
void allocate_model(Backend& backend, Model& model, std::int64_t rows);

// `count` samples from the model's prior, decoded: a PNG grid of rows x cols images, or float32
// [count, D] when the file ends in .npy.
void write_samples(Backend& backend, Model& model, const std::filesystem::path& file, int count, RngKey key,
                   ImageShape image);

// --device auto|cpu|cuda (host/device.hpp), or simt: the CUDA backend on the SIMT runtime.
std::unique_ptr<Backend> make_run_backend(const RunOptions& run, std::ostream& out);

// A checkpoint's model on the backend the run asks for, allocated for batches of `batch` rows
// (after every check of the file) and loaded.
struct LoadedModel {
  std::unique_ptr<Backend> backend;
  Checkpoint ck;
  std::unique_ptr<Model> model;
};
LoadedModel load_model(const std::filesystem::path& checkpoint, const RunOptions& run, std::int64_t batch,
                       std::ostream& out);

}  // namespace cuvae
