// Strict checkpoint reading: every metadata field typed and in range, the tensors checked against
// the model the config describes before anything is allocated, no extra tensors, no NaN or Inf,
// and no non-finite checkpoint ever written. One row per malformed field.
#include <gmock/gmock.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "alloc_probe.hpp"
#include "host/fileio.hpp"
#include "host/safetensors.hpp"
#include "models/checkpoint.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::unique_ptr<Model> vae(Backend& backend) {
  ModelConfig c = default_config("vae");
  c.input_dim = 10, c.hidden = {4}, c.latent = 2;
  std::unique_ptr<Model> m = make_model(c);
  m->allocate(backend, 4);
  m->params().init_uniform(backend, 7);
  return m;
}

class StrictCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    backend = make_cpu_backend(1);
    model = vae(*backend);
    TrainState st;
    st.seed = 42, st.step = 3, st.shuffle = "device-philox";
    file = test::fresh_dir("ckpt-strict") / "c.safetensors";
    save_checkpoint(file, *backend, *model, &st);
    original = read_safetensors(file);
  }
  // Rewrites the file with `edit` applied to the metadata's JSON entry `key` ("config", "train").
  void edit_json(const std::string& key, const std::function<void(Json&)>& edit) {
    std::map<std::string, std::string> meta = original.metadata;
    Json j = Json::parse(meta.at(key));
    edit(j);
    meta[key] = j.dump();
    rewrite(meta, {});
  }
  void rewrite(const std::map<std::string, std::string>& meta, std::vector<TensorView> extra) {
    std::vector<TensorView> views;
    for (const TensorRecord& t : original.tensors) views.push_back({t.name, t.shape, t.data.data()});
    views.insert(views.end(), extra.begin(), extra.end());
    write_safetensors(file, views, meta);
  }
  std::string error() { return test::error_of([&] { read_checkpoint_header(file); }); }

  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  fs::path file;
  SafetensorsFile original;
};

TEST_F(StrictCheckpoint, TheUntouchedFileLoads) {
  const Checkpoint ck = read_checkpoint_header(file);
  ASSERT_TRUE(ck.train);
  EXPECT_EQ(ck.train->seed, 42u);
  EXPECT_EQ(ck.config.hidden, std::vector<int>{4});
}

struct FieldCase {
  const char* key;  // metadata entry
  std::function<void(Json&)> edit;
  const char* error;  // after "<file>: "
};

TEST_F(StrictCheckpoint, EveryMalformedFieldIsRefusedNamingIt) {
  const std::uint64_t wraps = (std::uint64_t(1) << 32) + 10;  // 10 once truncated to 32 bits
  const FieldCase cases[] = {
      {"config", [](Json& j) { j["input_dim"] = 10.5; }, "config: field 'input_dim' is the number 10.5, want an integer in 1..16777216"},
      {"config", [&](Json& j) { j["input_dim"] = wraps; }, "config: field 'input_dim' is 4294967306, want an integer in 1..16777216"},
      {"config", [](Json& j) { j["input_dim"] = "10"; }, "config: field 'input_dim' is a string, want an integer in 1..16777216"},
      {"config", [](Json& j) { j["latent"] = 2.5; }, "config: field 'latent' is the number 2.5, want an integer in 1..10"},
      {"config", [](Json& j) { j["latent"] = 11; }, "config: field 'latent' is 11, want an integer in 1..10"},
      {"config", [](Json& j) { j["beta"] = true; }, "config: field 'beta' is the boolean true, want a number in [0, inf)"},
      {"config", [](Json& j) { j["sigma"] = 0; }, "config: field 'sigma' is 0, want a number in (0, inf)"},
      {"config", [](Json& j) { j["hidden"] = Json::array({4, "x"}); },
       "config: field 'hidden' holds a string, want a list of at most 64 integers in 1..65536"},
      {"config", [](Json& j) { j["hidden"] = Json::array({0}); },
       "config: field 'hidden' holds 0, want a list of at most 64 integers in 1..65536"},
      {"config", [](Json& j) { j.erase("latent"); }, "config: field 'latent' is missing"},
      {"config", [](Json& j) { j["colour"] = "red"; }, "config: unknown field 'colour'"},
      {"config", [](Json& j) { j["classes"] = 10; }, "config: field 'classes' is for a classifier or a cvae, not a vae"},
      {"config", [](Json& j) { j["noise"] = "blur:3"; },
       "config: field 'noise' is invalid: --noise 'blur:3': unknown kind 'blur' (want mask:P, gaussian:S or saltpepper:P, e.g. mask:0.25, or none)"},
      {"train", [](Json& j) { j["seed"] = "1x"; }, "train: field 'seed' is \"1x\", want a decimal integer in 0..18446744073709551615"},
      {"train", [](Json& j) { j["seed"] = "-1"; }, "train: field 'seed' is \"-1\", want a decimal integer in 0..18446744073709551615"},
      {"train", [](Json& j) { j["seed"] = 42; }, "train: field 'seed' is the integer 42, want a string"},
      {"train", [](Json& j) { j["step"] = INT64_MAX; }, "train: field 'step' is 9223372036854775807, want an integer in 0..9007199254740992"},
      {"train", [](Json& j) { j["step"] = -1; }, "train: field 'step' is -1, want an integer in 0..9007199254740992"},
      {"train", [](Json& j) { j["batch_size"] = 0; }, "train: field 'batch_size' is 0, want an integer in 1..1048576"},
      {"train", [](Json& j) { j["epoch_loss_sum"] = "nan"; }, "train: field 'epoch_loss_sum' is \"nan\", want a finite number"},
      {"train", [](Json& j) { j["lr_decay"] = 1.5; }, "train: field 'lr_decay' is 1.5, want a number in (0, 1]"},
      {"train", [](Json& j) { j["adam"]["lr"] = 0; }, "train.adam: field 'lr' is 0, want a number in (0, inf)"},
      {"train", [](Json& j) { j["adam"]["lr"] = -0.001; }, "train.adam: field 'lr' is -0.001, want a number in (0, inf)"},
      {"train", [](Json& j) { j["adam"]["beta1"] = 1.0; }, "train.adam: field 'beta1' is 1.0, want a number in [0, 1)"},
      {"train", [](Json& j) { j["adam"]["beta2"] = -0.5; }, "train.adam: field 'beta2' is -0.5, want a number in [0, 1)"},
      {"train", [](Json& j) { j["adam"]["eps"] = 0; }, "train.adam: field 'eps' is 0, want a number in (0, inf)"},
      {"train", [](Json& j) { j["adam"]["momentum"] = 0.9; }, "train.adam: unknown field 'momentum'"},
      {"train", [](Json& j) { j["adam"] = 1; }, "train.adam: not a JSON object (it is the integer 1)"},
  };
  for (const FieldCase& c : cases) {
    edit_json(c.key, c.edit);
    EXPECT_EQ(error(), file.string() + ": " + c.error);
  }
}

// softmax cross-entropy: a classifier's class count is typed and in 2..65536.
TEST(StrictCheckpointClassifier, ClassesOutOfRangeAreRefusedNamingTheField) {
  auto backend = make_cpu_backend(1);
  ModelConfig c = default_config("classifier");
  c.input_dim = 10, c.hidden = {4}, c.classes = 3;
  std::unique_ptr<Model> m = make_model(c);
  m->allocate(*backend, 4);
  m->params().init_uniform(*backend, 7);
  const fs::path file = test::fresh_dir("ckpt-strict-classifier") / "c.safetensors";
  save_checkpoint(file, *backend, *m, nullptr);
  EXPECT_EQ(read_checkpoint_header(file).config.classes, 3);
  const SafetensorsFile original = read_safetensors(file);
  const std::pair<std::function<void(Json&)>, std::string> cases[] = {
      {[](Json& j) { j["classes"] = 1; }, "config: field 'classes' is 1, want an integer in 2..65536"},
      {[](Json& j) { j["classes"] = 65537; }, "config: field 'classes' is 65537, want an integer in 2..65536"},
      {[](Json& j) { j["classes"] = 2.5; }, "config: field 'classes' is the number 2.5, want an integer in 2..65536"},
      {[](Json& j) { j["classes"] = "3"; }, "config: field 'classes' is a string, want an integer in 2..65536"},
      {[](Json& j) { j.erase("classes"); }, "config: field 'classes' is missing"},
  };
  for (const auto& [edit, error] : cases) {
    std::map<std::string, std::string> meta = original.metadata;
    Json j = Json::parse(meta.at("config"));
    edit(j);
    meta["config"] = j.dump();
    std::vector<TensorView> views;
    for (const TensorRecord& t : original.tensors) views.push_back({t.name, t.shape, t.data.data()});
    write_safetensors(file, views, meta);
    EXPECT_EQ(test::error_of([&] { read_checkpoint_header(file); }), file.string() + ": " + error);
  }
}

TEST_F(StrictCheckpoint, MetadataThatIsNotJsonNamesTheFileAndTheEntry) {
  std::map<std::string, std::string> meta = original.metadata;
  meta["config"] = R"({"model": "vae", "input_dim": 1e400})";
  rewrite(meta, {});
  EXPECT_EQ(error(), file.string() + ": metadata 'config' is not valid JSON: number overflow parsing '1e400'");
  meta = original.metadata;
  meta["comment"] = "hello";
  rewrite(meta, {});
  EXPECT_EQ(error(), file.string() + ": unknown metadata key 'comment'");
}

TEST_F(StrictCheckpoint, AnExtraTensorIsRefusedAsByStrictLoading) {
  const float one = 1.f;
  rewrite(original.metadata, {{"decoder.9.weight", {1}, &one}});
  EXPECT_THAT(error(), HasSubstr(file.string() + ": unexpected tensor 'decoder.9.weight' (not a parameter of the vae model"));
}

// A config claiming huge layers is refused by the tensor shapes before anything of that size exists.
TEST_F(StrictCheckpoint, HugeSizesInTheConfigAreRefusedBeforeAllocating) {
  edit_json("config", [](Json& j) { j["hidden"] = Json::array({65536, 65536, 65536}); });
  g_largest_alloc = 0;
  EXPECT_EQ(error(), file.string() + ": tensor 'encoder.0.weight' has shape [4, 10], expected [65536, 10]");
  EXPECT_LT(g_largest_alloc.load(), std::size_t(1) << 20);
}

TEST_F(StrictCheckpoint, NonFiniteValuesAreRefusedNamingTheTensorAndIndex) {
  for (const char* name : {"decoder.2.weight", "optimizer.exp_avg_sq.fc_mu.bias"}) {
    SafetensorsFile f = original;
    for (TensorRecord& t : f.tensors)
      if (t.name == name) t.data[t.data.size() - 1] = std::string(name).starts_with("opt") ? INFINITY : NAN;
    std::vector<TensorView> views;
    for (const TensorRecord& t : f.tensors) views.push_back({t.name, t.shape, t.data.data()});
    write_safetensors(file, views, f.metadata);
    const bool inf = std::string(name).starts_with("opt");
    EXPECT_EQ(error(), file.string() + ": tensor '" + name + "' holds " + (inf ? "Inf at [1]" : "NaN at [9, 3]") +
                           "; a checkpoint with non-finite values is refused");
  }
}

TEST_F(StrictCheckpoint, ANonFiniteModelIsNeverWrittenAndTheLastGoodFileStays) {
  const std::string before = read_file(file);
  std::vector<float> values(static_cast<std::size_t>(model->params().total()));
  backend->to_host(values.data(), model->params().values());
  values[5] = NAN;  // encoder.0.weight [0, 5]
  backend->to_device(model->params().values(), values.data());
  TrainState st;
  st.step = 17;
  EXPECT_EQ(test::error_of([&] { save_checkpoint(file, *backend, *model, &st); }),
            file.string() + ": not written: tensor 'encoder.0.weight' holds NaN at [0, 5] after step 17; the file keeps "
                            "its last good contents");
  EXPECT_EQ(read_file(file), before);
}

}  // namespace
}  // namespace cuvae
