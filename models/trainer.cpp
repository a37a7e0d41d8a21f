// The training loop and the eval/sample programs (see trainer.hpp).
#include "models/trainer.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "datasets/batches.hpp"
#include "datasets/idx.hpp"
#include "host/device.hpp"
#include "host/image.hpp"
#include "host/metrics.hpp"

namespace cuvae {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kGrid = 8;  // images per row in PNG grids, as pytorch/examples

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A data split resident on the device, as [count, dim] floats in [0, 1].
struct DeviceSplit {
  Dataset host;
  Buffer images;
};

DeviceSplit load_split(Backend& backend, const std::filesystem::path& dir, const char* split, std::int64_t limit) {
  DeviceSplit s{load_idx_dataset(dir, split, limit), Buffer()};
  s.images = Buffer(backend, Shape{s.host.count, s.host.dim()});
  backend.to_device(s.images, s.host.images.data());
  return s;
}

// Progress: a bar redrawn in place on a terminal; nothing per step otherwise.
class Progress {
 public:
  Progress(std::ostream& out, bool enabled) : out_(out), tty_(enabled && ::isatty(STDOUT_FILENO)) {}
  // True at most ten times a second on a terminal: only then is the loss read from the device.
  bool due() const { return tty_ && seconds_since(last_) >= 0.1; }
  void update(std::int64_t epoch, std::int64_t epochs, std::int64_t done, std::int64_t total, double loss) {
    last_ = Clock::now();
    const int width = 30, filled = static_cast<int>(width * done / std::max<std::int64_t>(total, 1));
    char line[160];
    std::snprintf(line, sizeof line, "\repoch %lld/%lld [%s%s] %lld/%lld loss %.2f", (long long)epoch,
                  (long long)epochs, std::string(static_cast<std::size_t>(filled), '=').c_str(),
                  std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), (long long)done,
                  (long long)total, loss);
    out_ << line << std::flush;
  }
  void finish() {
    if (tty_) out_ << "\r" << std::string(80, ' ') << "\r" << std::flush;
  }

 private:
  std::ostream& out_;
  bool tty_;
  Clock::time_point last_ = Clock::now() - std::chrono::seconds(1);
};

// Test pass: one z sample per image, like pytorch/examples' test(). Optionally keeps the
// first `keep` reconstructions (pixel means) for the comparison picture.
EvalResult evaluate(Backend& backend, MlpVae& model, const DeviceSplit& test, std::int64_t batch, RngKey base,
                    int keep, std::vector<float>* kept) {
  EvalResult r;
  const std::int64_t n = test.host.count, nb = batch_count(n, batch);
  for (std::int64_t bi = 0; bi < nb; ++bi) {
    const std::int64_t b = std::min(batch, n - bi * batch);
    RngKey key = base;
    key.stream += static_cast<std::uint64_t>(bi);
    model.forward_loss(backend, test.images.tensor().rows_view(bi * batch, b), key);
    BatchLoss l = model.read_loss(backend);
    r.recon += l.recon, r.kl += l.kl;
    if (bi == 0 && kept && keep > 0) {
      Buffer pixels(backend, Shape{std::min<std::int64_t>(keep, b), model.config().input_dim});
      backend.sigmoid(model.logits(b).rows_view(0, pixels.tensor().rows()), pixels);
      kept->resize(static_cast<std::size_t>(pixels.numel()));
      backend.to_host(kept->data(), pixels);
    }
  }
  r.images = n;
  r.recon /= static_cast<double>(n), r.kl /= static_cast<double>(n);
  return r;
}

// The loss (recon + beta * kl) of one row of the loss history: a device read, a synchronisation.
double read_row(Backend& backend, const Buffer& history, std::int64_t row, float beta) {
  float t[2];
  backend.to_host(t, history.tensor().rows_view(row, 1));
  return double(t[0]) + beta * double(t[1]);
}

void write_samples(Backend& backend, MlpVae& model, const std::filesystem::path& png, int count, RngKey key,
                   int rows, int cols) {
  Buffer z(backend, Shape{count, model.config().latent});
  Buffer pixels(backend, Shape{count, model.config().input_dim});
  backend.normal(key, z);
  model.decode(backend, z, pixels);
  std::vector<float> host(static_cast<std::size_t>(pixels.numel()));
  backend.to_host(host.data(), pixels);
  write_png_grid(png, host.data(), count, rows, cols, kGrid);
}

std::filesystem::path default_out_dir() {
  char stamp[32];
  std::time_t t = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  return std::filesystem::path("runs") / stamp;
}

}  // namespace

void training_step(Backend& backend, MlpVae& model, ParamStore& params, const Tensor& images, std::int64_t batch_size,
                   const Tensor& xb, RngKey step_key, const AdamConfig& adam, const Tensor& history) {
  backend.gather_batch(images, batch_size, xb);
  model.forward_backward(backend, xb, step_key, true);
  backend.adam_step(params.values(), params.grads(), params.adam_m(), params.adam_v(), adam);
  backend.record_loss(model.terms(), history);
  backend.advance_position();
}

TrainSummary train(const TrainOptions& opt, std::ostream& out) {
  if (opt.epochs < 1) throw Error("--epochs " + std::to_string(opt.epochs) + ": must be at least 1");
  if (opt.batch_size < 1 || opt.batch_size > (1 << 20))
    throw Error("--batch-size " + std::to_string(opt.batch_size) + ": must be in 1..1048576");
  if (!(opt.adam.lr > 0) || !std::isfinite(opt.adam.lr)) throw Error("--lr: must be a positive number");

  // Config and state: from the checkpoint when resuming, else from the options.
  VaeConfig config = opt.model;
  TrainState state;
  state.seed = opt.seed, state.batch_size = opt.batch_size, state.adam = opt.adam, state.shuffle = kShuffleScheme;
  if (!opt.resume.empty()) {
    Checkpoint ck = read_checkpoint_header(opt.resume);
    if (!ck.train) throw Error(opt.resume.string() + ": holds weights only, no training state to resume");
    if (opt.model_given && (ck.config.latent != opt.model.latent || ck.config.hidden != opt.model.hidden ||
                            ck.config.beta != opt.model.beta))
      throw Error(opt.resume.string() + ": model is hidden " + hidden_to_string(ck.config.hidden) + ", latent " +
                  std::to_string(ck.config.latent) + ", beta " + std::to_string(ck.config.beta) +
                  "; the flags given ask for something else");
    config = ck.config;
    state = *ck.train;
    if (state.shuffle != kShuffleScheme && state.batch_in_epoch > 0)
      throw Error(opt.resume.string() + ": stopped inside epoch " + std::to_string(state.epoch) + " (after " +
                  std::to_string(state.batch_in_epoch) + " batches) with the '" + state.shuffle +
                  "' shuffle; this build shuffles with '" + kShuffleScheme +
                  "', so resuming would repeat and skip rows of that epoch; resume from a checkpoint written at the end of an epoch");
    state.shuffle = kShuffleScheme;  // from the next epoch on
  }

  std::filesystem::path out_dir = opt.out_dir;
  if (out_dir.empty()) out_dir = opt.resume.empty() ? default_out_dir() : opt.resume.parent_path();
  if (out_dir.empty()) out_dir = ".";
  const std::filesystem::path ckpt_path = out_dir / "checkpoint.safetensors";
  const std::filesystem::path metrics_path = out_dir / "metrics.jsonl";
  std::error_code ec;
  if (opt.resume.empty() && std::filesystem::exists(ckpt_path, ec))
    throw Error("--out " + out_dir.string() + ": already holds a checkpoint; pass --resume " + ckpt_path.string() +
                " to continue it, or choose another --out");
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error("--out " + out_dir.string() + ": cannot create: " + ec.message());

  auto backend = make_backend(opt.run.device, opt.run.threads, out, opt.run.cuda);
  const std::filesystem::path data = opt.data_dir.empty() ? default_data_dir() : opt.data_dir;
  DeviceSplit train_set = load_split(*backend, data, "train", opt.train_limit);
  DeviceSplit test_set = load_split(*backend, data, "t10k", opt.test_limit);
  if (opt.resume.empty()) config.input_dim = static_cast<int>(train_set.host.dim());
  if (train_set.host.dim() != config.input_dim || test_set.host.dim() != config.input_dim)
    throw Error(data.string() + ": images have " + std::to_string(train_set.host.dim()) + " (train) and " +
                std::to_string(test_set.host.dim()) + " (test) pixels, the model expects " +
                std::to_string(config.input_dim));

  ParamStore params;
  MlpVae model(config, params);
  params.allocate(*backend);
  if (opt.resume.empty())
    params.init_uniform(*backend, state.seed);
  else
    load_checkpoint(opt.resume, *backend, params);
  const std::int64_t batch = state.batch_size;
  model.allocate_workspace(*backend, std::max<std::int64_t>(batch, kGrid * kGrid));
  Buffer x(*backend, Shape{batch, config.input_dim});

  out << "cuvae: MLP VAE " << config.input_dim << "-" << hidden_to_string(config.hidden) << "-" << config.latent
      << " on " << backend->describe() << "; " << train_set.host.count << " train / " << test_set.host.count
      << " test images from " << data.string() << "; batch " << batch << ", lr " << state.adam.lr << ", "
      << opt.epochs << " epochs\n";

  TrainSummary summary{out_dir, ckpt_path, metrics_path, {}, state.step, 0};
  Progress progress(out, opt.progress);
  const int img_rows = train_set.host.rows, img_cols = train_set.host.cols;
  const std::int64_t n = train_set.host.count, nb = batch_count(n, batch);
  Buffer history(*backend, Shape{nb, 2});  // per-batch (recon, kl) sums of the epoch, on the device
  const RngKey step_key = rng_key(state.seed, RngPurpose::reparam, 0);  // + the step, on the device
  for (; state.epoch <= opt.epochs; ++state.epoch, state.batch_in_epoch = 0, state.epoch_loss_sum = 0) {
    const auto t0 = Clock::now();
    const std::int64_t first_batch = state.batch_in_epoch;
    backend->shuffle(n, shuffle_key(state.seed, state.epoch));
    backend->set_position(state.step + 1, first_batch);
    std::int64_t bi = first_batch;
    for (; bi < nb && !(opt.max_steps > 0 && state.step >= opt.max_steps); ++bi) {
      const std::int64_t b = std::min(batch, n - bi * batch);
      const Tensor xb = x.tensor().rows_view(0, b);
      backend->run_step(static_cast<std::uint64_t>(b), [&] {
        training_step(*backend, model, params, train_set.images, batch, xb, step_key, state.adam, history);
      });
      ++state.step;
      if (progress.due()) progress.update(state.epoch, opt.epochs, bi + 1, nb, read_row(*backend, history, bi, config.beta) / b);
    }
    // The host reads the epoch's losses once, here, in batch order (so the sum is the same on
    // every backend and after a resume).
    const std::int64_t done = bi - first_batch;
    std::vector<float> terms(static_cast<std::size_t>(2 * done));
    if (done > 0) backend->to_host(terms.data(), history.tensor().rows_view(first_batch, done));
    for (std::int64_t k = 0; k < done; ++k) {
      const double recon = terms[static_cast<std::size_t>(2 * k)], kl = terms[static_cast<std::size_t>(2 * k + 1)];
      const double loss = recon + config.beta * kl;
      state.epoch_loss_sum += loss;
      const std::int64_t step = state.step - done + k + 1, b = std::min(batch, n - (first_batch + k) * batch);
      if (opt.log_every > 0 && step % opt.log_every == 0)
        append_jsonl(metrics_path, {{"step", step}, {"epoch", state.epoch}, {"loss", loss / b}, {"recon", recon / b},
                                    {"kl", kl / b}});
    }
    state.batch_in_epoch = bi;
    progress.finish();
    summary.steps = state.step;
    if (state.batch_in_epoch < nb) {  // stopped by --max-steps inside the epoch
      save_checkpoint(ckpt_path, *backend, config, params, &state);
      out << "stopped after step " << state.step << " (--max-steps); checkpoint: " << ckpt_path.string() << "\n";
      return summary;
    }
    const double seconds = seconds_since(t0);
    const double train_loss = state.epoch_loss_sum / static_cast<double>(n);
    std::vector<float> recon;
    EvalResult ev = evaluate(*backend, model, test_set, batch,
                             rng_key(state.seed, RngPurpose::eval, static_cast<std::uint64_t>(state.epoch) << 24),
                             kGrid, &recon);
    // reconstruction_<epoch>.png: 8 test inputs above their 8 reconstructions.
    const std::int64_t shown = static_cast<std::int64_t>(recon.size()) / config.input_dim;
    std::vector<float> pair(test_set.host.images.begin(), test_set.host.images.begin() + shown * config.input_dim);
    pair.insert(pair.end(), recon.begin(), recon.end());
    const std::string e = std::to_string(state.epoch);
    write_png_grid(out_dir / ("reconstruction_" + e + ".png"), pair.data(), static_cast<int>(2 * shown), img_rows,
                   img_cols, static_cast<int>(shown));
    write_samples(*backend, model, out_dir / ("sample_" + e + ".png"), kGrid * kGrid,
                  rng_key(state.seed, RngPurpose::sample, static_cast<std::uint64_t>(state.epoch)), img_rows, img_cols);
    const double images_per_s = static_cast<double>(n - first_batch * batch) / seconds;
    char line[200];
    std::snprintf(line, sizeof line,
                  "epoch %lld: train loss %.4f | test -ELBO %.4f (recon %.4f, KL %.4f) | %.2f s, %.0f images/s\n",
                  (long long)state.epoch, train_loss, ev.elbo(), ev.recon, ev.kl, seconds, images_per_s);
    out << line << std::flush;
    append_jsonl(metrics_path, {{"epoch", state.epoch}, {"step", state.step}, {"train_loss", train_loss},
                                {"test_elbo", ev.elbo()}, {"test_recon", ev.recon}, {"test_kl", ev.kl},
                                {"seconds", seconds}, {"images_per_s", images_per_s},
                                {"device", backend->describe()}});
    // The state saved is the start of the next epoch.
    TrainState next = state;
    ++next.epoch, next.batch_in_epoch = 0, next.epoch_loss_sum = 0;
    save_checkpoint(ckpt_path, *backend, config, params, &next);
    summary.epochs.push_back(ev);
    summary.last_train_loss = train_loss;
  }
  out << "outputs in " << out_dir.string() << ": checkpoint.safetensors, metrics.jsonl, reconstruction_<epoch>.png, "
      << "sample_<epoch>.png\n";
  return summary;
}

namespace {
struct LoadedModel {
  std::unique_ptr<Backend> backend;
  Checkpoint ck;
  ParamStore params;
  std::unique_ptr<MlpVae> model;
};

void load_model(LoadedModel& m, const std::filesystem::path& checkpoint, const RunOptions& run, std::int64_t batch,
                std::ostream& out) {
  m.ck = read_checkpoint_header(checkpoint);
  m.backend = make_backend(run.device, run.threads, out, run.cuda);
  m.model = std::make_unique<MlpVae>(m.ck.config, m.params);
  m.params.allocate(*m.backend);
  load_checkpoint(checkpoint, *m.backend, m.params);
  m.model->allocate_workspace(*m.backend, batch);
}
}  // namespace

EvalResult evaluate_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& data_dir,
                               std::int64_t test_limit, std::uint64_t seed, const RunOptions& run, std::ostream& out) {
  LoadedModel m;
  const std::int64_t batch = 128;
  load_model(m, checkpoint, run, batch, out);
  const std::filesystem::path data = data_dir.empty() ? default_data_dir() : data_dir;
  DeviceSplit test = load_split(*m.backend, data, "t10k", test_limit);
  if (test.host.dim() != m.ck.config.input_dim)
    throw Error(data.string() + ": test images have " + std::to_string(test.host.dim()) + " pixels, " +
                checkpoint.string() + " expects " + std::to_string(m.ck.config.input_dim));
  return evaluate(*m.backend, *m.model, test, batch, rng_key(seed, RngPurpose::eval, 0), 0, nullptr);
}

void sample_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& png, int count,
                       std::uint64_t seed, const RunOptions& run, std::ostream& out) {
  if (count < 1 || count > 4096) throw Error("--count " + std::to_string(count) + ": must be in 1..4096");
  LoadedModel m;
  load_model(m, checkpoint, run, count, out);
  const int d = m.ck.config.input_dim;
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(d))));
  const bool square = side * side == d;
  write_samples(*m.backend, *m.model, png, count, rng_key(seed, RngPurpose::sample, 0), square ? side : 1,
                square ? side : d);
}

}  // namespace cuvae
