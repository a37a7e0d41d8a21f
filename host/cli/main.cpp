// cuvae: the command-line program. `cuvae train|eval|sample --help` lists the flags.
// Exit codes: 0 success, 1 runtime error (one line on stderr), 2 bad command line.
#include <CLI/CLI.hpp>

#include <iostream>

#include "host/error.hpp"
#include "models/trainer.hpp"

namespace {

void add_run_flags(CLI::App& cmd, cuvae::RunOptions& run) {
  cmd.add_option("--device", run.device, "auto (GPU if present, else CPU), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd.add_option("--threads", run.threads, "CPU threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd.add_option("--precision", run.cuda.precision, "GPU GEMM inputs: fp32, tf32 or bf16 (fp32 accumulation and master weights)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  cmd.add_option("--gemm", run.cuda.gemm, "GPU GEMMs: custom (our kernels), cublas (cuBLASLt) or auto (the faster per shape)")
      ->check(CLI::IsMember({"custom", "cublas", "auto"}));
  cmd.add_flag("!--no-graph", run.cuda.graphs, "GPU: launch every op instead of replaying each step as a CUDA graph");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cuvae: train, evaluate and sample variational autoencoders on the GPU or the CPU"};
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::help);  // a wrong flag prints the message and the usage
  app.set_version_flag("--version", "cuvae 0.1.0");

  cuvae::TrainOptions t;
  std::string hidden = "400";
  auto* train = app.add_subcommand("train", "Train the MLP VAE (pytorch/examples shape by default)");
  train->add_option("--data", t.data_dir, "Folder with the IDX files (default: Fashion-MNIST from dataset-fashion-mnist)");
  train->add_option("--out", t.out_dir, "Output folder (default: runs/<date-time>, or the resumed checkpoint's folder)");
  train->add_option("--resume", t.resume, "Continue from this checkpoint (parameters, Adam moments, step, RNG position)")
      ->check(CLI::ExistingFile);
  train->add_option("--epochs", t.epochs, "Total epochs (a resumed run continues up to this)")->check(CLI::Range(1, 100000));
  train->add_option("--batch-size", t.batch_size, "Images per batch")->check(CLI::Range(1, 1 << 20));
  train->add_option("--lr", t.adam.lr, "Adam learning rate")->check(CLI::PositiveNumber);
  train->add_option("--weight-decay", t.adam.weight_decay, "Decoupled weight decay (AdamW)")->check(CLI::Range(0.0, 1.0));
  auto* o_latent = train->add_option("--latent", t.model.latent, "Latent dimensions")->check(CLI::Range(1, 65536));
  auto* o_hidden = train->add_option("--hidden", hidden, "Hidden sizes, comma-separated (e.g. 400 or 512,256)");
  auto* o_beta = train->add_option("--beta", t.model.beta, "Weight of the KL term")->check(CLI::NonNegativeNumber);
  train->add_option("--seed", t.seed, "Seed for initialisation, shuffling and sampling");
  train->add_option("--train-limit", t.train_limit, "Use only the first N training images")->check(CLI::NonNegativeNumber);
  train->add_option("--test-limit", t.test_limit, "Use only the first N test images")->check(CLI::NonNegativeNumber);
  train->add_option("--max-steps", t.max_steps, "Stop after this many optimizer steps (a checkpoint is written)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--log-every", t.log_every, "Also log the loss of every Nth step to metrics.jsonl")
      ->check(CLI::NonNegativeNumber);
  train->add_flag("!--no-progress", t.progress, "No progress bar");
  add_run_flags(*train, t.run);

  std::filesystem::path ckpt, data_dir, png = "samples.png";
  std::int64_t test_limit = 0;
  std::uint64_t seed = 1;
  int count = 64;
  cuvae::RunOptions run;
  auto* eval = app.add_subcommand("eval", "Print a checkpoint's test -ELBO and its reconstruction and KL terms");
  eval->add_option("checkpoint", ckpt, "Checkpoint file")->required()->check(CLI::ExistingFile);
  eval->add_option("--data", data_dir, "Folder with the IDX files");
  eval->add_option("--test-limit", test_limit, "Use only the first N test images")->check(CLI::NonNegativeNumber);
  eval->add_option("--seed", seed, "Seed for the z samples");
  add_run_flags(*eval, run);

  auto* sample = app.add_subcommand("sample", "Decode z ~ N(0, I) into a PNG grid");
  sample->add_option("checkpoint", ckpt, "Checkpoint file")->required()->check(CLI::ExistingFile);
  sample->add_option("--out", png, "PNG file to write");
  sample->add_option("--count", count, "Number of samples")->check(CLI::Range(1, 4096));
  sample->add_option("--seed", seed, "Seed for the z samples");
  add_run_flags(*sample, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the message (and, for a wrong flag, a pointer to --help); 0 for --help itself.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (*train) {
      t.model.hidden = cuvae::parse_hidden(hidden);
      t.model_given = o_latent->count() + o_hidden->count() + o_beta->count() > 0;
      cuvae::train(t, std::cout);
    } else if (*eval) {
      cuvae::EvalResult r = cuvae::evaluate_checkpoint(ckpt, data_dir, test_limit, seed, run, std::cout);
      std::printf("test -ELBO %.4f (recon %.4f, KL %.4f) nats per image over %lld images\n", r.elbo(), r.recon, r.kl,
                  static_cast<long long>(r.images));
    } else if (*sample) {
      cuvae::sample_checkpoint(ckpt, png, count, seed, run, std::cout);
      std::printf("wrote %d samples to %s\n", count, png.c_str());
    }
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "cuvae: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
