// The program under interruption and bad runs: a SIGKILL at every write point, then resume, gives
// every metrics record once and the same bits as an uninterrupted run; SIGINT and SIGTERM stop
// with a checkpoint; a diverging run stops naming the step and keeps the last good checkpoint;
// non-finite checkpoints are refused; output names that are not regular files are refused.
#include <gmock/gmock.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "host/metrics.hpp"
#include "host/safetensors.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::Result;

class Reliability : public test::BarDataCase {
 protected:
  Reliability() : BarDataCase(300, 100) {}
  static fs::path dir() { return work_dir(); }
  static std::string out(const std::string& name) {
    fs::remove_all(dir() / name);
    return (dir() / name).string();
  }
  // A small vae run; `extra` adds flags.
  static std::string train(const std::string& out_dir, const std::string& extra = "", int batch = 64) {
    return "train --data " + (dir() / "data").string() + " --out " + out_dir + " --batch-size " + std::to_string(batch) +
           " --hidden 16 --latent 3 --device cpu --threads 1 --no-progress " + extra;
  }
  static std::string resume(const std::string& out_dir, const std::string& extra = "") {
    return "train --data " + (dir() / "data").string() + " --resume " + out_dir +
           "/checkpoint.safetensors --device cpu --threads 1 --no-progress " + extra;
  }
};

// The records of a run without what differs between runs (timings, the device line).
std::vector<nlohmann::json> records(const fs::path& run) {
  std::vector<nlohmann::json> r = read_jsonl(run / "metrics.jsonl");
  for (nlohmann::json& j : r)
    for (const char* k : {"seconds", "images_per_s", "device"}) j.erase(k);
  return r;
}

std::vector<std::string> temporaries(const fs::path& run) {
  std::vector<std::string> t;
  for (const auto& e : fs::directory_iterator(run))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) t.push_back(e.path().filename().string());
  return t;
}

// Every file of `a` (checkpoint, metrics without timings, PNGs) the same in `b`, and what
// TensorBoard shows of b (its event files carry wall times) the same as b's metrics and PNGs.
void expect_same_run(const fs::path& a, const fs::path& b, const std::string& what) {
  EXPECT_EQ(records(a), records(b)) << what;
  EXPECT_EQ(test::tensorboard_mismatch(b), "") << what;
  for (const auto& e : fs::directory_iterator(a)) {
    const std::string name = e.path().filename().string();
    if (name == "metrics.jsonl" || name.ends_with(".txt") || name.starts_with("events.out.tfevents.")) continue;
    ASSERT_TRUE(fs::exists(b / name)) << what << ": " << name;
    EXPECT_TRUE(read_file(a / name) == read_file(b / name)) << what << ": " << name << " differs";
  }
  EXPECT_THAT(temporaries(b), ::testing::IsEmpty()) << what;
}

TEST_F(Reliability, AKillAtEveryWritePointThenResumeGivesEveryRecordOnceAndTheSameBits) {
  const std::string flags = "--epochs 2 --log-every 2";
  const std::string ref = out("ref"), log = (dir() / "renames.txt").string();
  Result r = test::run_cuvae(train(ref, flags), "LD_PRELOAD=" CUVAE_KILL_SHIM " CUVAE_TEST_RENAME_LOG=" + log);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> points;
  std::istringstream lines(read_file(log));
  for (std::string l; std::getline(lines, l);) points.push_back(fs::path(l).filename().string());
  // 5 step records (steps 2..10), then per epoch 2 PNGs, its record, loss_curves.png and the checkpoint.
  ASSERT_EQ(points.size(), 15u);
  EXPECT_EQ(points.back(), "checkpoint.safetensors");
  ASSERT_EQ(records(ref).size(), 7u);

  for (std::size_t k = 1; k <= points.size(); ++k)
    for (const char* when : {"before", "after"}) {
      const std::string what = std::string("killed ") + when + " write " + std::to_string(k) + " (" + points[k - 1] + ")";
      const std::string run = out("kill-" + std::to_string(k) + when);
      r = test::run_cuvae(train(run, flags),
                          "LD_PRELOAD=" CUVAE_KILL_SHIM " CUVAE_TEST_KILL_AT_RENAME=" + std::to_string(k) + ":" + when);
      ASSERT_EQ(r.code, 128 + SIGKILL) << what << r.err;
      const bool ckpt = fs::exists(fs::path(run) / "checkpoint.safetensors");
      r = test::run_cuvae(ckpt ? resume(run, flags) : train(run, flags));
      ASSERT_EQ(r.code, 0) << what << ": " << r.err;
      expect_same_run(ref, run, what);
    }
}

// Starts cuvae with stdout on a pipe, waits for the line that says training starts, sends the
// signals (100 ms apart) and returns the exit code (128 + N when killed by signal N) and stdout.
Result signalled_run(const std::string& args, std::initializer_list<int> signals) {
  std::vector<std::string> words;
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  const std::string exe = std::string(CUVAE_BINARY_DIR) + "/cuvae";
  std::vector<char*> argv = {const_cast<char*>(exe.c_str())};
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    const int err = ::open("/dev/null", O_WRONLY);
    ::dup2(err, STDERR_FILENO);
    ::close(fds[0]);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  Result r;
  char buf[4096];
  bool sent = false;
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
    r.out.append(buf, static_cast<std::size_t>(n));
    if (!sent && r.out.find(" epochs\n") != std::string::npos) {
      for (int sig : signals) {
        ::kill(pid, sig);
        ::usleep(100000);
      }
      sent = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST_F(Reliability, SigintAndSigtermFinishTheStepCheckpointAndResumeExactly) {
  const std::string flags = "--epochs 40";
  const std::string ref = out("ref");
  ASSERT_EQ(test::run_cuvae(train(ref, flags)).code, 0);
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string run = out(std::string("sig") + std::to_string(sig));
    Result r = signalled_run(train(run, flags), {sig});
    ASSERT_EQ(r.code, 128 + sig) << r.out;
    EXPECT_THAT(r.out, HasSubstr(std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + " after step "));
    EXPECT_THAT(r.out, HasSubstr("(continue with --resume " + run + "/checkpoint.safetensors)"));
    r = test::run_cuvae(resume(run, flags));
    ASSERT_EQ(r.code, 0) << r.err;
    expect_same_run(ref, run, "signal " + std::to_string(sig));
  }
}

TEST_F(Reliability, ASecondSigintStopsAtOnce) {
  Result r = signalled_run(train(out("twice"), "--epochs 400"), {SIGINT, SIGINT});
  EXPECT_EQ(r.code, 128 + SIGINT) << r.out;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("epoch 400:")));
}

// A run that diverges stops at the first non-finite term, naming it, and the checkpoint of the
// last finished epoch stays as it was.
TEST_F(Reliability, ADivergingRunStopsNamingTheStepAndKeepsTheLastGoodCheckpoint) {
  const std::string run = out("diverge");
  ASSERT_EQ(test::run_cuvae(train(run, "--epochs 1")).code, 0);
  const fs::path ckpt = fs::path(run) / "checkpoint.safetensors";
  SafetensorsFile f = read_safetensors(ckpt);
  nlohmann::json t = nlohmann::json::parse(f.metadata.at("train"));
  t["adam"]["lr"] = 1e6;  // as if the run had been started with --lr 1e6
  f.metadata["train"] = t.dump();
  std::vector<TensorView> views;
  for (const TensorRecord& x : f.tensors) views.push_back({x.name, x.shape, x.data.data()});
  write_safetensors(ckpt, views, f.metadata);
  const std::string good = read_file(ckpt);

  Result r = test::run_cuvae(resume(run, "--epochs 5"));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::MatchesRegex("cuvae: error: step [0-9]+: the (recon|kl) term is (NaN|Inf); training "
                                             "diverged \\(try a lower --lr than 1e\\+06(, or a smaller --beta)?\\); the last "
                                             "good checkpoint .*checkpoint.safetensors is kept\n"));
  EXPECT_EQ(read_file(ckpt), good);
  EXPECT_EQ(records(run).size(), 1u);  // epoch 1's only
}

TEST_F(Reliability, NonFiniteCheckpointsAreRefusedByEveryCommand) {
  const std::string run = out("nan");
  ASSERT_EQ(test::run_cuvae(train(run, "--epochs 1")).code, 0);
  const fs::path ckpt = fs::path(run) / "checkpoint.safetensors";
  SafetensorsFile f = read_safetensors(ckpt);
  for (TensorRecord& x : f.tensors)
    if (x.name == "decoder.0.bias") x.data[1] = NAN;
  std::vector<TensorView> views;
  for (const TensorRecord& x : f.tensors) views.push_back({x.name, x.shape, x.data.data()});
  write_safetensors(ckpt, views, f.metadata);
  const std::string want = "cuvae: error: " + ckpt.string() +
                           ": tensor 'decoder.0.bias' holds NaN at [1]; a checkpoint with non-finite values is refused\n";
  for (const std::string& cmd : {"eval " + ckpt.string() + " --data " + (dir() / "data").string() + " --device cpu",
                                 "sample " + ckpt.string() + " --out " + run + "/s.png --device cpu",
                                 resume(run, "--epochs 2")}) {
    Result r = test::run_cuvae(cmd);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.err, want) << cmd;
  }
}

TEST_F(Reliability, AResumedBatchPastTheEpochIsRefused) {
  const std::string run = out("past");
  ASSERT_EQ(test::run_cuvae(train(run, "--epochs 1 --max-steps 3")).code, 0);
  Result r = test::run_cuvae(resume(run, "--epochs 1 --train-limit 64"));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "cuvae: error: " + run + "/checkpoint.safetensors: stopped after batch 3 of epoch 1, but an epoch of "
                   "these 64 images has 1 batches of 64 (resume with the run's own data and --train-limit)\n");
}

TEST_F(Reliability, TheWorkspaceFollowsTheDataNotTheBatchSize) {
  // 2^20 rows of 1024 hidden units would be 4 GiB per activation; 16 images need 64 KiB.
  const std::string args = "train --data " + (dir() / "data").string() + " --out " + out("big-batch") +
                           " --batch-size 1048576 --hidden 1024 --epochs 1 --train-limit 16 --test-limit 16 --device cpu";
  Result r = test::run_cuvae(args, "ulimit -v 4000000;");  // 4 GB of address space
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 1: train loss"));
}

TEST_F(Reliability, OutputsThatAreNotRegularFilesAreRefusedAndAFifoIsNotWaitedOn) {
  const std::string run = out("outs");
  ASSERT_EQ(test::run_cuvae(train(run, "--epochs 1")).code, 0);
  const std::string ckpt = run + "/checkpoint.safetensors";
  const fs::path target = dir() / "target.png", link = dir() / "link.png";
  write_file_atomic(target, "keep");
  fs::create_symlink(target, link);
  Result r = test::run_cuvae("sample " + ckpt + " --out " + link.string() + " --device cpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "cuvae: error: --out: " + link.string() + ": is a symbolic link; refusing to replace it (name a "
                   "regular file)\n");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_file(target), "keep");
  r = test::run_cuvae("sample " + ckpt + " --out /dev/null --device cpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("/dev/null: is a character device; refusing to replace it"));
  r = test::run_cuvae("sample " + ckpt + " --out \"\" --device cpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "cuvae: error: --out: empty file name\n");

  const fs::path fifo = dir() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = test::run_cuvae("eval " + fifo.string() + " --device cpu", "timeout 60");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "cuvae: error: " + fifo.string() + ": is a FIFO, expected a regular file\n");
}

TEST_F(Reliability, CommandLineErrorsAreOneLineWithExitTwo) {
  struct Case {
    std::string args, err;
  };
  const Case cases[] = {
      {"train --lr nan", "--lr: want a number in (0, inf), got 'nan'"},
      {"train --beta nan", "--beta: want a number in [0, inf), got 'nan'"},
      {"train --weight-decay nan", "--weight-decay: want a number in [0, 1], got 'nan'"},
      {"train --lr-decay 0", "--lr-decay: want a number in (0, 1], got '0'"},
      {"train --seed -1", "--seed: want an integer in 0..18446744073709551615, got '-1'"},
      {"train --seed 18446744073709551616", "--seed: want an integer in 0..18446744073709551615, got '18446744073709551616'"},
      {"train --train-limit -5", "--train-limit: want an integer in 0..1099511627776, got '-5'"},
      {"train --batch-size 1048577", "--batch-size: want an integer in 1..1048576, got '1048577'"},
      {"train --hidden 400,,2", "--hidden '400,,2': expected a comma-separated list of at most 64 sizes in 1..65536, or none"},
      {"train --out \"\"", "--out: empty folder name"},
      {"sample --count 5000 " + std::string(CUVAE_BINARY_DIR) + "/cuvae", "--count: want an integer in 1..4096, got '5000'"},
      {"trian --epochs 1", "unknown command 'trian' (want one of train, eval, sample, encode, decode, reconstruct, interpolate, manifold, latent-map, compare, score, make-shapes)"},
  };
  for (const Case& c : cases) {
    Result r = test::run_cuvae(c.args);
    EXPECT_EQ(r.code, 2) << c.args;
    EXPECT_EQ(r.err, "cuvae: error: " + c.err + "\n") << c.args;
  }
  Result r = test::run_cuvae("train --bogus");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "cuvae: error: The following argument was not expected: --bogus (cuvae train --help lists the flags)\n");
}

}  // namespace
}  // namespace cuvae
