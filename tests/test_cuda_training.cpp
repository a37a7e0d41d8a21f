// A whole training run on the CUDA backend (the SIMT device, or the GPU when present) against the
// CPU backend: the same weights, data, order and eps, 20 steps of a small MLP VAE (64-32-8, batch
// 16, with a partial last batch and an epoch boundary), driven the way app/train.cpp drives a
// backend (shuffle, set_position, run_step around the trainer's own training_step, the loss
// history read once per epoch).
// Checks: per-step losses within 1e-4 (relative) of the CPU's in fp32; two runs bitwise equal;
// graphs and no graphs bitwise equal. On the GPU also cuBLAS fp32 and TF32.
// Run: ctest --test-dir build/<dir> -R CudaTraining --output-on-failure
#include <cmath>

#include "datasets/batches.hpp"
#include "device_backend.hpp"
#include "app/train.hpp"
#include "models/model.hpp"

namespace cuvae {
namespace {

constexpr std::int64_t kRows = 300, kDim = 64, kBatch = 16;  // 19 batches, the last of 12
constexpr int kSteps = 20;
constexpr std::uint64_t kSeed = 5;

test::HostTensor synthetic_images(std::int64_t dim) {
  test::HostTensor x = test::random_tensor({kRows, dim}, 21, 0.f, 1.f);
  for (std::size_t i = 0; i < x.v.size(); i += 3) x[i] = 0.f;  // images have exact zeros
  return x;
}

// Labels for the synthetic images (a classifier's; 5 classes, not all one).
Buffer synthetic_labels(Backend& backend) {
  std::vector<std::int32_t> y(static_cast<std::size_t>(kRows));
  for (std::int64_t i = 0; i < kRows; ++i) y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 3) % 5);
  Buffer b(backend, Shape{kRows, 1}, DType::i32);
  backend.to_device(b, reinterpret_cast<const float*>(y.data()));
  return b;
}

struct RunResult {
  std::vector<float> terms;   // (recon, kl) of each step
  std::vector<float> params;  // after the last step
  std::vector<float> buffers; // BatchNorm's running statistics after the last step (conv64)
};

ModelConfig small_config(const std::string& model = "vae") {
  ModelConfig c = default_config(model);
  c.input_dim = static_cast<int>(kDim), c.hidden = {32}, c.latent = 8;
  return c;
}

// A schedule that crosses the KL warm-up (7 steps) and two learning-rate decays (epochs of 19 steps).
Schedule warmup_and_decay() {
  Schedule s;
  s.beta = 1.0, s.kl_warmup = 7, s.lr_decay = 0.5;
  return s;
}

RunResult train(Backend& backend, int steps, const ModelConfig& config = small_config(),
                const Schedule& schedule = Schedule{}) {
  std::unique_ptr<Model> model = make_model(config);
  model->allocate(backend, kBatch);
  model->params().init_uniform(backend, kSeed);
  Schedule sched = schedule;
  sched.noise = config.noise.level;
  backend.set_schedule(sched);
  const test::HostTensor data = synthetic_images(config.input_dim);
  Buffer images = test::upload(backend, data);
  Buffer x(backend, Shape{kBatch, config.input_dim});
  Buffer labels = synthetic_labels(backend), y(backend, Shape{kBatch, 1}, DType::i32);
  const bool with_labels = model->needs_labels();
  const std::int64_t nb = batch_count(kRows, kBatch);
  const std::int64_t T = static_cast<std::int64_t>(model->term_names().size());
  Buffer history(backend, Shape{nb, T});
  RunResult r;
  std::int64_t step = 0;
  for (std::int64_t epoch = 1; step < steps; ++epoch) {
    backend.shuffle(kRows, shuffle_key(kSeed, epoch));
    backend.set_position(step + 1, 0, epoch);
    std::int64_t bi = 0;
    for (; bi < nb && step < steps; ++bi, ++step) {
      const std::int64_t b = std::min(kBatch, kRows - bi * kBatch);
      const Tensor xb = x.tensor().rows_view(0, b), yb = with_labels ? y.tensor().rows_view(0, b) : Tensor{};
      backend.run_step(static_cast<std::uint64_t>(b), [&] {
        training_step(backend, *model, Batch{images, with_labels ? labels.tensor() : Tensor{}}, kBatch, Batch{xb, yb},
                      kSeed, history);
      });
    }
    const std::vector<float> h = test::download(backend, history.tensor().rows_view(0, bi));
    for (std::int64_t k = 0; k < bi; ++k) {  // (recon, kl) per step; kl 0 for an autoencoder; a classifier's (xent, correct)
      r.terms.push_back(h[static_cast<std::size_t>(k * T)]);
      r.terms.push_back(T > 1 ? h[static_cast<std::size_t>(k * T + 1)] : 0.f);
    }
  }
  r.params = test::download(backend, model->params().values());
  if (model->params().buffer_total()) r.buffers = test::download(backend, model->params().buffers());
  return r;
}

// Per-step losses (recon + kl) within rtol of the reference, each step on its own.
::testing::AssertionResult losses_close(const RunResult& got, const RunResult& ref, double rtol) {
  if (got.terms.size() != ref.terms.size()) return ::testing::AssertionFailure() << "step counts differ";
  for (std::size_t s = 0; s < ref.terms.size() / 2; ++s) {
    const double a = double(got.terms[2 * s]) + got.terms[2 * s + 1];
    const double b = double(ref.terms[2 * s]) + ref.terms[2 * s + 1];
    if (!(std::fabs(a - b) <= rtol * std::fabs(b)))
      return ::testing::AssertionFailure() << "step " << s + 1 << ": loss " << a << " vs CPU " << b << " (relative error "
                                           << std::fabs(a - b) / std::fabs(b) << " > " << rtol << ")";
  }
  return ::testing::AssertionSuccess();
}

RunResult cpu_reference(const ModelConfig& config = small_config(), const Schedule& schedule = Schedule{}) {
  auto cpu = make_cpu_backend(1);
  return train(*cpu, kSteps, config, schedule);
}

TEST(CUVAE_DEVICE_SUITE(CudaTraining), MatchesCpuForTwentySteps) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const RunResult ref = cpu_reference();
  const RunResult got = train(*dev, kSteps);
  ASSERT_EQ(got.terms.size(), 2u * kSteps);
  EXPECT_TRUE(losses_close(got, ref, 1e-4));
  EXPECT_TRUE(test::all_close(got.params, ref.params, 1e-4, "parameters after 20 steps"));
  // The loss went down (the run trains at all).
  EXPECT_LT(got.terms[2 * (kSteps - 2)] + got.terms[2 * (kSteps - 2) + 1], got.terms[0] + got.terms[1]);
}

TEST(CUVAE_DEVICE_SUITE(CudaTraining), TwoRunsAreBitwiseIdentical) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const RunResult a = train(*dev, kSteps);
  auto dev2 = test::device_backend();
  const RunResult b = train(*dev2, kSteps);
  EXPECT_TRUE(test::bitwise_equal(a.terms, b.terms)) << "losses differ between two runs";
  EXPECT_TRUE(test::bitwise_equal(a.params, b.params)) << "parameters differ between two runs";
  // The same backend again: its graphs were dropped with the first run's buffers.
  const RunResult c = train(*dev, kSteps);
  EXPECT_TRUE(test::bitwise_equal(a.terms, c.terms)) << "a second run on the same backend differs";
}

TEST(CUVAE_DEVICE_SUITE(CudaTraining), GraphsAndNoGraphsAreBitwiseIdentical) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  CudaOptions plain;
  plain.graphs = false;
  auto no_graphs = test::device_backend(plain);
  for (const char* m : {"vae", "classifier", "cvae"}) {  // each step captured as one graph; labels gathered in it
    SCOPED_TRACE(m);
    ModelConfig c = small_config(m);
    if (has_classes(c)) c.classes = 5;
    const RunResult a = train(*dev, kSteps, c), b = train(*no_graphs, kSteps, c);
    EXPECT_TRUE(test::bitwise_equal(a.terms, b.terms)) << "graph replay changed the losses";
    EXPECT_TRUE(test::bitwise_equal(a.params, b.params)) << "graph replay changed the parameters";
  }
}

TEST(CUVAE_DEVICE_SUITE(CudaTraining), EveryModelMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  for (const char* m : {"ae", "dae", "linear-ae", "classifier", "cvae"}) {  // cvae
    SCOPED_TRACE(m);
    ModelConfig c = small_config(m);
    if (std::string(m) == "linear-ae") c.hidden = {};
    if (has_classes(c)) c.classes = 5;  // cvae: has_classes
    const RunResult got = train(*dev, kSteps, c), ref = cpu_reference(c);
    EXPECT_TRUE(losses_close(got, ref, 1e-4));
    EXPECT_TRUE(test::all_close(got.params, ref.params, 1e-4, "parameters after 20 steps"));
    if (std::string(m) == "classifier") {  // the correct counts (every second term), exactly
      for (std::size_t s = 1; s < ref.terms.size(); s += 2) EXPECT_EQ(got.terms[s], ref.terms[s]) << "step " << s / 2 + 1;
    }
  }
}

// conv64 (BatchNorm2d in training mode, LeakyReLU, ConvTranspose2d with output_padding) against
// the CPU: the losses of 3 steps, and the running statistics the first step leaves. Not the
// parameters after Adam: many of conv64's gradients are zero but for rounding (a convolution's
// bias before a BatchNorm2d exactly so), and Adam's first steps move each such parameter by lr in
// the rounding's direction, in PyTorch as here, so backends differ there by 2 lr. With and without
// graph capture (the running statistics updated inside the captured step): bitwise.
TEST(CUVAE_DEVICE_SUITE(CudaTraining), Conv64MatchesCpuWithAndWithoutGraphs) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  // A minute a run under ASan, over ten under TSan, on 2 cores: the conv and BatchNorm kernels it
  // launches run under both sanitizers in test_conv_kernels and test_batchnorm_kernels.
  GTEST_SKIP() << "too slow under the sanitizers; its kernels are covered there by the op tests";
#endif
  auto dev = CUVAE_DEVICE_OR_SKIP();
  ModelConfig c = default_config("vae");
  c.arch = "conv64", c.hidden.clear(), c.latent = 6, c.image = {1, 32, 32}, c.input_dim = 1024;
  auto cpu = make_cpu_backend(1);
  const RunResult first = train(*dev, 1, c), first_ref = train(*cpu, 1, c);
  ASSERT_FALSE(first_ref.buffers.empty());
  EXPECT_TRUE(test::all_close(first.buffers, first_ref.buffers, 1e-5, "running statistics after one step"));
  const int steps = 3;
  const RunResult got = train(*dev, steps, c), ref = train(*cpu, steps, c);
  EXPECT_TRUE(losses_close(got, ref, 1e-4));
  CudaOptions plain;
  plain.graphs = false;
  auto no_graphs = test::device_backend(plain);
  const RunResult eager = train(*no_graphs, steps, c);
  EXPECT_TRUE(test::bitwise_equal(got.terms, eager.terms)) << "graph replay changed the losses";
  EXPECT_TRUE(test::bitwise_equal(got.params, eager.params)) << "graph replay changed the parameters";
  EXPECT_TRUE(test::bitwise_equal(got.buffers, eager.buffers)) << "graph replay changed the running statistics";
}

// The KL weight and the learning rate change from step to step (warm-up, decay per epoch): graph
// replay must give each step its own values, bit for bit what launching op by op gives, and what
// the CPU computes.
TEST(CUVAE_DEVICE_SUITE(CudaTraining), SchedulesUnderGraphCaptureMatchEagerBitwise) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  CudaOptions plain;
  plain.graphs = false;
  auto eager = test::device_backend(plain);
  const int steps = 45;  // 3 epochs: two decays; the warm-up ends at step 8
  const RunResult a = train(*dev, steps, small_config(), warmup_and_decay());
  const RunResult b = train(*eager, steps, small_config(), warmup_and_decay());
  EXPECT_TRUE(test::bitwise_equal(a.terms, b.terms)) << "graph replay changed the losses";
  EXPECT_TRUE(test::bitwise_equal(a.params, b.params)) << "graph replay changed the parameters";
  auto cpu = make_cpu_backend(1);
  const RunResult ref = train(*cpu, steps, small_config(), warmup_and_decay());
  EXPECT_TRUE(test::all_close(a.params, ref.params, 1e-3, "parameters vs CPU"));
  // And the schedule did act: without it the run ends elsewhere.
  const RunResult flat = train(*dev, steps);
  EXPECT_FALSE(test::bitwise_equal(a.params, flat.params));
}

// What the programs do with a model besides training (eval, encode, decode, reconstruct, sample,
// and PCA's fit), on the device against the CPU backend: the same weights, the same numbers.
struct ModelOutputs {
  std::vector<float> terms, noisy_terms, codes, pixels, recon, samples;
};

ModelOutputs model_outputs(Backend& backend, const ModelConfig& config) {
  std::unique_ptr<Model> model = make_model(config);
  model->allocate(backend, kBatch);
  const test::HostTensor data = synthetic_images(kDim);
  Buffer images = test::upload(backend, data);
  if (model->trained_by_gradient())
    model->params().init_uniform(backend, kSeed);
  else
    model->fit(backend, images);
  ModelOutputs o;
  const Tensor x = images.tensor().rows_view(0, kBatch);
  Buffer labels = synthetic_labels(backend);  // cvae: what a conditional model encodes and decodes given
  const Tensor y = labels.tensor().rows_view(0, kBatch);
  const RngKey key = rng_key(kSeed, RngPurpose::eval, 3);
  model->eval_batch(backend, Batch{x, y}, key, false);
  o.terms = test::download(backend, model->terms());
  if (model->has_noise()) {
    model->eval_batch(backend, Batch{x, {}}, key, true);
    o.noisy_terms = test::download(backend, model->terms());
  }
  const Tensor z = model->encode_given(backend, x, y);  // cvae: *_given (the others ignore y)
  EXPECT_TRUE(z.dense()) << "codes " << z.str();
  o.codes = test::download(backend, z);
  o.pixels = test::download(backend, model->decode_given(backend, z, y));
  o.recon = test::download(backend, model->reconstruct_given(backend, x, y));
  Buffer prior(backend, Shape{kBatch, config.latent});
  model->sample_prior(backend, rng_key(kSeed, RngPurpose::sample, 1), prior);
  o.samples = test::download(backend, model->decode_given(backend, prior, y));
  return o;
}

TEST(CUVAE_DEVICE_SUITE(CudaTraining), EveryModelEvaluatesEncodesDecodesAndSamplesLikeCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  for (const char* m : {"pca", "ae", "linear-ae", "dae", "vae", "cvae"}) {  // cvae
    SCOPED_TRACE(m);
    ModelConfig c = small_config(m);
    if (std::string(m) == "linear-ae") c.hidden = {};
    if (has_classes(c)) c.classes = 5;  // cvae
    const ModelOutputs got = model_outputs(*dev, c), ref = model_outputs(*cpu, c);
    EXPECT_TRUE(test::all_close(got.terms, ref.terms, 1e-5, "eval terms"));
    EXPECT_TRUE(test::all_close(got.noisy_terms, ref.noisy_terms, 1e-5, "eval terms, corrupted inputs"));
    EXPECT_TRUE(test::all_close(got.codes, ref.codes, 1e-4, "encode"));
    EXPECT_TRUE(test::all_close(got.pixels, ref.pixels, 1e-4, "decode"));
    EXPECT_TRUE(test::all_close(got.recon, ref.recon, 1e-4, "reconstruct"));
    EXPECT_TRUE(test::all_close(got.samples, ref.samples, 1e-4, "samples"));
    EXPECT_EQ(got.codes.size(), static_cast<std::size_t>(kBatch * c.latent));
  }
}

// The classifier (no decoder): its eval terms and features on the device as on the CPU, and
// decode and sampling refused with one line.
TEST(CUVAE_DEVICE_SUITE(CudaTraining), ClassifierEvaluatesAndEncodesLikeCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  ModelConfig c = small_config("classifier");
  c.hidden = {32, 24}, c.classes = 5;
  std::vector<std::vector<float>> terms, codes;
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    std::unique_ptr<Model> model = make_model(c);
    model->allocate(*be, kBatch);
    model->params().init_uniform(*be, kSeed);
    EXPECT_TRUE(model->needs_labels());
    EXPECT_FALSE(model->generates());
    Buffer images = test::upload(*be, synthetic_images(kDim)), labels = synthetic_labels(*be);
    const Tensor x = images.tensor().rows_view(0, kBatch);
    model->eval_batch(*be, Batch{x, labels.tensor().rows_view(0, kBatch)}, rng_key(kSeed, RngPurpose::eval, 3), false);
    terms.push_back(test::download(*be, model->terms()));
    const Tensor z = model->encode(*be, x);
    EXPECT_EQ(z.shape, (Shape{kBatch, 24}));
    codes.push_back(test::download(*be, z));
    EXPECT_EQ(test::error_of([&] { model->decode(*be, z); }), "a classifier has no decoder");
    Buffer prior(*be, Shape{kBatch, c.latent});
    EXPECT_EQ(test::error_of([&] { model->sample_prior(*be, rng_key(kSeed, RngPurpose::sample, 1), prior); }),
              "a classifier has no decoder");
  }
  EXPECT_TRUE(test::all_close(std::vector<float>{terms[1][0]}, std::vector<float>{terms[0][0]}, 1e-5, "xent"));
  EXPECT_EQ(terms[1][1], terms[0][1]) << "correct count";
  EXPECT_TRUE(test::all_close(codes[1], codes[0], 1e-5, "features"));
}

#if !defined(CUVAE_SIMT)
TEST(CudaTrainingGpu, CublasFp32MatchesCpu) {
  CudaOptions o;
  o.gemm = cuda::GemmImpl::cublas;
  auto dev = CUVAE_DEVICE_OR_SKIP(o);
  EXPECT_TRUE(losses_close(train(*dev, kSteps), cpu_reference(), 1e-4));
}

TEST(CudaTrainingGpu, Tf32AndBf16StayClose) {
  for (auto p : {cuda::Precision::tf32, cuda::Precision::bf16}) {
    CudaOptions o;
    o.precision = p;
    auto dev = CUVAE_DEVICE_OR_SKIP(o);
    EXPECT_TRUE(losses_close(train(*dev, kSteps), cpu_reference(), 2e-2)) << (p == cuda::Precision::tf32 ? "tf32" : "bf16");
  }
}
#endif

}  // namespace
}  // namespace cuvae
