// `--arch conv` from the command line: a conv vae, ae and classifier trained on small images on the
// CPU and the CUDA backend's kernels (SIMT), their checkpoints' config and 4-D weights, eval and
// sample on them, and the errors of sizes and flags the architecture cannot take.
#include <gmock/gmock.h>

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
  const test::Result arch = test::run_cuvae("train --arch resnet " + data());
  EXPECT_EQ(arch.code, 2);
  EXPECT_THAT(arch.err, HasSubstr("--arch 'resnet': unknown architecture (want one of mlp, conv)"));
}

}  // namespace
}  // namespace cuvae
