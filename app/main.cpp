// cuvae: the command-line program. `cuvae train|eval|sample|encode|decode|reconstruct --help`
// lists the flags.
// Exit codes: 0 success, 1 runtime error (one line on stderr), 2 bad command line.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <tuple>

#include "app/cli_checks.hpp"
#include "app/compare.hpp"
#include "app/generators.hpp"
#include "app/iwae.hpp"  // IWAE
#include "app/pictures.hpp"
#include "app/score.hpp"  // score
#include "app/train.hpp"
#include "datasets/image_folder.hpp"
#include "datasets/shapes.hpp"
#include "host/error.hpp"

namespace {

namespace cli = cuvae::cli;
constexpr const char* kCommands = "train, eval, sample, encode, decode, reconstruct, interpolate, manifold, latent-map, compare, score, make-shapes";

// The signal that asked training to stop. A handler can only reach a global; this is the
// program's, not the library's (train() takes a pointer to it).
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free);

// The first SIGINT/SIGTERM asks the loop to stop after its step (with a checkpoint); the handler
// then restores the default action, so a second one stops the program at once.
extern "C" void on_stop_signal(int sig) {
  g_stop.store(sig);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

void add_run_flags(CLI::App& cmd, cuvae::RunOptions& run) {
  cmd.add_option("--device", run.device,
                 "auto (GPU if present, else CPU), cpu, cuda, or simt (the CUDA backend's kernels on the CPU: slow, for tests)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "simt"}));
  cmd.add_option("--threads", run.threads, "CPU threads (0: all cores)")->check(cli::integer(0, 1024));
  cmd.add_option("--precision", run.cuda.precision, "GPU GEMM inputs: fp32, tf32 or bf16 (fp32 accumulation and master weights)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  cmd.add_option("--gemm", run.cuda.gemm, "GPU GEMMs: custom (our kernels), cublas (cuBLASLt) or auto (the faster per shape)")
      ->check(CLI::IsMember({"custom", "cublas", "auto"}));
  cmd.add_option("--conv", run.cuda.conv,
                 "GPU convolutions: custom (our implicit-GEMM kernels), cudnn (cuDNN 9) or auto (cuDNN on a GPU at fp32/tf32)")
      ->check(CLI::IsMember({"custom", "cudnn", "auto"}));
  cmd.add_flag("!--no-graph", run.cuda.graphs, "GPU: launch every op instead of replaying each step as a CUDA graph");
}

constexpr std::int64_t kMaxCount = std::int64_t(1) << 40;  // image limits

// --data and the flags of image folders and single .npy files (datasets/source.hpp).
CLI::Option* add_data_flags(CLI::App& cmd, cuvae::DataOptions& d, const std::string& what = "") {
  auto* o = cmd.add_option("--data", d.path,
                           "IDX folder, image folder (PNG/JPEG; one subfolder per class for labels), .npy file, or a folder "
                           "with train.npy and test.npy" + what + " (default: Fashion-MNIST from dataset-fashion-mnist)");
  cmd.add_option("--image-size", d.image_size, "Image folders: resize the short side to S, then centre-crop S x S")
      ->check(cli::integer(1, cuvae::kMaxImageSize));
  cmd.add_option("--channels", d.channels, "Image folders: 1 (grey) or 3 (RGB) (default: 1 if every image is grey)")
      ->check(CLI::IsMember({1, 3}));
  cmd.add_option("--test-fraction", d.test_fraction, "Share of the images held out as the test split, when the data has "
                                                     "no test split of its own (default 0.1)")
      ->check(cli::number(0, 1, true, true));
  cmd.add_option("--split-seed", d.split_seed, "Seed of which images the test fraction holds")->check(cli::seed());
  cmd.add_option("--cache", d.cache, "Image folders: folder of the decoded-image cache, or none (default: ~/.cache/cuvae/images)");
  cmd.add_flag("--skip-bad", d.skip_bad, "Image folders: leave out files that cannot be decoded (counted in one line)");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cuvae: train, evaluate and sample PCA, autoencoders and variational autoencoders on the GPU or the CPU"};
  app.require_subcommand(1);
  // One line for a bad command line (the usage is --help's).
  // A bad value: "--flag: why" ("--hidden '4,,5': why" when the parser names the flag itself);
  // an unknown or missing flag also points to the command's --help.
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    std::string what = e.what();
    const std::size_t colon = what.find(": ");
    if (colon != std::string::npos && what.compare(colon + 2, colon, what, 0, colon) == 0) what.erase(0, colon + 2);
    if (dynamic_cast<const CLI::ValidationError*>(&e)) return "cuvae: error: " + what + "\n";
    const auto parsed = a->get_subcommands();
    const std::string help = parsed.empty() ? "cuvae --help" : "cuvae " + parsed.front()->get_name() + " --help";
    return "cuvae: error: " + what + " (" + help + " lists the flags)\n";
  });
  app.set_version_flag("--version", "cuvae 0.1.0");

  cuvae::TrainOptions t;
  std::string model = "vae", hidden = "400", activation = "relu", likelihood = "bernoulli", noise, arch = "mlp";
  auto* train = app.add_subcommand("train", "Train a model (default: the MLP VAE of pytorch/examples)");
  auto* o_model = train->add_option("--model", model, std::string("Model: ") + cuvae::kModelNames)
                      ->check(cli::parsed(cuvae::default_config, "MODEL"));
  add_data_flags(*train, t.data);
  train->add_option("--out", t.out_dir, "Output folder (default: runs/<date-time>, or the resumed checkpoint's folder)")
      ->check(cli::output_dir());
  train->add_option("--resume", t.resume, "Continue from this checkpoint (parameters, Adam moments, step, RNG position)")
      ->check(CLI::ExistingFile);
  train->add_option("--epochs", t.epochs, "Total epochs (a resumed run continues up to this)")
      ->check(cli::integer(1, cuvae::kMaxEpochs));
  train->add_option("--batch-size", t.batch_size, "Images per batch")->check(cli::integer(1, cuvae::kMaxBatch));
  train->add_option("--lr", t.adam.lr, "Adam learning rate")->check(cli::positive());
  train->add_option("--weight-decay", t.adam.weight_decay, "Decoupled weight decay (AdamW)")->check(cli::number(0, 1));
  train->add_option("--l2", t.adam.l2, "L2 penalty in the gradient (torch.optim.Adam's weight_decay)")
      ->check(cli::non_negative());
  train->add_option("--lr-decay", t.lr_decay, "Learning-rate decay per epoch (ExponentialLR gamma)")
      ->check(cli::number(0, 1, true));
  auto* o_arch = train->add_option("--arch", arch, "Layers: mlp (--hidden sizes), conv (two conv layers and a dense one, mirrored) or conv64 (five conv + BatchNorm blocks, mirrored; latent 128)")
                     ->check(cli::parsed(cuvae::parse_arch, "ARCH"));
  auto* o_latent = train->add_option("--latent", t.model.latent, "Latent dimensions (PCA: components)")
                       ->check(cli::integer(1, cuvae::kMaxLatent));
  auto* o_hidden = train->add_option("--hidden", hidden, "Hidden sizes, comma-separated (e.g. 400 or 512,256), or none")
                       ->check(cli::parsed(cuvae::parse_hidden, "SIZES"));
  auto* o_act = train->add_option("--activation", activation, "Hidden-layer activation: relu or none")
                    ->check(cli::parsed(cuvae::parse_activation, "ACT"));
  auto* o_lik = train->add_option("--likelihood", likelihood, "Reconstruction likelihood: bernoulli (logits) or gaussian")
                    ->check(cli::parsed(cuvae::parse_likelihood, "LIK"));
  auto* o_sigma = train->add_option("--sigma", t.model.sigma, "Gaussian likelihood's fixed sigma")
                      ->check(cli::positive());
  auto* o_noise = train->add_option("--noise", noise, "dae input noise: mask:P, gaussian:S or saltpepper:P (default mask:0.25)")
                      ->check(cli::parsed(cuvae::parse_noise, "NOISE"));
  auto* o_beta = train->add_option("--beta", t.model.beta, "Weight of the KL term")->check(cli::non_negative());
  // softmax cross-entropy: the classifier's class count
  auto* o_classes = train->add_option("--classes", t.model.classes, "Classifier, cvae: number of classes (default: the largest training label + 1)")
                        ->check(cli::integer(2, cuvae::kMaxClasses));
  train->add_option("--kl-warmup", t.kl_warmup, "Steps over which the KL weight rises linearly from 0")
      ->check(cli::integer(0, cuvae::kMaxSteps));
  train->add_option("--seed", t.seed, "Seed for initialisation, shuffling and sampling")->check(cli::seed());
  train->add_option("--train-limit", t.train_limit, "Use only the first N training images")
      ->check(cli::integer(0, kMaxCount));
  train->add_option("--test-limit", t.test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  train->add_option("--max-steps", t.max_steps, "Stop after this many optimizer steps (a checkpoint is written)")
      ->check(cli::integer(0, cuvae::kMaxSteps));
  train->add_option("--log-every", t.log_every, "Also log the loss of every Nth step to metrics.jsonl")
      ->check(cli::integer(0, cuvae::kMaxSteps));
  train->add_flag("!--no-progress", t.progress, "No progress bar");
  add_run_flags(*train, t.run);

  std::filesystem::path ckpt, png = "samples.png";
  cuvae::DataOptions eval_data;
  std::int64_t test_limit = 0;
  std::uint64_t seed = 1;
  int count = 64;
  cuvae::RunOptions run;
  auto* eval = app.add_subcommand("eval", "Print a checkpoint's test figures (a VAE: -ELBO, reconstruction and KL terms)");
  eval->add_option("checkpoint", ckpt, "Checkpoint file")->required()->check(CLI::ExistingFile);
  add_data_flags(*eval, eval_data, " (its test split)");
  eval->add_option("--test-limit", test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  eval->add_option("--seed", seed, "Seed for the z samples")->check(cli::seed());
  // IWAE
  int iwae = 0;
  eval->add_option("--iwae", iwae, "Importance-weighted bound on log p(x) with K samples per image (a vae), and active units")
      ->check(cli::integer(1, cuvae::kIwaeMaxSamples));
  add_run_flags(*eval, run);

  auto* sample = app.add_subcommand("sample", "Decode z from the model's prior into a PNG grid (or .npy)");
  sample->add_option("checkpoint", ckpt, "Checkpoint file")->required()->check(CLI::ExistingFile);
  sample->add_option("--out", png, "PNG file to write (float32 [N, D] when it ends in .npy)")->check(cli::output_file());
  sample->add_option("--count", count, "Number of samples")->check(cli::integer(1, 4096));
  sample->add_option("--seed", seed, "Seed for the z samples")->check(cli::seed());
  // cvae
  std::string label;
  sample->add_option("--label", label, "cvae: the class to sample (every sample), or all (8 of each class, a row per class)")
      ->check(cli::class_label());
  add_run_flags(*sample, run);

  cuvae::TransformOptions x;
  auto add_transform = [&](const char* name, const char* help, bool data) {
    auto* c = app.add_subcommand(name, help);
    c->add_option("checkpoint", x.checkpoint, "Checkpoint file")->required()->check(CLI::ExistingFile);
    auto* in = c->add_option("--input", x.input, "NumPy .npy file: float32 or uint8 rows [N, D], [N, H, W] or [N, C, H, W]")
                   ->check(CLI::ExistingFile);
    if (data) {
      add_data_flags(*c, x.data, " (instead of --input)")->excludes(in);
      c->add_option("--split", x.split, "train or test (with --data)")->check(CLI::IsMember({"train", "test"}));
    } else {
      in->required();
    }
    c->add_option("--out", x.out, "Output .npy file (float32 [N, cols]; a PNG grid when it ends in .png)")
        ->required()
        ->check(cli::output_file());
    c->add_option("--labels", x.labels, "cvae: .npy of integer class labels, one per row of --input")
        ->check(CLI::ExistingFile);  // cvae
    add_run_flags(*c, x.run);
    return c;
  };
  auto* encode = add_transform("encode", "Codes of images (a VAE: the mean of q(z|x)) as float32 [N, latent]", true);
  auto* decode = add_transform("decode", "Pixel means of codes --input Z.npy", false);
  auto* reconstruct = add_transform("reconstruct", "Reconstructions (decode of encode) of --input X.npy", false);

  // `compare pca-ae` and `compare generators`: the lecture's two comparisons.
  auto* compare = app.add_subcommand("compare", "Answer a lecture question by experiment: pca-ae or generators");
  compare->require_subcommand(1);
  cuvae::CompareOptions cmp;
  auto* pca_ae = compare->add_subcommand("pca-ae", "Is a linear autoencoder PCA? Fits pca, trains linear-ae, compares them");
  pca_ae->add_option("--latent", cmp.latent, "Components / code size K")->check(cli::integer(1, cuvae::kMaxLatent));
  pca_ae->add_option("--epochs", cmp.epochs, "Epochs of the linear autoencoder")->check(cli::integer(1, cuvae::kMaxEpochs));
  pca_ae->add_option("--lr", cmp.lr, "Adam learning rate")->check(cli::positive());
  pca_ae->add_option("--batch-size", cmp.batch_size, "Images per batch")->check(cli::integer(1, cuvae::kMaxBatch));
  pca_ae->add_option("--weight-decay", cmp.l2, "L2 penalty on the autoencoder's weights (Kunin et al. 2019)")
      ->check(cli::non_negative());
  add_data_flags(*pca_ae, cmp.data);
  pca_ae->add_option("--out", cmp.out_dir, "Output folder (default: runs/compare-<date-time>)")->check(cli::output_dir());
  pca_ae->add_option("--seed", cmp.seed, "Seed")->check(cli::seed());
  pca_ae->add_option("--train-limit", cmp.train_limit, "Use only the first N training images")
      ->check(cli::integer(0, kMaxCount));
  pca_ae->add_option("--test-limit", cmp.test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  pca_ae->add_flag("!--no-progress", cmp.progress, "No progress bar");
  add_run_flags(*pca_ae, cmp.run);

  cuvae::GeneratorsOptions gen;
  std::string gen_hidden = "400";
  auto* generators = compare->add_subcommand(
      "generators", "Why not use an autoencoder's decoder as a generator? An ae and a vae on the same z ~ N(0, I)");
  auto* o_ae = generators->add_option("--ae", gen.ae, "ae checkpoint (with --vae; default: train both here)")
                   ->check(CLI::ExistingFile);
  generators->add_option("--vae", gen.vae, "vae checkpoint with the ae's layers and latent size")
      ->check(CLI::ExistingFile);
  generators->add_option("--classifier", gen.classifier, "Classifier checkpoint for the Frechet distance (default: train one)")
      ->check(CLI::ExistingFile);
  generators->add_option("--epochs", gen.epochs, "Epochs of each model trained here")->check(cli::integer(1, cuvae::kMaxEpochs));
  auto* o_gen_hidden = generators->add_option("--hidden", gen_hidden, "Hidden sizes of the models trained here")
                           ->check(cli::parsed(cuvae::parse_hidden, "SIZES"));
  auto* o_gen_latent = generators->add_option("--latent", gen.latent, "Latent size of the models trained here")
                           ->check(cli::integer(1, cuvae::kMaxLatent));
  generators->add_option("--count", gen.count, "Samples scored and prior draws (default 10000)")
      ->check(cli::integer(2, cuvae::kScoreMaxCount));
  generators->add_option("--from", gen.from, "Test image where the interpolation strips start")->check(cli::integer(0, kMaxCount));
  generators->add_option("--to", gen.to, "Test image where they end")->check(cli::integer(0, kMaxCount));
  generators->add_option("--steps", gen.steps, "Decoded points on each strip, ends included")->check(cli::integer(2, 64));
  add_data_flags(*generators, gen.data);
  generators->add_option("--out", gen.out_dir, "Output folder (default: runs/generators-<date-time>)")->check(cli::output_dir());
  generators->add_option("--seed", gen.seed, "Seed")->check(cli::seed());
  generators->add_option("--train-limit", gen.train_limit, "Use only the first N training images")
      ->check(cli::integer(0, kMaxCount));
  generators->add_option("--test-limit", gen.test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  generators->add_flag("!--no-progress", gen.progress, "No progress bar");
  add_run_flags(*generators, gen.run);

  // score
  cuvae::ScoreOptions sc;
  auto* score = app.add_subcommand("score", "Frechet distance of a model's samples to the test images in a classifier's features");
  score->add_option("checkpoint", sc.checkpoint, "Checkpoint of the model to sample (pca, ae, vae, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  score->add_option("--classifier", sc.classifier, "Classifier checkpoint (cuvae train --model classifier) for the features")
      ->required()
      ->check(CLI::ExistingFile);
  score->add_option("--count", sc.count, "Number of samples (default 10000)")->check(cli::integer(2, cuvae::kScoreMaxCount));
  score->add_option("--seed", sc.seed, "Seed for the z samples")->check(cli::seed());
  add_data_flags(*score, sc.data, " (its test split)");
  score->add_option("--test-limit", sc.test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  add_run_flags(*score, sc.run);

  // Pictures of the latent space
  cuvae::InterpolateOptions ip;
  auto* interpolate = app.add_subcommand("interpolate", "Decode the line between the codes of test images I and J, a strip per pair");
  interpolate->add_option("checkpoint", ip.checkpoint, "Checkpoint file")->required()->check(CLI::ExistingFile);
  interpolate->add_option("--from", ip.from, "Test image where a strip starts (repeat for more strips)")
      ->required()
      ->check(cli::integer(0, kMaxCount));
  interpolate->add_option("--to", ip.to, "Test image where it ends (one per --from)")->required()->check(cli::integer(0, kMaxCount));
  interpolate->add_option("--steps", ip.steps, "Decoded points on each strip, ends included")
      ->check(cli::integer(2, cuvae::kMaxPictureSteps));
  interpolate->add_flag("--slerp", ip.spherical, "Follow the great circle between the codes instead of the straight line");
  interpolate->add_option("--label", ip.label, "cvae: the class to decode with (default: each strip's first image's)")
      ->check(cli::class_label());
  interpolate->add_option("--out", ip.out, "PNG file to write")->check(cli::output_file());
  add_data_flags(*interpolate, ip.data, " (its test split)");
  interpolate->add_option("--test-limit", ip.test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  add_run_flags(*interpolate, ip.run);

  cuvae::ManifoldOptions mf;
  std::string dims = "0,1";
  auto* manifold = app.add_subcommand("manifold", "Decode a grid over two latent dimensions, the others at zero");
  manifold->add_option("checkpoint", mf.checkpoint, "Checkpoint file")->required()->check(CLI::ExistingFile);
  manifold->add_option("--dims", dims, "The two latent dimensions, a,b")->check(cli::parsed(cuvae::parse_dims, "A,B"));
  manifold->add_option("--span", mf.span, "The grid covers -span..span in each")->check(cli::positive());
  manifold->add_option("--steps", mf.steps, "Images per side")->check(cli::integer(2, cuvae::kMaxPictureSteps));
  manifold->add_option("--label", mf.label, "cvae: the class, or all (a grid per class)")->check(cli::class_label());
  manifold->add_option("--out", mf.out, "PNG file to write")->check(cli::output_file());
  add_run_flags(*manifold, mf.run);

  cuvae::LatentMapOptions lm;
  auto* latent_map = app.add_subcommand("latent-map", "Scatter plot of the test codes by label (2-D codes, or their first two principal components)");
  latent_map->add_option("checkpoint", lm.checkpoint, "Checkpoint file")->required()->check(CLI::ExistingFile);
  latent_map->add_option("--out", lm.out, "PNG file to write")->check(cli::output_file());
  add_data_flags(*latent_map, lm.data, " (its test split)");
  latent_map->add_option("--test-limit", lm.test_limit, "Use only the first N test images")->check(cli::integer(0, kMaxCount));
  add_run_flags(*latent_map, lm.run);

  // The generated 64x64 data set
  cuvae::ShapesOptions shapes;
  auto* make_shapes = app.add_subcommand("make-shapes", "Write a dSprites-like image folder of white shapes on black, with factors.csv");
  make_shapes->add_option("--out", shapes.out, "Folder to create (must not exist, or be empty)")->required()->check(cli::output_dir());
  make_shapes->add_option("--count", shapes.count, "Images (default 20000)")->check(cli::integer(1, cuvae::kShapesMaxCount));
  make_shapes->add_option("--size", shapes.size, "Image side in pixels (default 64)")
      ->check(cli::integer(cuvae::kShapesMinSize, cuvae::kShapesMaxSize));
  make_shapes->add_option("--seed", shapes.seed, "Seed of the factors")->check(cli::seed());
  make_shapes->add_option("--threads", shapes.threads, "Threads writing images (0: all cores)")->check(cli::integer(0, 1024));

  // An unknown command is named (CLI11 would only say that a subcommand is required).
  auto known = [&](const char* name) {
    for (const CLI::App* c : app.get_subcommands([](const CLI::App*) { return true; }))
      if (c->get_name() == name) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::cerr << "cuvae: error: unknown command '" << argv[1] << "' (want one of " << kCommands << ")\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the message (and, for a wrong flag, a pointer to --help); 0 for --help itself.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    // Image folders decode on the run's threads.
    t.data.threads = t.run.threads, t.data.progress = t.progress, eval_data.threads = run.threads, x.data.threads = x.run.threads;
    cmp.data.threads = cmp.run.threads, gen.data.threads = gen.run.threads, sc.data.threads = sc.run.threads;
    ip.data.threads = ip.run.threads, lm.data.threads = lm.run.threads;
    if (*train) {
      // The model's defaults, then the flags given (linear-ae: no hidden layer, gaussian; dae: mask:0.25).
      cuvae::ModelConfig c = cuvae::default_config(model);
      if (o_arch->count()) c.arch = cuvae::parse_arch(arch);
      if (c.arch != "mlp" && o_hidden->count())
        throw cuvae::UsageError("--hidden is for --arch mlp; the " + c.arch + " arch's layers are fixed (models/arch.hpp)");
      if (c.arch != "mlp") c.hidden.clear();
      if (o_hidden->count()) c.hidden = cuvae::parse_hidden(hidden);
      if (o_act->count()) c.activation = cuvae::parse_activation(activation);
      if (o_lik->count()) c.likelihood = cuvae::parse_likelihood(likelihood);
      if (o_noise->count()) c.noise = cuvae::parse_noise(noise);
      c.latent = t.model.latent, c.sigma = t.model.sigma, c.beta = t.model.beta;
      if (c.arch == "conv64" && !o_latent->count()) c.latent = cuvae::kConv64Latent;
      c.classes = t.model.classes;
      if (cuvae::is_classifier(c) && o_latent->count())  // cvae: is_classifier
        throw cuvae::UsageError("--latent is not for a classifier: its features are its last hidden layer (--hidden)");
      t.model = c;
      const std::pair<CLI::Option*, const char*> given[] = {
          {o_model, "model"},     {o_latent, "latent"}, {o_hidden, "hidden"}, {o_act, "activation"},
          {o_lik, "likelihood"}, {o_sigma, "sigma"},   {o_beta, "beta"},     {o_noise, "noise"},
          {o_classes, "classes"}, {o_arch, "arch"}};
      for (const auto& [o, key] : given)
        if (o->count()) t.model_fields_given.push_back(key);
      t.stop = &g_stop;
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
      const cuvae::TrainSummary s = cuvae::train(t, std::cout);
      if (s.interrupted) return 128 + s.interrupted;
    } else if (*eval && iwae > 0) {  // IWAE
      const cuvae::IwaeResult r = cuvae::iwae_checkpoint(ckpt, eval_data, test_limit, seed, iwae, run, std::cout);
      std::printf("%s\n", cuvae::describe(r).c_str());
    } else if (*eval) {
      cuvae::EvalResult r = cuvae::evaluate_checkpoint(ckpt, eval_data, test_limit, seed, run, std::cout);
      std::printf("%s over %lld images\n", cuvae::describe(r).c_str(), static_cast<long long>(r.images));
    } else if (*sample) {
      const int n = cuvae::sample_checkpoint(ckpt, png, count, seed, run, std::cout, label);  // cvae: label
      std::printf("wrote %d samples to %s\n", n, png.c_str());
    } else if (*score) {  // score
      const cuvae::ScoreResult r = cuvae::score_checkpoint(sc, std::cout);
      std::printf("%s\n", cuvae::describe(r).c_str());
    } else if (*pca_ae) {
      cuvae::compare_pca_ae(cmp, std::cout);
    } else if (*generators) {
      if (o_ae->count() && (o_gen_hidden->count() || o_gen_latent->count()))
        throw cuvae::UsageError("--hidden and --latent are for the models trained here, not for --ae/--vae checkpoints");
      gen.hidden = cuvae::parse_hidden(gen_hidden);
      cuvae::compare_generators(gen, std::cout);
    } else if (*make_shapes) {
      const std::int64_t n = cuvae::make_shapes(shapes);
      std::printf("wrote %lld images of %dx%d and factors.csv to %s\n", static_cast<long long>(n), shapes.size, shapes.size,
                  shapes.out.c_str());
    } else if (*interpolate) {
      const int n = cuvae::interpolate_checkpoint(ip, std::cout);
      std::printf("wrote %d strip%s to %s\n", n, n == 1 ? "" : "s", ip.out.c_str());
    } else if (*manifold) {
      std::tie(mf.dim_a, mf.dim_b) = cuvae::parse_dims(dims);
      const int n = cuvae::manifold_checkpoint(mf, std::cout);
      std::printf("wrote %d grid%s of %dx%d to %s\n", n, n == 1 ? "" : "s", mf.steps, mf.steps, mf.out.c_str());
    } else if (*latent_map) {
      const std::int64_t n = cuvae::latent_map_checkpoint(lm, std::cout);
      std::printf("wrote the codes of %lld test images to %s\n", static_cast<long long>(n), lm.out.c_str());
    } else if (*encode || *decode || *reconstruct) {
      x.what = *encode ? cuvae::Transform::encode : *decode ? cuvae::Transform::decode : cuvae::Transform::reconstruct;
      const std::int64_t n = cuvae::transform_checkpoint(x, std::cout);
      std::printf("wrote %lld rows to %s\n", static_cast<long long>(n), x.out.c_str());
    }
  } catch (const cuvae::UsageError& e) {  // flags that disagree with each other or with the data
    std::cout.flush();
    std::cerr << "cuvae: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "cuvae: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
