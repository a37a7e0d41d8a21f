// The `cuvae` program end to end on a small generated IDX data set: exit codes, the one-line
// errors, the files written, PNGs that decode with the right size, eval and sample.
#include <gmock/gmock.h>

#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "datasets/idx.hpp"
#include "datasets/npy.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "host/metrics.hpp"
#include "models/checkpoint.hpp"
#include "cli_support.hpp"
#include "support.hpp"

#include <nlohmann/json.hpp>

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using test::Result;
using test::write_bar_split;

fs::path work_dir() { return test::cli_work_dir(); }
Result run(const std::string& args) { return test::run_cuvae(args); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(work_dir());
    fs::create_directories(work_dir() / "data");
    write_bar_split(work_dir() / "data", "train", 300);
    write_bar_split(work_dir() / "data", "t10k", 100);
  }
  std::string data() const { return "--data " + (work_dir() / "data").string(); }
  std::string fresh_out(const std::string& name) const {
    fs::remove_all(work_dir() / name);
    return (work_dir() / name).string();
  }
};

TEST_F(Cli, TrainEvalSampleWriteWhatTheySay) {
  const std::string out = fresh_out("run");
  Result r = run("train " + data() + " --out " + out + " --epochs 2 --batch-size 64 --hidden 32 --latent 4 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 2: train loss"));
  EXPECT_THAT(r.out, HasSubstr("outputs in " + out));
  auto records = read_jsonl(fs::path(out) / "metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["epoch"], 2);
  EXPECT_EQ(records[1]["step"], 10);  // ceil(300 / 64) = 5 steps per epoch
  const double elbo = records[1]["test_elbo"].get<double>();
  EXPECT_TRUE(std::isfinite(elbo) && elbo > 0 && elbo < 64 * std::log(2.0)) << elbo;  // better than a coin per pixel
  // 8 inputs above 8 reconstructions, 8x8 pixels, padding 2: 8*10+2 by 2*10+2.
  PngImage rec = read_png_gray(fs::path(out) / "reconstruction_2.png");
  EXPECT_EQ(rec.width, 82);
  EXPECT_EQ(rec.height, 22);
  PngImage smp = read_png_gray(fs::path(out) / "sample_1.png");
  EXPECT_EQ(smp.width, 82);
  EXPECT_EQ(smp.height, 82);

  const std::string ckpt = out + "/checkpoint.safetensors";
  r = run("eval " + ckpt + " " + data() + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("test -ELBO"));
  EXPECT_THAT(r.out, HasSubstr("over 100 images"));

  const std::string png = out + "/ten.png";
  r = run("sample " + ckpt + " --count 10 --out " + png + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  PngImage ten = read_png_gray(png);
  EXPECT_EQ(ten.width, 82);   // 8 per row
  EXPECT_EQ(ten.height, 22);  // 2 rows

  // Training again into the same folder would overwrite the checkpoint: refused.
  r = run("train " + data() + " --out " + out + " --epochs 1 --device cpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("already holds a checkpoint; pass --resume"));
  // Resuming continues to the new epoch count, in the same folder.
  r = run("train " + data() + " --resume " + ckpt + " --epochs 3 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 3: train loss"));
  EXPECT_EQ(read_jsonl(fs::path(out) / "metrics.jsonl").size(), 3u);
}

TEST_F(Cli, BadCommandLinesExitTwoWithTheUsage) {
  Result r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err + r.out, HasSubstr("subcommand"));
  r = run("train --bogus 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));
  r = run("train --epochs 0");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--epochs"));
  r = run("train --device tpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("tpu"));
  r = run("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--batch-size"));
}

TEST_F(Cli, BadInputGetsOneLineNamingIt) {
  auto one_line = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') == 1; };
  Result r = run("train --hidden 400,x --device cpu " + data() + " --out " + fresh_out("h"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--hidden '400,x'"));
  EXPECT_TRUE(one_line(r.err)) << r.err;

  const std::string missing = (work_dir() / "no-such-dir").string();
  r = run("train --device cpu --data " + missing + " --out " + fresh_out("m"));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(missing));
  EXPECT_TRUE(one_line(r.err)) << r.err;

  const fs::path bad = work_dir() / "bad.safetensors";
  write_file_atomic(bad, std::string("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": [1, 2,", 19));
  r = run("eval " + bad.string() + " " + data() + " --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad.string()));
  EXPECT_TRUE(one_line(r.err)) << r.err;
  r = run("train --resume " + bad.string() + " " + data() + " --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad.string()));
}

// Every model trains from the command line and its checkpoint encodes, decodes, reconstructs and
// samples, on the CPU and on the CUDA backend's kernels (--device simt, the SIMT runtime); the
// outputs have the shapes they say and the two devices agree.
TEST_F(Cli, EveryModelTrainsEncodesDecodesAndSamplesOnEveryDevice) {
  const fs::path x = work_dir() / "x.npy";
  std::vector<float> images(5 * 64);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i * 37) % 101) / 100.f;
  const std::int64_t shape[2] = {5, 64};
  write_npy(x, images.data(), shape);
  for (const std::string model : {"pca", "ae", "linear-ae", "dae", "vae"}) {
    std::map<std::string, std::vector<float>> codes, figures;
    for (const std::string device : {"cpu", "simt"}) {
      SCOPED_TRACE(model + " on " + device);
      const std::string out = fresh_out("m-" + model + "-" + device), dev = " --device " + device;
      Result r = run("train --model " + model + " " + data() + " --out " + out +
                     " --epochs 1 --batch-size 64 --hidden 16 --latent 3 --threads 1" + dev);
      ASSERT_EQ(r.code, 0) << r.out << r.err;
      // (The records in a variable: the range of items() would outlive a temporary vector.)
      const std::vector<nlohmann::json> records = read_jsonl(fs::path(out) / "metrics.jsonl");
      for (const auto& [k, v] : records.back().items())
        if (k.starts_with("test_")) figures[device].push_back(v.get<float>());
      const std::string ckpt = out + "/checkpoint.safetensors";
      r = run("eval " + ckpt + " " + data() + dev);
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_THAT(r.out, HasSubstr(model == "vae" ? "test -ELBO" : model == "pca" ? "test sq_error" : "test recon"));
      r = run("encode " + ckpt + " --input " + x.string() + " --out " + out + "/z.npy" + dev);
      ASSERT_EQ(r.code, 0) << r.err;
      NpyMatrix z = read_npy_matrix(out + "/z.npy");
      EXPECT_EQ(z.rows, 5);
      EXPECT_EQ(z.cols, 3);
      codes[device] = z.data;
      r = run("decode " + ckpt + " --input " + out + "/z.npy --out " + out + "/d.npy" + dev);
      ASSERT_EQ(r.code, 0) << r.err;
      r = run("reconstruct " + ckpt + " --input " + x.string() + " --out " + out + "/r.npy" + dev);
      ASSERT_EQ(r.code, 0) << r.err;
      // reconstruct is decode(encode(x)), the same numbers either way.
      EXPECT_EQ(read_npy_matrix(out + "/d.npy").data, read_npy_matrix(out + "/r.npy").data);
      r = run("sample " + ckpt + " --count 7 --out " + out + "/s.npy" + dev);
      ASSERT_EQ(r.code, 0) << r.err;
      NpyMatrix smp = read_npy_matrix(out + "/s.npy");
      EXPECT_EQ(smp.rows, 7);
      EXPECT_EQ(smp.cols, 64);
      r = run("encode " + ckpt + " " + data() + " --split test --out " + out + "/zt.npy" + dev);
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_EQ(read_npy_matrix(out + "/zt.npy").rows, 100);
    }
    SCOPED_TRACE(model);
    EXPECT_TRUE(test::all_close(figures["simt"], figures["cpu"], 1e-4, "test figures, simt vs cpu"));
    EXPECT_TRUE(test::all_close(codes["simt"], codes["cpu"], 1e-3, "codes, simt vs cpu"));
  }
}

TEST_F(Cli, ComparePcaAeWritesTheTable) {
  const std::string out = fresh_out("cmp");
  Result r = run("compare pca-ae " + data() + " --out " + out + " --latent 4 --epochs 2 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Is a linear autoencoder PCA? K = 4"));
  const nlohmann::json j = nlohmann::json::parse(read_file(fs::path(out) / "compare.json"));
  const auto angles = j.at("principal_angles_deg").get<std::vector<double>>();
  ASSERT_EQ(angles.size(), 4u);
  for (std::size_t i = 0; i < angles.size(); ++i) {
    EXPECT_TRUE(angles[i] >= 0 && angles[i] <= 90) << angles[i];
    if (i) {
      EXPECT_GE(angles[i], angles[i - 1]);
    }
  }
  for (double c : j.at("singular_vector_abs_cos").get<std::vector<double>>()) EXPECT_TRUE(c >= 0 && c <= 1 + 1e-9) << c;
  // PCA reaches the Eckart-Young bound on the training split; on the test split it is close.
  EXPECT_GT(j.at("eckart_young_bound").get<double>(), 0);
  EXPECT_LT(j.at("pca_test_sq_error").get<double>(), 2 * j.at("eckart_young_bound").get<double>());
  PngImage png = read_png_gray(fs::path(out) / "components.png");
  EXPECT_EQ(png.width, 4 * 10 + 2);   // K images of 8x8 with padding 2 per row
  EXPECT_EQ(png.height, 3 * 10 + 2);  // components, decoder columns, left singular vectors
}

TEST_F(Cli, BadModelFlagsAndArraysGetOneLineNamingThem) {
  auto expect_error = [&](const std::string& args, const std::string& text, int code = 2) {
    Result r = run(args);
    EXPECT_EQ(r.code, code) << args;
    EXPECT_EQ(r.err, "cuvae: error: " + text + "\n") << args;
  };
  const std::string base = "train " + data() + " --device cpu --epochs 1 --out ";
  expect_error(base + fresh_out("b1") + " --model gan",
               "--model 'gan': unknown model (want one of pca, ae, linear-ae, dae, vae, classifier, cvae)");
  expect_error(base + fresh_out("b2") + " --model dae --noise blur:3",
               "--noise 'blur:3': unknown kind 'blur' (want mask:P, gaussian:S or saltpepper:P, e.g. mask:0.25, or none)");
  expect_error(base + fresh_out("b3") + " --model dae --noise mask:1.5",
               "--noise 'mask:1.5': probability must lie in (0, 1] (want mask:P, gaussian:S or saltpepper:P, e.g. mask:0.25, or none)");
  expect_error(base + fresh_out("b4") + " --model ae --likelihood gaussian --sigma 0",
               "--sigma: want a number in (0, inf), got '0'");
  expect_error(base + fresh_out("b5") + " --model pca --latent 65", "--model pca: --latent 65 must lie in 1..64 (the input size)");
  expect_error(base + fresh_out("b6") + " --model ae --noise mask:0.2", "--model ae: --noise is for --model dae");

  // A checkpoint, and arrays that do not fit it.
  const std::string out = fresh_out("b-ckpt");
  ASSERT_EQ(run("train --model ae " + data() + " --out " + out + " --epochs 1 --hidden 8 --latent 3 --device cpu").code, 0);
  const std::string ckpt = out + "/checkpoint.safetensors";
  const fs::path wide = work_dir() / "wide.npy";
  std::vector<float> v(2 * 65, 0.5f);
  const std::int64_t shape[2] = {2, 65};
  write_npy(wide, v.data(), shape);
  expect_error("encode " + ckpt + " --input " + wide.string() + " --out " + out + "/z.npy --device cpu",
               wide.string() + ": rows of 65 values, but " + ckpt + " (ae) takes images of 64", 1);
  expect_error("decode " + ckpt + " --input " + wide.string() + " --out " + out + "/z.npy --device cpu",
               wide.string() + ": rows of 65 values, but " + ckpt + " (ae) decodes codes of 3", 1);
  const fs::path f64 = work_dir() / "f64.npy";
  std::string bytes("\x93NUMPY\x01\x00", 8);
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 64), }";
  header.resize(117, ' ');
  header += '\n';
  bytes += std::string(1, static_cast<char>(header.size() & 0xff)) + std::string(1, static_cast<char>(header.size() >> 8));
  bytes += header + std::string(64 * 8, '\0');
  write_file_atomic(f64, bytes);
  Result r = run("reconstruct " + ckpt + " --input " + f64.string() + " --out " + out + "/r.npy --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(f64.string() + ": dtype '<f8'"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Resuming the ae's checkpoint as another model is refused.
  expect_error("train " + data() + " --resume " + ckpt + " --model vae --epochs 2 --device cpu",
               "--model vae: " + ckpt + " holds a ae model (a resumed run keeps its model: leave the flag out)");
  expect_error("train " + data() + " --resume " + ckpt + " --latent 4 --epochs 2 --device cpu",
               "--latent 4: " + ckpt + " holds a ae with latent 3 (a resumed run keeps its model: leave the flag out)");
  // The checkpoint's own value is no conflict (an unset --hidden is not compared).
  r = run("train " + data() + " --resume " + ckpt + " --latent 3 --model ae --epochs 2 --device cpu");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 2: train loss"));
}

// IWAE: `eval --iwae K` prints the bound line (a vae's, a cvae's); bad K and a model without a posterior are
// one-line errors.
TEST_F(Cli, EvalIwaePrintsTheBoundAndRefusesBadK) {
  auto one_line = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') == 1; };
  const std::string out = fresh_out("vae");
  Result r = run("train " + data() + " --out " + out + " --epochs 2 --batch-size 64 --hidden 32 --latent 4 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string ckpt = out + "/checkpoint.safetensors";
  r = run("eval " + ckpt + " " + data() + " --iwae 64 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::MatchesRegex("test log p\\(x\\) >= -[0-9]+\\.[0-9][0-9] \\(IWAE, K=64\\), -[0-9]+\\.[0-9][0-9] "
                                             "\\(ELBO, K=1\\) nats per image over 100 images; active units [0-4] of 4\n"));
  double iwae = 0, elbo = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "test log p(x) >= %lf (IWAE, K=64), %lf", &iwae, &elbo), 2) << r.out;
  EXPECT_GE(iwae, elbo);
  EXPECT_LT(-iwae, 64 * std::log(2.0));  // better than a coin per pixel
  Result again = run("eval " + ckpt + " " + data() + " --iwae 64 --device cpu --threads 2");
  EXPECT_EQ(again.out, r.out);  // the same figures on another thread count

  for (const char* k : {"0", "5001"}) {
    r = run("eval " + ckpt + " " + data() + " --iwae " + k + " --device cpu");
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, std::string("cuvae: error: --iwae: want an integer in 1..5000, got '") + k + "'\n");
  }
  // A cvae: the bound on log p(x | y) with the test labels.
  const std::string cvae = fresh_out("cvae");
  r = run("train --model cvae " + data() + " --out " + cvae + " --epochs 2 --batch-size 64 --hidden 32 --latent 4 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("eval " + cvae + "/checkpoint.safetensors " + data() + " --iwae 32 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  double cond = 0, cond_elbo = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "test log p(x) >= %lf (IWAE, K=32), %lf", &cond, &cond_elbo), 2) << r.out;
  EXPECT_GE(cond, cond_elbo);
  EXPECT_LT(-cond, 64 * std::log(2.0));

  const std::string ae = fresh_out("ae");
  r = run("train --model ae " + data() + " --out " + ae + " --epochs 1 --hidden 16 --latent 4 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("eval " + ae + "/checkpoint.safetensors " + data() + " --iwae 8 --device cpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "cuvae: error: eval --iwae: " + ae +
                       "/checkpoint.safetensors holds model ae, which has no posterior q(z|x); the importance-weighted "
                       "bound needs a vae or a cvae\n");
  EXPECT_TRUE(one_line(r.err)) << r.err;
}

// softmax cross-entropy: `--model classifier` on the bar data (the label is the bar's position,
// 8 classes): it learns them, eval prints xent and accuracy, encode gives its features, and the
// commands that need a decoder fail with one line.
TEST_F(Cli, ClassifierTrainsEvaluatesAndHasNoDecoder) {
  const std::string out = fresh_out("cls"), ckpt = out + "/checkpoint.safetensors";
  Result r = run("train --model classifier " + data() + " --out " + out +
                 " --epochs 4 --batch-size 32 --hidden 32 --lr 0.01 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("cuvae: classifier 64-32-8 on cpu"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("outputs in " + out + ": checkpoint.safetensors, metrics.jsonl, events.out.tfevents.[0-9]+.cuvae.[0-9]+, loss_curves.png\n"));
  const auto records = read_jsonl(fs::path(out) / "metrics.jsonl");
  ASSERT_EQ(records.size(), 4u);
  const double acc = records.back()["test_accuracy"].get<double>(), xent = records.back()["test_xent"].get<double>();
  EXPECT_GT(acc, 0.9) << "chance is 0.125";
  EXPECT_LE(acc, 1.0);
  EXPECT_TRUE(xent > 0 && xent < std::log(8.0)) << xent;
  EXPECT_LT(records.back()["train_loss"].get<double>(), records.front()["train_loss"].get<double>());
  EXPECT_FALSE(fs::exists(fs::path(out) / "reconstruction_1.png"));
  EXPECT_FALSE(fs::exists(fs::path(out) / "sample_1.png"));
  EXPECT_EQ(read_checkpoint_header(ckpt).config.classes, 8);  // from the labels: max + 1

  // eval: the same figures as the run's last epoch, on the CPU and on the SIMT kernels.
  for (const char* device : {"cpu", "simt"}) {
    r = run("eval " + ckpt + " " + data() + " --device " + device);
    ASSERT_EQ(r.code, 0) << r.err;
    char want[96];
    std::snprintf(want, sizeof want, "test xent %.4f, accuracy %.4f", xent, acc);
    EXPECT_THAT(r.out, HasSubstr(want)) << device;
    EXPECT_THAT(r.out, HasSubstr("over 100 images"));
  }
  // encode: the features of the last hidden layer.
  r = run("encode " + ckpt + " " + data() + " --split test --out " + out + "/f.npy --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  const NpyMatrix f = read_npy_matrix(out + "/f.npy");
  EXPECT_EQ(f.rows, 100);
  EXPECT_EQ(f.cols, 32);
  for (float v : f.data) ASSERT_GE(v, 0.f);  // ReLU activations
  // No decoder: sample, decode and reconstruct fail with one line, exit 1.
  const std::string npy = " --input " + out + "/f.npy --out " + out + "/o.npy --device cpu";
  for (const std::string& args : {"sample " + ckpt + " --device cpu", "decode " + ckpt + npy, "reconstruct " + ckpt + npy}) {
    r = run(args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_EQ(r.err, "cuvae: error: a classifier has no decoder\n") << args;
  }
  EXPECT_FALSE(fs::exists(out + "/o.npy"));
}

TEST_F(Cli, ClassifierFlagsGetOneLineNamingThem) {
  auto expect_error = [&](const std::string& args, const std::string& text) {
    Result r = run(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err, "cuvae: error: " + text + "\n") << args;
  };
  const std::string base = "train --model classifier " + data() + " --device cpu --epochs 1 --out ";
  const std::string dir = (work_dir() / "data").string();
  expect_error(base + fresh_out("c1") + " --classes 5",
               "--classes 5: " + dir + ": train label 5 (image 5) is outside the classifier's 5 classes");
  expect_error(base + fresh_out("c2") + " --classes 1", "--classes: want an integer in 2..65536, got '1'");
  expect_error(base + fresh_out("c3") + " --latent 4",
               "--latent is not for a classifier: its features are its last hidden layer (--hidden)");
  expect_error(base + fresh_out("c4") + " --hidden none",
               "--model classifier: a classifier needs a hidden layer (its features), not --hidden none");
  expect_error("train " + data() + " --device cpu --epochs 1 --classes 10 --out " + fresh_out("c5"),
               "--model vae: --classes is for --model classifier or cvae");
  // More classes than the labels use is allowed (a class with no image).
  Result r = run(base + fresh_out("c6") + " --classes 10 --hidden 8 --threads 1");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("classifier 64-8-10"));
}

}  // namespace
}  // namespace cuvae
