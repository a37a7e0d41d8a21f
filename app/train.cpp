// The training loop (see train.hpp). Model-agnostic; what it shares with the other programs is in
// session.hpp, the programs on a checkpoint in programs.cpp.
#include "app/train.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "app/cvae.hpp"  // cvae
#include "app/session.hpp"
#include "datasets/batches.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "host/metrics.hpp"
#include "host/plot.hpp"
#include "host/tensorboard.hpp"

namespace cuvae {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Progress: a bar redrawn in place on a terminal; nothing per step otherwise.
class Progress {
 public:
  Progress(std::ostream& out, bool enabled) : out_(out), tty_(enabled && ::isatty(STDOUT_FILENO)) {}
  // True at most ten times a second on a terminal: only then is the loss read from the device.
  bool due() const { return tty_ && seconds_since(last_) >= 0.1; }
  // `ran` batches of `batch` rows done since the epoch (or the resumed part of it) started at t0.
  void update(std::int64_t epoch, std::int64_t epochs, std::int64_t done, std::int64_t total, double loss,
              std::int64_t ran, std::int64_t batch, Clock::time_point t0) {
    last_ = Clock::now();
    const double elapsed = seconds_since(t0);
    const double rate = elapsed > 0 ? double(ran * batch) / elapsed : 0.0;
    const double left = ran > 0 ? elapsed / double(ran) * double(total - done) : 0.0;
    const std::string line = progress_line(epoch, epochs, done, total, loss, rate, left);
    width_ = std::max(width_, line.size());
    out_ << "\r" << line << std::flush;
  }
  void finish() {
    if (tty_) out_ << "\r" << std::string(width_, ' ') << "\r" << std::flush;
  }

 private:
  std::ostream& out_;
  bool tty_;
  std::size_t width_ = 0;
  Clock::time_point last_ = Clock::now() - std::chrono::seconds(1);
};

// The numeric fields of a metrics.jsonl record (all but its step and epoch) as TensorBoard scalars
// "<group>/<field>" at `step`.
void log_scalars(EventWriter& events, const std::string& group, std::int64_t step, const nlohmann::json& record) {
  for (const auto& [k, v] : record.items())
    if (v.is_number() && k != "step" && k != "epoch") events.scalar(group + "/" + k, step, v.get<double>());
}

// A PNG the run wrote, as a TensorBoard image summary.
void log_image(EventWriter& events, const std::string& tag, std::int64_t step, const std::filesystem::path& png) {
  const std::string bytes = read_file(png);
  const PngInfo im = png_info(png, bytes);
  events.image(tag, step, bytes, im.height, im.width, im.channels);
}

// loss_curves.png: the train loss and each test figure (not the accuracy) of every epoch in
// metrics.jsonl, so a resumed run's chart has the epochs before it too.
void write_loss_curves(const std::filesystem::path& dir, const std::filesystem::path& metrics) {
  std::vector<Series> series;
  for (const nlohmann::json& r : read_jsonl(metrics)) {
    if (!r.contains("train_loss") || !r.contains("epoch")) continue;
    for (const auto& [k, v] : r.items()) {
      if (!v.is_number() || !(k == "train_loss" || (k.starts_with("test_") && k != "test_accuracy"))) continue;
      auto it = std::find_if(series.begin(), series.end(), [&](const Series& s) { return s.name == k; });
      if (it == series.end()) it = series.insert(series.end(), Series{k, {}, {}});
      it->x.push_back(r["epoch"].get<double>());
      it->y.push_back(v.get<double>());
    }
  }
  if (!series.empty()) write_line_chart(dir / "loss_curves.png", series, "losses per image, by epoch", "epoch", "per image");
}

}  // namespace

std::string progress_line(std::int64_t epoch, std::int64_t epochs, std::int64_t done, std::int64_t total, double loss,
                          double images_per_s, double seconds_left) {
  const int width = 30, filled = static_cast<int>(width * done / std::max<std::int64_t>(total, 1));
  const long long left = std::llround(std::max(seconds_left, 0.0));
  char line[200];
  std::snprintf(line, sizeof line, "epoch %lld/%lld [%s%s] %lld/%lld loss %.2f | %.0f images/s | %lld:%02lld left",
                (long long)epoch, (long long)epochs, std::string(static_cast<std::size_t>(filled), '=').c_str(),
                std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), (long long)done, (long long)total, loss,
                images_per_s, left / 60, left % 60);
  return line;
}

std::filesystem::path default_out_dir(const std::string& prefix) {
  char stamp[32];
  std::time_t t = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  return std::filesystem::path("runs") / (prefix + stamp);
}

double EvalResult::at(const std::string& name) const {
  for (const auto& [k, v] : metrics)
    if (k == name) return v;
  throw Error("no test figure '" + name + "' for this model");
}

std::string describe(const EvalResult& r) {
  char line[256];
  for (const auto& [k, v] : r.metrics)
    if (k == "elbo") {
      std::snprintf(line, sizeof line, "test -ELBO %.4f (recon %.4f, KL %.4f) nats per image", v, r.at("recon"),
                    r.at("kl"));
      return line;
    }
  std::string s = "test";
  for (std::size_t i = 0; i < r.metrics.size(); ++i) {
    std::snprintf(line, sizeof line, "%s %s %.4f", i ? "," : "", r.metrics[i].first.c_str(), r.metrics[i].second);
    s += line;
  }
  return s;
}

void training_step(Backend& backend, Model& model, const Batch& data, std::int64_t batch_size, const Batch& batch,
                   std::uint64_t seed, const Tensor& history) {
  backend.update_step_scalars();
  // cvae: the images go where the model reads them (a column view of its input workspace, or batch.x)
  const Batch into{model.batch_input(batch.x), batch.labels};
  backend.gather_batch(data.x, batch_size, into.x);
  if (model.needs_labels()) backend.gather_batch(data.labels, batch_size, into.labels);
  model.train_step(backend, into, seed);
  const ParamStore& p = model.params();
  backend.adam_step(p.values(), p.grads(), p.adam_m(), p.adam_v());
  backend.record_terms(model.terms(), history);
  backend.advance_position();
}

namespace {

// The loss of one row of the epoch's history, with the KL weight of that step.
double row_loss(const Model& model, const std::vector<float>& row, const Schedule& schedule, std::int64_t step,
                std::int64_t epoch) {
  return model.loss(row, step_scalars(schedule, step, epoch));
}

// The first non-finite loss term of a step stops the run: nothing diverged is written.
void check_finite(const std::vector<float>& row, const std::vector<std::string>& names, std::int64_t step, double lr,
                  const std::filesystem::path& ckpt) {
  for (std::size_t t = 0; t < row.size(); ++t)
    if (!std::isfinite(row[t])) {
      std::error_code ec;
      char lr_text[32];
      std::snprintf(lr_text, sizeof lr_text, "%g", lr);
      throw Error("step " + std::to_string(step) + ": the " + names[t] + " term is " +
                  (std::isnan(row[t]) ? "NaN" : "Inf") + "; training diverged (try a lower --lr than " + lr_text +
                  (names[t] == "kl" ? ", or a smaller --beta" : "") + "); " +
                  (std::filesystem::exists(ckpt, ec) ? "the last good checkpoint " + ckpt.string() + " is kept"
                                                      : std::string("no checkpoint was written")));
    }
}

// Before a run writes into its folder: temporaries left by a killed run are removed, and
// metrics.jsonl keeps only the records up to the checkpoint's step (a run killed after logging
// and before its checkpoint was renamed logged records that the resumed run logs again).
void prepare_run_folder(const std::filesystem::path& dir, const std::filesystem::path& metrics, std::int64_t step,
                        std::ostream& out) {
  if (const int n = remove_stale_temporaries(dir))
    out << "cuvae: removed " << n << " temporary file" << (n > 1 ? "s" : "") << " left by an interrupted run in "
        << dir.string() << "\n";
  std::error_code ec;
  if (!std::filesystem::exists(metrics, ec)) return;
  std::vector<nlohmann::json> kept;
  std::size_t dropped = 0;
  for (nlohmann::json& r : read_jsonl(metrics)) {
    const auto it = r.find("step");
    if (step > 0 && it != r.end() && it->is_number_integer() && it->get<std::int64_t>() <= step)
      kept.push_back(std::move(r));
    else
      ++dropped;
  }
  if (dropped == 0) return;
  std::string text;
  for (const nlohmann::json& r : kept) text += r.dump() + "\n";
  write_file_atomic(metrics, text);
  out << "cuvae: " << metrics.string() << ": dropped " << dropped << " record" << (dropped > 1 ? "s" : "")
      << " logged after the checkpoint (step " << step << ")\n";
}

// reconstruction_<tag>.png: the first test inputs above their reconstructions.
void write_reconstructions(const std::filesystem::path& file, const DeviceSplit& test, const std::vector<float>& recon,
                           int dim) {
  const std::int64_t shown = static_cast<std::int64_t>(recon.size()) / dim;
  std::vector<float> pair(test.host.images.begin(), test.host.images.begin() + shown * dim);
  pair.insert(pair.end(), recon.begin(), recon.end());
  write_png_grid(file, pair.data(), static_cast<int>(2 * shown), test.host.shape(), static_cast<int>(shown));
}

// A closed-form model (PCA): fitted on the training split, evaluated, pictures and a checkpoint.
TrainSummary fit_closed_form(Backend& backend, Model& model, const DeviceSplit& train_set, const DeviceSplit& test_set,
                             const std::filesystem::path& out_dir, std::uint64_t seed, std::ostream& out) {
  const std::filesystem::path ckpt = out_dir / "checkpoint.safetensors", metrics = out_dir / "metrics.jsonl";
  const auto t0 = Clock::now();
  model.fit(backend, train_set.images);
  const double seconds = seconds_since(t0);
  std::vector<float> recon;
  EvalResult ev = evaluate(backend, model, test_set, model.max_batch(), rng_key(seed, RngPurpose::eval, 0), kGrid, &recon);
  write_reconstructions(out_dir / "reconstruction_1.png", test_set, recon, model.input_dim());
  write_samples(backend, model, out_dir / "sample_1.png", kGrid * kGrid, rng_key(seed, RngPurpose::sample, 1),
                train_set.host.shape());
  save_checkpoint(ckpt, backend, model, nullptr);
  nlohmann::json record{{"epoch", 1}, {"seconds", seconds}, {"device", backend.describe()}};
  for (const auto& [k, v] : ev.metrics) record["test_" + k] = v;
  append_jsonl(metrics, record);
  EventWriter events(out_dir, 0);
  log_scalars(events, "epoch", 0, record);
  log_image(events, "reconstruction", 0, out_dir / "reconstruction_1.png");
  log_image(events, "sample", 0, out_dir / "sample_1.png");
  events.flush();
  char line[64];
  std::snprintf(line, sizeof line, " | fitted in %.2f s\n", seconds);
  out << "pca: " << describe(ev) << line << "outputs in " << out_dir.string()
      << ": checkpoint.safetensors, metrics.jsonl, " << events.file().filename().string()
      << ", reconstruction_1.png, sample_1.png\n";
  return TrainSummary{out_dir, ckpt, metrics, {ev}, 0, 0};
}

}  // namespace

TrainSummary train(const TrainOptions& opt, std::ostream& out) {
  auto stopped = [&] { return opt.stop ? opt.stop->load() : 0; };
  if (opt.epochs < 1 || opt.epochs > kMaxEpochs)
    throw UsageError("--epochs " + std::to_string(opt.epochs) + ": must lie in 1.." + std::to_string(kMaxEpochs));
  if (opt.batch_size < 1 || opt.batch_size > kMaxBatch)
    throw UsageError("--batch-size " + std::to_string(opt.batch_size) + ": must lie in 1.." + std::to_string(kMaxBatch));
  if (!(opt.adam.lr > 0) || !std::isfinite(opt.adam.lr)) throw UsageError("--lr: must be a positive number");
  if (!(opt.adam.weight_decay >= 0 && opt.adam.weight_decay <= 1))
    throw UsageError("--weight-decay: must lie in [0, 1]");
  if (!(opt.adam.l2 >= 0) || !std::isfinite(opt.adam.l2)) throw UsageError("--l2: must be a non-negative number");
  if (!(opt.lr_decay > 0 && opt.lr_decay <= 1)) throw UsageError("--lr-decay: must lie in (0, 1]");
  if (opt.kl_warmup < 0) throw UsageError("--kl-warmup: must be a non-negative step count");

  // Config and state: from the checkpoint when resuming, else from the options.
  ModelConfig config = opt.model;
  TrainState state;
  state.seed = opt.seed, state.batch_size = opt.batch_size, state.adam = opt.adam, state.shuffle = kShuffleScheme;
  state.lr_decay = opt.lr_decay, state.kl_warmup = opt.kl_warmup;
  std::optional<CheckpointFile> resumed;  // read and checked once, loaded once the model exists
  if (!opt.resume.empty()) {
    resumed = read_checkpoint(opt.resume);
    const Checkpoint& ck = resumed->header;
    if (!ck.train) throw Error(opt.resume.string() + ": holds weights only, no training state to resume");
    const nlohmann::json have = to_json(ck.config), asked = to_json(opt.model);
    auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    for (const std::string& key : opt.model_fields_given)
      if (!have.contains(key))
        throw UsageError("--" + key + ": " + opt.resume.string() + " holds a " + ck.config.model + ", which has no " + key);
      else if (asked.at(key) != have.at(key))
        throw UsageError("--" + key + " " + text(asked.at(key)) + ": " + opt.resume.string() + " holds a " +
                         ck.config.model + (key == "model" ? std::string(" model") : " with " + key + " " + text(have.at(key))) +
                         " (a resumed run keeps its model: leave the flag out)");
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
    throw UsageError("--out " + out_dir.string() + ": already holds a checkpoint; pass --resume " + ckpt_path.string() +
                " to continue it, or choose another --out");

  auto backend = make_run_backend(opt.run, out);
  const std::filesystem::path data = data_path(opt.data);
  DataOptions data_opt = opt.data;
  if (!opt.resume.empty()) data_opt.expect = input_image(config);  // the resumed model's image size and channels
  DeviceSplit train_set = load_split(*backend, data_opt, Split::train, opt.train_limit, out);
  DeviceSplit test_set = load_split(*backend, data_opt, Split::test, opt.test_limit, out);
  if (opt.resume.empty()) config.input_dim = static_cast<int>(train_set.host.dim()), config.image = train_set.host.shape();
  require_labels(train_set.host, config, data, "training");
  if (opt.resume.empty() && has_classes(config) && config.classes == 0) {  // no --classes: from the training labels
    int top = 0;
    for (std::uint8_t l : train_set.host.labels) top = std::max(top, int(l));
    if (top < 1)
      throw Error(data.string() + ": the training labels are all 0; a " + config.model + " needs 2 classes or more");  // cvae
    config.classes = top + 1;
  }
  if (train_set.host.dim() != config.input_dim || test_set.host.dim() != config.input_dim)
    throw Error(data.string() + ": images have " + std::to_string(train_set.host.dim()) + " (train) and " +
                std::to_string(test_set.host.dim()) + " (test) pixels, the model expects " +
                std::to_string(config.input_dim));
  try {
    validate(config, "--model " + config.model);
  } catch (const Error& e) {
    if (opt.resume.empty()) throw UsageError(e.what());  // the flags' config (a checkpoint's was checked on reading)
    throw;
  }
  const std::int64_t batch = state.batch_size, n = train_set.host.count, nb = batch_count(n, batch);
  if (state.batch_in_epoch >= nb && state.batch_in_epoch > 0)
    throw Error(opt.resume.string() + ": stopped after batch " + std::to_string(state.batch_in_epoch) + " of epoch " +
                std::to_string(state.epoch) + ", but an epoch of these " + std::to_string(n) + " images has " +
                std::to_string(nb) + " batches of " + std::to_string(batch) + " (resume with the run's own data and --train-limit)");
  if (has_classes(config)) {
    try {
      check_labels(train_set, config, data, "train"), check_labels(test_set, config, data, "test");
    } catch (const Error& e) {  // --classes too small for the data is the flag's fault
      if (opt.resume.empty() && opt.model.classes > 0)
        throw UsageError("--classes " + std::to_string(config.classes) + ": " + e.what());
      throw;
    }
  }
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error("--out " + out_dir.string() + ": cannot create: " + ec.message());
  prepare_run_folder(out_dir, metrics_path, state.step, out);

  std::unique_ptr<Model> model = make_model(config);
  // The workspace holds a batch, never more rows than a split has (and the sample grid's).
  const std::int64_t rows = std::min(batch, std::max(n, test_set.host.count));
  allocate_model(*backend, *model, std::max<std::int64_t>(rows, kGrid * kGrid));
  out << "cuvae: " << config.model << " " << sizes_text(config) << " on " << backend->describe() << "; " << train_set.host.count << " train / "
      << test_set.host.count << " test images from " << data.string();
  if (!model->trained_by_gradient()) {
    out << "\n";
    return fit_closed_form(*backend, *model, train_set, test_set, out_dir, state.seed, out);
  }
  out << "; batch " << batch << ", lr " << state.adam.lr << ", " << opt.epochs << " epochs" << std::endl;
  if (opt.resume.empty()) {
    model->params().init_uniform(*backend, state.seed);
  } else {
    load_checkpoint(opt.resume, *resumed, *backend, *model);
    resumed.reset();  // the host copy of the tensors is not needed past this
  }
  Buffer x(*backend, Shape{std::min(batch, n), config.input_dim}), y(*backend, Shape{std::min(batch, n), 1}, DType::i32);
  const Schedule schedule = schedule_of(state, config);
  backend->set_schedule(schedule);

  TrainSummary summary{out_dir, ckpt_path, metrics_path, {}, state.step, 0};
  Progress progress(out, opt.progress);
  EventWriter events(out_dir, state.step);  // TensorBoard: what metrics.jsonl and the pictures hold
  const std::vector<std::string> names = model->term_names();
  const std::size_t T = names.size();
  Buffer history(*backend, Shape{nb, static_cast<std::int64_t>(T)});  // the epoch's loss terms per batch, on the device
  std::vector<float> row(T);
  for (; state.epoch <= opt.epochs; ++state.epoch, state.batch_in_epoch = 0, state.epoch_loss_sum = 0) {
    const auto t0 = Clock::now();
    const std::int64_t first_batch = state.batch_in_epoch;
    backend->shuffle(n, shuffle_key(state.seed, state.epoch));
    backend->set_position(state.step + 1, first_batch, state.epoch);
    std::int64_t bi = first_batch;
    for (; bi < nb && !(opt.max_steps > 0 && state.step >= opt.max_steps) && !stopped(); ++bi) {
      const std::int64_t b = std::min(batch, n - bi * batch);
      const Batch xb{x.tensor().rows_view(0, b), y.tensor().rows_view(0, b)};
      backend->run_step(static_cast<std::uint64_t>(b),
                        [&] { training_step(*backend, *model, train_set.all(), batch, xb, state.seed, history); });
      ++state.step;
      if (progress.due()) {
        backend->to_host(row.data(), history.tensor().rows_view(bi, 1));
        check_finite(row, names, state.step, state.adam.lr, ckpt_path);
        progress.update(state.epoch, opt.epochs, bi + 1, nb, row_loss(*model, row, schedule, state.step, state.epoch) / b,
                        bi + 1 - first_batch, batch, t0);
      }
    }
    // The host reads the epoch's losses once, here, in batch order (so the sum is the same on
    // every backend and after a resume).
    const std::int64_t done = bi - first_batch;
    std::vector<float> terms(static_cast<std::size_t>(done) * T);
    if (done > 0) backend->to_host(terms.data(), history.tensor().rows_view(first_batch, done));
    for (std::int64_t k = 0; k < done; ++k) {
      std::copy_n(terms.begin() + k * static_cast<std::ptrdiff_t>(T), T, row.begin());
      const std::int64_t step = state.step - done + k + 1, b = std::min(batch, n - (first_batch + k) * batch);
      check_finite(row, names, step, state.adam.lr, ckpt_path);
      const double loss = row_loss(*model, row, schedule, step, state.epoch);
      state.epoch_loss_sum += loss;
      if (opt.log_every > 0 && step % opt.log_every == 0) {
        nlohmann::json record{{"step", step}, {"epoch", state.epoch}, {"loss", loss / b}};
        for (std::size_t t = 0; t < T; ++t) record[names[t]] = row[t] / b;
        append_jsonl(metrics_path, record);
        log_scalars(events, "step", step, record);
      }
    }
    state.batch_in_epoch = bi;
    progress.finish();
    summary.steps = state.step;
    if (state.batch_in_epoch < nb) {  // stopped by --max-steps or a signal inside the epoch
      events.flush();
      save_checkpoint(ckpt_path, *backend, *model, &state);
      summary.interrupted = stopped();
      if (summary.interrupted)
        out << "interrupted by " << (summary.interrupted == SIGTERM ? "SIGTERM" : "SIGINT") << " after step "
            << state.step << "; checkpoint: " << ckpt_path.string() << " (continue with --resume "
            << ckpt_path.string() << ")\n";
      else
        out << "stopped after step " << state.step << " (--max-steps); checkpoint: " << ckpt_path.string() << "\n";
      return summary;
    }
    const double seconds = seconds_since(t0);
    const double train_loss = state.epoch_loss_sum / static_cast<double>(n);
    std::vector<float> recon;
    EvalResult ev = evaluate(*backend, *model, test_set, batch,
                             rng_key(state.seed, RngPurpose::eval, static_cast<std::uint64_t>(state.epoch) << 24),
                             model->generates() ? kGrid : 0, &recon);
    const std::string e = std::to_string(state.epoch);
    if (model->generates()) {  // a classifier has no reconstructions or samples to show
      write_reconstructions(out_dir / ("reconstruction_" + e + ".png"), test_set, recon, config.input_dim);
      const RngKey sample_key = rng_key(state.seed, RngPurpose::sample, static_cast<std::uint64_t>(state.epoch));
      if (model->conditional())  // cvae: the per-class grid, one row of 8 per class
        write_conditional_samples(*backend, *model, out_dir / ("sample_" + e + ".png"),
                                  class_grid_labels(config.classes, kGrid), sample_key, input_image(config));
      else
        write_samples(*backend, *model, out_dir / ("sample_" + e + ".png"), kGrid * kGrid, sample_key,
                      input_image(config));
      log_image(events, "reconstruction", state.step, out_dir / ("reconstruction_" + e + ".png"));
      log_image(events, "sample", state.step, out_dir / ("sample_" + e + ".png"));
    }
    const double images_per_s = static_cast<double>(n - first_batch * batch) / seconds;
    char line[100], tail[100];
    std::snprintf(line, sizeof line, "epoch %lld: train loss %.4f | ", (long long)state.epoch, train_loss);
    std::snprintf(tail, sizeof tail, " | %.2f s, %.0f images/s\n", seconds, images_per_s);
    out << line << describe(ev) << tail << std::flush;
    nlohmann::json record{{"epoch", state.epoch}, {"step", state.step}, {"train_loss", train_loss}};
    for (const auto& [k, v] : ev.metrics) record["test_" + k] = v;
    record["seconds"] = seconds, record["images_per_s"] = images_per_s, record["device"] = backend->describe();
    append_jsonl(metrics_path, record);
    log_scalars(events, "epoch", state.step, record);
    events.flush();
    write_loss_curves(out_dir, metrics_path);
    // The state saved is the start of the next epoch.
    TrainState next = state;
    ++next.epoch, next.batch_in_epoch = 0, next.epoch_loss_sum = 0;
    save_checkpoint(ckpt_path, *backend, *model, &next);
    summary.epochs.push_back(ev);
    summary.last_train_loss = train_loss;
  }
  out << "outputs in " << out_dir.string() << ": checkpoint.safetensors, metrics.jsonl, " << events.file().filename().string()
      << ", loss_curves.png" << (model->generates() ? ", reconstruction_<epoch>.png, sample_<epoch>.png" : "") << "\n";
  return summary;
}

}  // namespace cuvae
