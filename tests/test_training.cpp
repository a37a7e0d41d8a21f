// The MLP VAE and its trainer on the CPU backend: PyTorch parity of loss and gradients,
// training progress on a Fashion-MNIST subset, checkpoint round trip, exact resume, and
// refusal of damaged checkpoints.
#include <gmock/gmock.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "datasets/batches.hpp"
#include "datasets/idx.hpp"
#include "host/fileio.hpp"
#include "host/metrics.hpp"
#include "host/safetensors.hpp"
#include "app/train.hpp"
#include "host/cpu/ops.hpp"
#include "models/vae.hpp"
#include "models/cvae.hpp"  // cvae
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using ::testing::HasSubstr;


bool have_fashion_mnist() { return fs::exists(default_data_dir() / "train-images-idx3-ubyte.gz"); }

std::vector<float> host_copy(Backend& backend, const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  backend.to_host(v.data(), t);
  return v;
}

// Writes one training step's forward and backward of the model on the CPU backend in the dump
// format tests/python/model_parity.py reads (parameters, gradients, inputs, loss terms, the config),
// runs it, and returns its exit status and output.
int run_parity(const ModelConfig& config, int batch, std::string& output) {
  auto backend = make_cpu_backend(1);
  std::unique_ptr<Model> model = make_model(config);
  model->allocate(*backend, batch);
  model->params().init_uniform(*backend, 11);
  Schedule sched;
  sched.beta = config.beta, sched.noise = config.noise.level;
  backend->set_schedule(sched);
  backend->set_position(1, 0, 1);
  backend->update_step_scalars();
  test::HostTensor x = test::random_tensor({batch, config.input_dim}, 12, 0.f, 1.f);
  for (std::size_t i = 0; i < x.v.size(); i += 5) x[i] = 0.f;  // images have exact zeros
  Buffer xd(*backend, Shape{batch, config.input_dim});
  backend->to_device(xd, x.v.data());
  const std::uint64_t seed = 3;
  // A classifier's labels (not all one class), int32 for the step and as floats in the dump.
  std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
  std::vector<float> label_values;
  for (int i = 0; i < batch; ++i) labels[static_cast<std::size_t>(i)] = (7 * i + 3) % std::max(config.classes, 1);
  Buffer yd(*backend, Shape{batch, 1}, DType::i32);
  backend->to_device(yd, reinterpret_cast<const float*>(labels.data()));
  // cvae: the images where the trainer gathers them (the model's own input view: no copy in the step)
  const Tensor x_in = model->batch_input(xd);
  if (x_in.data != xd.tensor().data) backend->copy(xd, x_in);
  const ParamStore& params = model->params();
  // BatchNorm's running statistics: as the step found them (the module's), and as it left them.
  std::vector<float> buffers_before(static_cast<std::size_t>(params.buffer_total())), buffers_after;
  if (!buffers_before.empty()) backend->to_host(buffers_before.data(), params.buffers());
  model->train_step(*backend, Batch{x_in, model->needs_labels() ? yd.tensor() : Tensor{}}, seed);
  std::vector<float> values = host_copy(*backend, params.values()), grads = host_copy(*backend, params.grads());
  if (!buffers_before.empty()) buffers_after = host_copy(*backend, params.buffers());
  const std::vector<float> terms = host_copy(*backend, model->terms());
  const float loss = static_cast<float>(model->loss(terms, step_scalars(sched, 1, 1)));
  std::vector<TensorView> views;
  for (const ParamInfo& p : params.infos()) {
    std::vector<std::int64_t> shape(p.shape.dims.begin(), p.shape.dims.begin() + p.shape.rank);
    views.push_back({p.name, shape, values.data() + p.offset});
    views.push_back({"grad." + p.name, shape, grads.data() + p.offset});
  }
  for (const ParamInfo& p : params.buffer_infos()) {
    std::vector<std::int64_t> shape(p.shape.dims.begin(), p.shape.dims.begin() + p.shape.rank);
    views.push_back({p.name, shape, buffers_before.data() + p.offset});
    views.push_back({"buffer." + p.name, shape, buffers_after.data() + p.offset});
  }
  const std::vector<std::int64_t> xs = {batch, config.input_dim};
  test::HostTensor noisy({batch, config.input_dim});
  if (model->has_noise()) {  // the input the step corrupted: the same Philox draws at step 1
    RngKey key = rng_key(seed, RngPurpose::noise, 0);
    key.stream += 1;
    cpu::corrupt(config.noise.kind, static_cast<float>(config.noise.level), x.t(), key, noisy.t());
    views.push_back({"input.x", xs, noisy.v.data()});
    views.push_back({"input.target", xs, x.v.data()});
  } else {
    views.push_back({"input.x", xs, x.v.data()});
  }
  if (model->needs_labels()) {
    label_values.assign(labels.begin(), labels.end());
    views.push_back({"input.labels", {batch, 1}, label_values.data()});
  }
  std::vector<float> eps, pred;
  if (auto* vae = dynamic_cast<Vae*>(model.get())) {
    eps = host_copy(*backend, vae->eps(batch));
    views.push_back({"input.eps", {batch, config.latent}, eps.data()});
  }
  if (auto* cvae = dynamic_cast<Cvae*>(model.get())) {  // cvae: its eps and decoder output too
    eps = host_copy(*backend, cvae->eps(batch));
    views.push_back({"input.eps", {batch, config.latent}, eps.data()});
    pred = host_copy(*backend, cvae->pred(batch));
    views.push_back({"output.pred", xs, pred.data()});
  }
  const std::vector<std::string> names = model->term_names();
  for (std::size_t t = 0; t < names.size(); ++t) views.push_back({"output." + names[t], {1}, &terms[t]});
  views.push_back({"output.loss", {1}, &loss});
  const fs::path file = fresh_dir("parity-" + config.model + "-" + hidden_to_string(config.hidden)) / "dump.safetensors";
  write_safetensors(file, views, {{"format", "cuvae.model.v2"}, {"config", to_json(config).dump()}});
  const char* pydeps = std::getenv("CUVAE_PYDEPS");
  std::string cmd = std::string(pydeps ? "CUVAE_PYDEPS=" + std::string(pydeps) + " " : "") + test::python() + " " +
                    CUVAE_SOURCE_DIR + "/tests/python/model_parity.py " + file.string() + " 2>&1";
  return test::run_command(cmd, output);
}

struct ParityCase {
  const char* name;
  const char* model;
  int input_dim;
  std::vector<int> hidden;
  int latent;
  const char* likelihood;
  double beta;
  const char* noise;
  int batch;
  const char* arch = "mlp";
  ImageShape image{0, 0, 0};  // the conv arch's input shape
};
void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.name; }  // ctest names: no bytes
class Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Parity, LossAndEveryGradientMatchPyTorch) {
  if (!test::python_has("torch")) GTEST_SKIP() << test::python_path() << " with torch not found (python3-torch)";
  const ParityCase& c = GetParam();
  ModelConfig config = default_config(c.model);
  config.input_dim = c.input_dim, config.hidden = c.hidden, config.latent = c.latent, config.beta = c.beta;
  config.likelihood = parse_likelihood(c.likelihood);
  if (std::string(c.noise) != "none") config.noise = parse_noise(c.noise);
  if (has_classes(config)) config.classes = 10;
  config.arch = c.arch, config.image = c.image;
  std::string out;
  EXPECT_EQ(run_parity(config, c.batch, out), 0) << out;
  EXPECT_THAT(out, HasSubstr("ok grad.")) << out;
}

INSTANTIATE_TEST_SUITE_P(
    Models, Parity,
    ::testing::Values(ParityCase{"VaeDefault", "vae", 784, {400}, 20, "bernoulli", 1.0, "none", 32},
                      ParityCase{"VaeDeepBetaGaussian", "vae", 61, {45, 23}, 7, "gaussian", 0.5, "none", 9},
                      ParityCase{"AeDeep", "ae", 784, {512, 256}, 32, "bernoulli", 1.0, "none", 16},
                      ParityCase{"LinearAe", "linear-ae", 50, {}, 6, "gaussian", 1.0, "none", 11},
                      ParityCase{"DaeMask", "dae", 64, {40}, 8, "bernoulli", 1.0, "mask:0.25", 13},
                      ParityCase{"DaeGaussian", "dae", 30, {20}, 4, "gaussian", 1.0, "gaussian:0.3", 5},
                      ParityCase{"DaeSaltPepper", "dae", 30, {20}, 4, "bernoulli", 1.0, "saltpepper:0.2", 5},
                      ParityCase{"Classifier", "classifier", 784, {400}, 20, "bernoulli", 1.0, "none", 32},
                      ParityCase{"ClassifierDeep", "classifier", 61, {45, 23}, 7, "bernoulli", 1.0, "none", 9},
                      // cvae: [x | onehot(y)] into the encoder, [z | onehot(y)] into the decoder
                      ParityCase{"CvaeDefault", "cvae", 784, {400}, 20, "bernoulli", 1.0, "none", 32},
                      ParityCase{"CvaeDeepBetaGaussian", "cvae", 61, {45, 23}, 7, "gaussian", 0.5, "none", 9},
                      ParityCase{"CvaeNoHidden", "cvae", 30, {}, 5, "bernoulli", 1.0, "none", 7},
                      // --arch conv (models/arch.hpp): 28x28 grey, and 3 channels of 8x12
                      ParityCase{"ConvVae", "vae", 784, {}, 20, "bernoulli", 1.0, "none", 6, "conv", {1, 28, 28}},
                      ParityCase{"ConvVaeRgbGaussian", "vae", 288, {}, 5, "gaussian", 0.5, "none", 3, "conv", {3, 8, 12}},
                      ParityCase{"ConvAe", "ae", 784, {}, 8, "bernoulli", 1.0, "none", 4, "conv", {1, 28, 28}},
                      ParityCase{"ConvDae", "dae", 256, {}, 6, "bernoulli", 1.0, "mask:0.25", 3, "conv", {1, 16, 16}},
                      ParityCase{"ConvClassifier", "classifier", 784, {}, 20, "bernoulli", 1.0, "none", 5, "conv", {1, 28, 28}},
                      ParityCase{"ConvCvae", "cvae", 784, {}, 6, "bernoulli", 1.0, "none", 5, "conv", {1, 28, 28}},
                      ParityCase{"ConvCvaeRgbGaussian", "cvae", 192, {}, 3, "gaussian", 0.5, "none", 3, "conv", {3, 8, 8}},
                      // --arch conv64 (BatchNorm2d + LeakyReLU blocks): 64x64 RGB, and the smallest sides
                      ParityCase{"Conv64Vae", "vae", 3 * 64 * 64, {}, 16, "bernoulli", 1.0, "none", 3, "conv64", {3, 64, 64}},
                      ParityCase{"Conv64VaeGreyGaussian", "vae", 32 * 64, {}, 5, "gaussian", 0.5, "none", 4, "conv64", {1, 32, 64}},
                      // (batch 6 here puts a BatchNorm2d output at 2.6e-7, within float32's rounding of
                      // LeakyReLU's kink: its derivative flips between 1 and 0.01, and every gradient
                      // before it moves by 1e-3; a property of the data, not of the kernels)
                      ParityCase{"Conv64Ae", "ae", 32 * 32, {}, 6, "bernoulli", 1.0, "none", 4, "conv64", {1, 32, 32}},
                      ParityCase{"Conv64Classifier", "classifier", 3 * 32 * 32, {}, 4, "bernoulli", 1.0, "none", 5, "conv64", {3, 32, 32}},
                      ParityCase{"Conv64Cvae", "cvae", 32 * 32, {}, 4, "bernoulli", 1.0, "none", 3, "conv64", {1, 32, 32}}),
    [](const auto& tp) { return std::string(tp.param.name); });

TrainOptions small_run(const fs::path& out, int epochs) {
  TrainOptions o;
  o.run.device = "cpu", o.run.threads = 2;
  o.out_dir = out, o.epochs = epochs, o.train_limit = 2000, o.test_limit = 500, o.seed = 5, o.progress = false;
  return o;
}

// The progress bar's line: the bar, the batch, the loss, the rate and the time left as m:ss.
TEST(Training, ProgressLineShowsRateAndTimeLeft) {
  EXPECT_EQ(progress_line(3, 10, 117, 469, 245.123, 11234.4, 31.4),
            "epoch 3/10 [=======                       ] 117/469 loss 245.12 | 11234 images/s | 0:31 left");
  EXPECT_EQ(progress_line(1, 1, 469, 469, 0.5, 99.6, 0.0),
            "epoch 1/1 [==============================] 469/469 loss 0.50 | 100 images/s | 0:00 left");
  EXPECT_EQ(progress_line(2, 5, 1, 1000, 1.0, 10.0, 3725.0),
            "epoch 2/5 [                              ] 1/1000 loss 1.00 | 10 images/s | 62:05 left");
}

TEST(Training, TwoEpochsOnASubsetLowerTheLossByTheStatedMargin) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  std::ostringstream log;
  TrainSummary s = train(small_run(fresh_dir("train-2ep"), 2), log);
  ASSERT_EQ(s.epochs.size(), 2u);
  // At initialisation the test -ELBO is ~544 nats (logits near 0: 784 * log 2 = 543.4).
  // Measured (seed 5, 2 threads): 384.1 after epoch 1, 336.4 after epoch 2.
  EXPECT_LT(s.epochs[1].at("elbo"), 345.0) << log.str();
  EXPECT_GT(s.epochs[0].at("elbo") - s.epochs[1].at("elbo"), 30.0) << log.str();
  EXPECT_GT(s.epochs[1].at("kl"), 5.0) << "the latent code is used";
  EXPECT_EQ(s.steps, 2 * 16);  // ceil(2000 / 128) = 16 batches per epoch, last one partial
  auto records = read_jsonl(s.metrics);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_DOUBLE_EQ(records[1]["test_elbo"].get<double>(), s.epochs[1].at("elbo"));
  EXPECT_TRUE(fs::exists(s.out_dir / "reconstruction_2.png"));
  EXPECT_TRUE(fs::exists(s.out_dir / "sample_2.png"));
}

std::vector<nlohmann::json> step_records(const fs::path& metrics) {
  std::vector<nlohmann::json> steps;
  for (auto& r : read_jsonl(metrics))
    if (r.contains("loss")) steps.push_back(r);
  return steps;
}

TEST(Training, ResumeGivesBitwiseTheSameLossesAsAnUninterruptedRun) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  std::ostringstream log;
  TrainOptions a = small_run(fresh_dir("resume-a"), 2);
  a.train_limit = 600, a.test_limit = 200, a.log_every = 1;  // 5 batches per epoch
  TrainSummary full = train(a, log);

  TrainOptions b = a;
  b.out_dir = fresh_dir("resume-b");
  b.max_steps = 7;  // stops inside epoch 2
  TrainSummary part = train(b, log);
  EXPECT_EQ(part.steps, 7);
  TrainOptions c = b;
  c.max_steps = 0, c.resume = part.checkpoint;
  TrainSummary rest = train(c, log);
  EXPECT_EQ(rest.steps, 10);

  auto want = step_records(full.metrics), got = step_records(rest.metrics);
  ASSERT_EQ(want.size(), 10u);
  ASSERT_EQ(got.size(), 10u);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i]["step"], want[i]["step"]);
    EXPECT_EQ(got[i]["loss"].get<double>(), want[i]["loss"].get<double>()) << "step " << i + 1;  // bitwise
  }
  SafetensorsFile x = read_safetensors(full.checkpoint), y = read_safetensors(rest.checkpoint);
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (const TensorRecord& t : x.tensors) EXPECT_EQ(t.data, y.at(t.name).data) << t.name;
  EXPECT_EQ(x.metadata, y.metadata);
}

// A checkpoint from before the shuffle scheme was recorded (host Fisher-Yates): its training
// metadata without the "shuffle" field.
void strip_shuffle_scheme(const fs::path& file) {
  SafetensorsFile f = read_safetensors(file);
  std::vector<TensorView> views;
  for (const TensorRecord& t : f.tensors) views.push_back({t.name, t.shape, t.data.data()});
  nlohmann::json train = nlohmann::json::parse(f.metadata.at("train"));
  ASSERT_EQ(train.at("shuffle"), kShuffleScheme);
  train.erase("shuffle");
  f.metadata["train"] = train.dump();
  write_safetensors(file, views, f.metadata);
}

TEST(Training, ResumeInsideAnEpochRefusesAnotherShuffleScheme) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  std::ostringstream log;
  TrainOptions a = small_run(fresh_dir("shuffle-scheme"), 2);
  a.train_limit = 600, a.test_limit = 200;  // 5 batches per epoch
  a.max_steps = 7;                          // stops inside epoch 2
  const TrainSummary part = train(a, log);
  strip_shuffle_scheme(part.checkpoint);
  TrainOptions b = a;
  b.max_steps = 0, b.resume = part.checkpoint;
  EXPECT_EQ(test::error_of([&] { train(b, log); }),
            part.checkpoint.string() + ": stopped inside epoch 2 (after 2 batches) with the 'host-fisher-yates' shuffle; "
            "this build shuffles with 'philox-feistel8', so resuming would repeat and skip rows of that epoch; resume "
            "from a checkpoint written at the end of an epoch");

  // At an epoch's end the old scheme does not matter: the run goes on and records the new one.
  TrainOptions c = a;
  c.out_dir = fresh_dir("shuffle-scheme-end"), c.max_steps = 5;
  const TrainSummary end = train(c, log);
  strip_shuffle_scheme(end.checkpoint);
  TrainOptions d = c;
  d.max_steps = 0, d.resume = end.checkpoint;
  EXPECT_EQ(train(d, log).steps, 10);
  EXPECT_EQ(nlohmann::json::parse(read_safetensors(end.checkpoint).metadata.at("train")).at("shuffle"), kShuffleScheme);
}

std::unique_ptr<Model> allocated(Backend& backend, const ModelConfig& config) {
  std::unique_ptr<Model> m = make_model(config);
  m->allocate(backend, 8);
  return m;
}

ModelConfig vae_config(int input_dim, std::vector<int> hidden, int latent, double beta = 1.0) {
  ModelConfig c = default_config("vae");
  c.input_dim = input_dim, c.hidden = std::move(hidden), c.latent = latent, c.beta = beta;
  return c;
}

TEST(Checkpoint, RoundTripRestoresParametersMomentsAndState) {
  auto backend = make_cpu_backend(1);
  const ModelConfig config = vae_config(20, {9, 6}, 3, 0.25);
  std::unique_ptr<Model> model = allocated(*backend, config);
  ParamStore& params = model->params();
  params.init_uniform(*backend, 1);
  const std::int64_t n = params.total();
  test::HostTensor m = test::random_tensor({n}, 2), v = test::random_tensor({n}, 3, 0, 1);
  backend->to_device(params.adam_m(), m.v.data());
  backend->to_device(params.adam_v(), v.v.data());
  TrainState st;
  st.seed = 0xFFFFFFFFFFFFFFF1ull, st.step = 12345, st.epoch = 4, st.batch_in_epoch = 17, st.batch_size = 64;
  st.epoch_loss_sum = 1234.5678901234567, st.adam.lr = 3e-4, st.adam.weight_decay = 0.01, st.shuffle = kShuffleScheme;
  st.lr_decay = 0.95, st.kl_warmup = 500;
  const fs::path file = fresh_dir("ckpt-roundtrip") / "c.safetensors";
  save_checkpoint(file, *backend, *model, &st);

  Checkpoint header = read_checkpoint_header(file);
  EXPECT_EQ(to_json(header.config), to_json(config));
  std::unique_ptr<Model> model2 = allocated(*backend, header.config);
  Checkpoint ck = load_checkpoint(file, *backend, *model2);
  ASSERT_TRUE(ck.train);
  EXPECT_EQ(ck.train->seed, st.seed);
  EXPECT_EQ(ck.train->step, 12345);
  EXPECT_EQ(ck.train->epoch, 4);
  EXPECT_EQ(ck.train->batch_in_epoch, 17);
  EXPECT_EQ(ck.train->epoch_loss_sum, st.epoch_loss_sum);
  EXPECT_EQ(ck.train->shuffle, kShuffleScheme);
  EXPECT_EQ(ck.train->adam.lr, 3e-4);
  EXPECT_EQ(ck.train->adam.weight_decay, 0.01);
  EXPECT_EQ(ck.train->lr_decay, 0.95);
  EXPECT_EQ(ck.train->kl_warmup, 500);
  EXPECT_EQ(host_copy(*backend, model2->params().values()), host_copy(*backend, params.values()));
  EXPECT_EQ(host_copy(*backend, model2->params().adam_m()), m.v);
  EXPECT_EQ(host_copy(*backend, model2->params().adam_v()), v.v);
  // PyTorch's nn.Sequential names, so torch's load_state_dict accepts the file.
  SafetensorsFile f = read_safetensors(file);
  EXPECT_TRUE(f.find("encoder.0.weight") && f.find("encoder.2.weight") && f.find("fc_mu.bias") &&
              f.find("decoder.4.weight"));
  EXPECT_TRUE(f.find("optimizer.exp_avg_sq.fc_logvar.weight"));
}

// A checkpoint of the first format (pytorch/examples' names, the four-field config) loads into
// the VAE with the same values, for one hidden layer (fc1 ... fc4) and for several.
TEST(Checkpoint, FirstFormatStillLoads) {
  auto backend = make_cpu_backend(1);
  for (const std::vector<int>& hidden : {std::vector<int>{7}, std::vector<int>{9, 5}}) {
    const ModelConfig config = vae_config(12, hidden, 3, 0.5);
    std::unique_ptr<Model> model = allocated(*backend, config);
    model->params().init_uniform(*backend, 4);
    const std::vector<float> values = host_copy(*backend, model->params().values());
    const bool one = hidden.size() == 1;
    auto old_name = [&](const std::string& n) {
      const std::map<std::string, std::string> single = {{"encoder.0", "fc1"}, {"fc_mu", "fc21"}, {"fc_logvar", "fc22"},
                                                         {"decoder.0", "fc3"}, {"decoder.2", "fc4"}};
      const std::map<std::string, std::string> deep = {{"encoder.0", "encoder.0"}, {"encoder.2", "encoder.1"},
                                                       {"decoder.0", "decoder.0"}, {"decoder.2", "decoder.1"},
                                                       {"decoder.4", "decoder.out"}};
      const std::string module = n.substr(0, n.rfind('.')), field = n.substr(n.rfind('.'));
      const auto& map = one ? single : deep;
      return (map.count(module) ? map.at(module) : module) + field;
    };
    std::vector<TensorView> views;
    for (const ParamInfo& p : model->params().infos())
      views.push_back({old_name(p.name), {p.shape.dims.begin(), p.shape.dims.begin() + p.shape.rank},
                       values.data() + p.offset});
    const fs::path file = fresh_dir("ckpt-v1-" + hidden_to_string(hidden)) / "old.safetensors";
    write_safetensors(file, views,
                      {{"format", "cuvae.mlp_vae.v1"},
                       {"config", nlohmann::json{{"input_dim", 12}, {"hidden", hidden}, {"latent", 3}, {"beta", 0.5}}.dump()}});
    Checkpoint h = read_checkpoint_header(file);
    EXPECT_TRUE(h.legacy);
    EXPECT_EQ(to_json(h.config), to_json(config));
    std::unique_ptr<Model> loaded = allocated(*backend, h.config);
    load_checkpoint(file, *backend, *loaded);
    EXPECT_EQ(host_copy(*backend, loaded->params().values()), values);
  }
}

// conv64's BatchNorm2d running statistics: moved by training steps, saved beside the parameters
// (without Adam moments), restored bit for bit, and what evaluation normalises by: the loaded model
// evaluates to the same bits, and to other numbers once the statistics are reset.
TEST(Checkpoint, BatchNormRunningStatisticsRoundTrip) {
  auto backend = make_cpu_backend(2);
  ModelConfig config = default_config("vae");
  config.arch = "conv64", config.hidden.clear(), config.latent = 4, config.image = {1, 32, 32}, config.input_dim = 1024;
  std::unique_ptr<Model> model = allocated(*backend, config);
  model->params().init_uniform(*backend, 2);
  const std::vector<float> fresh = host_copy(*backend, model->params().buffers());
  ASSERT_EQ(fresh.size(), 2u * (32 + 64 + 128 + 256 + 512 + 256 + 128 + 64 + 32 + 32));
  test::HostTensor x = test::random_tensor({8, 1024}, 5, 0.f, 1.f);
  Buffer xd(*backend, Shape{8, 1024});
  backend->to_device(xd, x.v.data());
  backend->set_schedule(Schedule{});
  for (int step = 1; step <= 2; ++step) {
    backend->set_position(step, 1, step);
    backend->update_step_scalars();
    model->train_step(*backend, Batch{xd.tensor(), {}}, 7);
  }
  const std::vector<float> trained = host_copy(*backend, model->params().buffers());
  ASSERT_NE(trained, fresh);
  auto eval_terms = [&](Model& m) {
    m.eval_batch(*backend, Batch{xd.tensor(), {}}, rng_key(1, RngPurpose::eval, 0), false);
    return host_copy(*backend, m.terms());
  };
  const std::vector<float> terms = eval_terms(*model);
  const fs::path file = fresh_dir("ckpt-batchnorm") / "c.safetensors";
  TrainState st;
  save_checkpoint(file, *backend, *model, &st);
  const SafetensorsFile f = read_safetensors(file);
  EXPECT_NE(f.find("decoder.3.1.running_mean"), nullptr);
  EXPECT_EQ(f.find("optimizer.exp_avg.decoder.3.1.running_mean"), nullptr);
  EXPECT_NE(f.find("optimizer.exp_avg.decoder.3.1.weight"), nullptr);
  std::unique_ptr<Model> loaded = allocated(*backend, config);
  load_checkpoint(file, *backend, *loaded);
  EXPECT_EQ(host_copy(*backend, loaded->params().buffers()), trained);
  EXPECT_EQ(eval_terms(*loaded), terms);
  backend->to_device(loaded->params().buffers(), fresh.data());
  EXPECT_NE(eval_terms(*loaded), terms) << "evaluation normalises by the running statistics";
  // A file without one of them is refused, naming it.
  std::vector<TensorView> views;
  for (const TensorRecord& t : f.tensors)
    if (t.name != "encoder.2.1.running_var") views.push_back({t.name, t.shape, t.data.data()});
  const fs::path partial = file.parent_path() / "partial.safetensors";
  write_safetensors(partial, views, f.metadata);
  try {
    read_checkpoint_header(partial);
    ADD_FAILURE() << "a checkpoint without a running variance was read";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), partial.string() + ": tensor 'encoder.2.1.running_var' is missing");
  }
}

TEST(Checkpoint, AnotherModelsCheckpointIsRefused) {
  auto backend = make_cpu_backend(1);
  ModelConfig ae = default_config("ae");
  ae.input_dim = 10, ae.hidden = {4}, ae.latent = 2;
  std::unique_ptr<Model> a = allocated(*backend, ae);
  a->params().init_uniform(*backend, 1);
  const fs::path file = fresh_dir("ckpt-other") / "ae.safetensors";
  save_checkpoint(file, *backend, *a, nullptr);
  std::unique_ptr<Model> v = allocated(*backend, vae_config(10, {4}, 2));
  EXPECT_THAT(test::error_of([&] { load_checkpoint(file, *backend, *v); }),
              HasSubstr(file.string() + ": holds a ae model"));
}

class DamagedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = make_cpu_backend(1);
    std::unique_ptr<Model> model = allocated(*backend, vae_config(10, {4}, 2));
    model->params().init_uniform(*backend, 1);
    TrainState st;
    file = fresh_dir("ckpt-damaged") / "c.safetensors";
    save_checkpoint(file, *backend, *model, &st);
    bytes = read_file(file);
  }
  std::string load_error() {
    return test::error_of([&] {
      Checkpoint h = read_checkpoint_header(file);
      auto backend = make_cpu_backend(1);
      std::unique_ptr<Model> model = allocated(*backend, h.config);
      load_checkpoint(file, *backend, *model);
    });
  }
  fs::path file;
  std::string bytes;
};
TEST_F(DamagedCheckpoint, TruncatedIsRefused) {
  write_file_atomic(file, bytes.substr(0, bytes.size() - 100));
  EXPECT_THAT(load_error(), ::testing::AllOf(HasSubstr(file.string()), HasSubstr("truncated")));
}

TEST_F(DamagedCheckpoint, CorruptHeaderIsRefused) {
  std::string b = bytes;
  b.replace(8, 12, "#garbage#!@$");  // the JSON header starts at byte 8
  write_file_atomic(file, b);
  EXPECT_THAT(load_error(), ::testing::AllOf(HasSubstr(file.string()), HasSubstr("JSON")));
}

TEST_F(DamagedCheckpoint, WrongModelShapeIsRefused) {
  // A consistent file whose tensor does not fit the config it declares.
  SafetensorsFile f = read_safetensors(file);
  std::vector<TensorView> views;
  for (const TensorRecord& t : f.tensors) {
    auto shape = t.shape;
    if (t.name == "encoder.0.weight") shape = {5, 8};  // 40 elements either way
    views.push_back({t.name, shape, t.data.data()});
  }
  write_safetensors(file, views, f.metadata);
  EXPECT_THAT(load_error(), HasSubstr("tensor 'encoder.0.weight' has shape [5, 8], expected [4, 10]"));
}

TEST_F(DamagedCheckpoint, ForeignFileIsRefused) {
  const float one = 1.f;
  write_safetensors(file, {{"w", {1}, &one}}, {{"format", "pt"}});
  EXPECT_THAT(load_error(), HasSubstr("not a cuvae checkpoint (metadata 'format' is 'pt'"));
}

}  // namespace
}  // namespace cuvae
