// `--arch conv` from the command line: a conv vae, ae and classifier trained on small images on the
// CPU and the CUDA backend's kernels (SIMT), their checkpoints' config and 4-D weights, eval and
// sample on them, and the errors of sizes and flags the architecture cannot take; --arch conv64.
#include <gmock/gmock.h>

#include <algorithm>
#include <filesystem>

#include "datasets/npy.hpp"
#include "host/safetensors.hpp"
#include "models/checkpoint.hpp"
#include "cli_support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ConvCli : public test::BarDataCase {
 protected:
  ConvCli() : BarDataCase(200, 40) {}
};

TEST_F(ConvCli, ModelsTrainEvalAndSampleOnCpuAndSimt) {
  for (const char* device : {"cpu", "simt"}) {
    SCOPED_TRACE(device);
    const std::string run = (work_dir() / (std::string("vae_") + device)).string();
    const test::Result t = test::run_cuvae("train --arch conv --latent 4 --epochs 1 " + data() + " --out " + run +
                                           " --device " + device + " --threads 2 --no-progress");
    ASSERT_EQ(t.code, 0) << t.out << t.err;
    EXPECT_THAT(t.out, HasSubstr("vae conv 1x8x8-256-4"));
    const std::string ck = run + "/checkpoint.safetensors";
    const Checkpoint c = read_checkpoint_header(ck);
    EXPECT_EQ(c.config.arch, "conv");
    EXPECT_TRUE(c.config.hidden.empty());
    const SafetensorsFile f = read_safetensors(ck);
    EXPECT_EQ(f.at("encoder.0.weight").shape, (std::vector<std::int64_t>{32, 1, 4, 4}));   // Conv2d [out, in, kh, kw]
    EXPECT_EQ(f.at("encoder.5.weight").shape, (std::vector<std::int64_t>{256, 64 * 2 * 2}));
    EXPECT_EQ(f.at("decoder.5.weight").shape, (std::vector<std::int64_t>{64, 32, 4, 4}));  // ConvTranspose2d [in, out, kh, kw]
    EXPECT_EQ(f.at("decoder.7.weight").shape, (std::vector<std::int64_t>{32, 1, 4, 4}));
    const test::Result e = test::run_cuvae("eval " + ck + " " + data() + " --device " + device);
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_THAT(e.out, HasSubstr("over 40 images"));
    const test::Result s = test::run_cuvae("sample " + ck + " --count 16 --out " + run + "/s.png --device " + device);
    ASSERT_EQ(s.code, 0) << s.err;
  }
  train("ae", "--model ae --arch conv --latent 3 --epochs 1");
  const std::string cv = train("cvae", "--model cvae --arch conv --latent 3 --epochs 1");
  const test::Result cs = test::run_cuvae("sample " + cv + " --label all --out " + (work_dir() / "cvae.png").string());
  ASSERT_EQ(cs.code, 0) << cs.err;
  EXPECT_THAT(cs.out, HasSubstr("wrote 64 samples"));
  const test::Result c = test::run_cuvae("train --model classifier --arch conv --epochs 1 " + data() + " --out " +
                                         (work_dir() / "cls").string() + " --device cpu --threads 1 --no-progress");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("classifier conv 1x8x8-256-8"));
}

// conv64 (BatchNorm2d + LeakyReLU blocks) on make-shapes' 32x32 colour images: a vae on both
// backends, its running statistics in the checkpoint (moved by training), eval and sample from
// them; a cvae and a classifier on the CPU.
TEST_F(ConvCli, Conv64ModelsTrainOnCpuAndSimt) {
  const std::string shapes = (work_dir() / "shapes").string();
  const test::Result m = test::run_cuvae("make-shapes --out " + shapes + " --count 40 --size 32 --seed 3");
  ASSERT_EQ(m.code, 0) << m.err;
  const std::string data = "--data " + shapes + " --cache none --test-fraction 0.2 --channels 3";
  for (const char* device : {"cpu", "simt"}) {
    SCOPED_TRACE(device);
    const std::string run = (work_dir() / (std::string("c64_") + device)).string(), ck = run + "/checkpoint.safetensors";
    const test::Result t = test::run_cuvae("train --arch conv64 --latent 8 --epochs 1 --batch-size 16 " + data + " --out " + run +
                                           " --device " + device + " --threads 2 --no-progress");
    ASSERT_EQ(t.code, 0) << t.out << t.err;
    EXPECT_THAT(t.out, HasSubstr("vae conv64 3x32x32-512-8"));
    const SafetensorsFile f = read_safetensors(ck);
    EXPECT_EQ(f.at("encoder.0.0.weight").shape, (std::vector<std::int64_t>{32, 3, 3, 3}));
    EXPECT_EQ(f.at("encoder.4.1.running_var").shape, (std::vector<std::int64_t>{512}));
    EXPECT_EQ(f.at("decoder_input.weight").shape, (std::vector<std::int64_t>{512, 8}));
    EXPECT_EQ(f.at("decoder.0.0.weight").shape, (std::vector<std::int64_t>{512, 256, 3, 3}));  // [in, out, kh, kw]
    EXPECT_EQ(f.at("final_layer.3.weight").shape, (std::vector<std::int64_t>{3, 32, 3, 3}));
    EXPECT_EQ(f.find("optimizer.exp_avg.encoder.0.1.running_mean"), nullptr);  // buffers: no Adam moments
    const std::vector<float>& var = f.at("encoder.0.1.running_var").data;
    EXPECT_TRUE(std::any_of(var.begin(), var.end(), [](float v) { return v != 1.f; })) << "running stats updated";
    const test::Result e = test::run_cuvae("eval " + ck + " " + data + " --device " + device);
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_THAT(e.out, HasSubstr("over 8 images"));
    const test::Result s = test::run_cuvae("sample " + ck + " --count 4 --out " + run + "/s.png --device " + device);
    ASSERT_EQ(s.code, 0) << s.err;
  }
  for (const char* model : {"cvae", "classifier"}) {
    const test::Result t = test::run_cuvae(std::string("train --arch conv64 --model ") + model + " --epochs 1 --batch-size 16 " + data +
                                           " --out " + (work_dir() / model).string() + " --device cpu --threads 2 --no-progress");
    ASSERT_EQ(t.code, 0) << model << ": " << t.out << t.err;
  }
  // A size the five stride-2 blocks cannot take: one line naming it.
  const test::Result odd = test::run_cuvae("train --arch conv64 " + ConvCli::data() + " --epochs 1 --device cpu --no-progress --out " +
                                           (work_dir() / "odd64").string());
  EXPECT_EQ(odd.code, 2);
  EXPECT_EQ(odd.err, "cuvae: error: --model vae: --arch conv64 takes images whose sides are multiples of 32 (five stride-2 "
                     "convolutions and their transposes; 64x64 as PyTorch-VAE's), not 8x8\n");
}

// The CPU backend's results do not depend on --threads (fixed blocks, sums in block order): a
// whole training run of an mlp vae and a conv vae gives the same checkpoint bits on 1 and 3 threads.
TEST_F(ConvCli, TrainingGivesTheSameBitsForAnyThreadCount) {
  for (const char* arch : {"mlp", "conv"}) {
    SCOPED_TRACE(arch);
    std::vector<SafetensorsFile> files;
    for (const char* threads : {"1", "3"}) {
      const std::string run = (work_dir() / (std::string(arch) + "_t" + threads)).string();
      const test::Result t = test::run_cuvae(std::string("train --arch ") + arch + " --latent 4 --epochs 2 --batch-size 48 " +
                                             data() + " --out " + run + " --device cpu --threads " + threads + " --no-progress");
      ASSERT_EQ(t.code, 0) << t.out << t.err;
      files.push_back(read_safetensors(run + "/checkpoint.safetensors"));
    }
    ASSERT_EQ(files[0].tensors.size(), files[1].tensors.size());
    for (const TensorRecord& t : files[0].tensors) {
      const TensorRecord* other = files[1].find(t.name);
      ASSERT_NE(other, nullptr) << t.name;
      EXPECT_EQ(t.data, other->data) << t.name << " differs between 1 and 3 threads";
    }
  }
}

TEST_F(ConvCli, SizesAndFlagsItCannotTake) {
  std::vector<float> x(20 * 6 * 10, 0.25f);
  const std::int64_t shape[3] = {20, 6, 10};
  write_npy(work_dir() / "x.npy", x.data(), shape);
  const test::Result odd = test::run_cuvae("train --arch conv --data " + (work_dir() / "x.npy").string() +
                                           " --epochs 1 --device cpu --no-progress --out " + (work_dir() / "odd").string());
  EXPECT_EQ(odd.code, 2);
  EXPECT_EQ(odd.err, "cuvae: error: --model vae: --arch conv takes images whose sides are multiples of 4 (two stride-2 "
                     "convolutions and their transposes), not 6x10\n");
  const test::Result hidden = test::run_cuvae("train --arch conv --hidden 64 " + data() + " --device cpu");
  EXPECT_EQ(hidden.code, 2);
  EXPECT_EQ(hidden.err, "cuvae: error: --hidden is for --arch mlp; the conv arch's layers are fixed (models/arch.hpp)\n");
  const test::Result pca = test::run_cuvae("train --model pca --arch conv " + data() + " --device cpu --no-progress --out " +
                                           (work_dir() / "pca").string());
  EXPECT_EQ(pca.code, 2);
  EXPECT_THAT(pca.err, HasSubstr("--arch conv is for an ae, a dae, a vae, a cvae or a classifier, not a pca"));
  const test::Result simt = test::run_cuvae("train --arch conv --conv cudnn --device simt --epochs 1 --no-progress " + data() +
                                            " --out " + (work_dir() / "simt_cudnn").string());
  EXPECT_EQ(simt.code, 1);
  EXPECT_EQ(simt.err, "cuvae: error: --conv cudnn: the SIMT device has no cuDNN (use --conv custom or auto)\n");
  const test::Result conv = test::run_cuvae("train --conv winograd " + data());
  EXPECT_EQ(conv.code, 2);
  EXPECT_THAT(conv.err, HasSubstr("--conv: winograd not in {custom,cudnn,auto}"));
  const test::Result arch = test::run_cuvae("train --arch resnet " + data());
  EXPECT_EQ(arch.code, 2);
  EXPECT_THAT(arch.err, HasSubstr("--arch 'resnet': unknown architecture (want one of mlp, conv, conv64)"));
}

}  // namespace
}  // namespace cuvae
