// The CUDA backend's data and elementwise kernels (kernels/data.cuh) and its runtime
// pieces, against the CPU reference: the epoch shuffle, batch gather through the epoch's order at
// the device-side position, the loss history, the position itself, sigmoid, Philox normals and fill; then the
// arena (reuse, out-of-memory message), device-side faults, and run_step's capture rules.
// Outputs are poisoned with NaN first. Runs on the SIMT device always and on the GPU when present
// (tests/device_backend.hpp). Run: ctest --test-dir build/<dir> -R DataKernels --output-on-failure
#include <gmock/gmock.h>

#include <cmath>
#include <numeric>

#include "datasets/batches.hpp"
#include "device_backend.hpp"
#include "host/cpu/ops.hpp"

namespace cuvae {
namespace {

using ::testing::HasSubstr;
using test::download;
using test::HostTensor;
using test::poisoned_on;
using test::upload;

TEST(CUVAE_DEVICE_SUITE(DataKernels), GatherBatchFollowsOrderAndPosition) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  // 13 columns: the scalar path; 784: float4 rows. 101 and 57 rows: a partial last batch.
  for (auto [rows, cols] : {std::pair<std::int64_t, std::int64_t>{101, 13}, {57, 784}}) {
    SCOPED_TRACE("src [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
    const HostTensor src = test::random_tensor({rows, cols}, 1);
    Buffer d_src = upload(*dev, src), c_src = upload(*cpu, src);
    const std::int64_t batch = 16;
    dev->shuffle(rows, shuffle_key(9, 2));
    cpu->shuffle(rows, shuffle_key(9, 2));
    for (std::int64_t bi : {std::int64_t{0}, std::int64_t{2}, batch_count(rows, batch) - 1}) {
      const std::int64_t b = std::min(batch, rows - bi * batch);
      Buffer d_dst = poisoned_on(*dev, Shape{b, cols}), c_dst = poisoned_on(*cpu, Shape{b, cols});
      dev->set_position(bi + 1, bi);
      cpu->set_position(bi + 1, bi);
      dev->gather_batch(d_src, batch, d_dst);
      cpu->gather_batch(c_src, batch, c_dst);
      EXPECT_TRUE(test::bitwise_equal(download(*dev, d_dst), download(*cpu, c_dst))) << "batch " << bi;
    }
  }
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), ShuffleKernelMatchesTheReference) {
  // The order read back through a one-batch gather of a column of row numbers (exact in float).
  // Sizes: tiny, one under / over a Feistel domain (4^h), and Fashion-MNIST's 60000.
  auto dev = CUVAE_DEVICE_OR_SKIP();
  for (std::int64_t n : {1, 3, 1023, 1025, 60000}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    HostTensor rows({n, 1});
    std::iota(rows.v.begin(), rows.v.end(), 0.f);
    Buffer src = upload(*dev, rows), dst = poisoned_on(*dev, Shape{n, 1});
    dev->shuffle(n, shuffle_key(4, static_cast<std::int64_t>(n)));
    dev->set_position(1, 0);
    dev->gather_batch(src, n, dst);
    const std::vector<float> got = download(*dev, dst);
    const std::vector<std::int64_t> want = shuffled_indices(n, shuffle_key(4, static_cast<std::int64_t>(n)));
    for (std::size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(want[i])) << "position " << i;
  }
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), RecordTermsAndPositionAdvance) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  Buffer history = poisoned_on(*dev, Shape{7, 2});
  Buffer terms = upload(*dev, test::random_tensor({2}, 4));
  dev->set_position(5, 2);
  dev->record_terms(terms, history);
  dev->advance_position();  // batch 3
  Buffer terms2 = upload(*dev, test::random_tensor({2}, 5));
  dev->record_terms(terms2, history);
  const std::vector<float> h = download(*dev, history), t1 = download(*dev, terms), t2 = download(*dev, terms2);
  for (std::int64_t r = 0; r < 7; ++r) {
    for (int k = 0; k < 2; ++k) {
      const float got = h[static_cast<std::size_t>(2 * r + k)];
      if (r == 2) EXPECT_EQ(got, t1[k]);
      else if (r == 3) EXPECT_EQ(got, t2[k]);
      else EXPECT_TRUE(std::isnan(got)) << "row " << r << " written";
    }
  }
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), PositionDrivesTheStepEps) {
  // set_position + advance_position on the device give the eps the CPU backend draws at the same steps.
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 9, L = 7;
  const HostTensor stats = test::random_tensor({B, 2 * L}, 6);
  Buffer d_stats = upload(*dev, stats), c_stats = upload(*cpu, stats);
  Buffer d_eps(*dev, Shape{B, L}), d_z(*dev, Shape{B, L}), c_eps(*cpu, Shape{B, L}), c_z(*cpu, Shape{B, L});
  const RngKey key = rng_key(3, RngPurpose::reparam, 0);
  dev->set_position(10, 0);
  cpu->set_position(10, 0);
  for (int s = 0; s < 3; ++s) {
    dev->advance_position();
    cpu->advance_position();
  }
  dev->reparameterize(d_stats.tensor().cols_view(0, L), d_stats.tensor().cols_view(L, L), key, true, d_eps, d_z);
  cpu->reparameterize(c_stats.tensor().cols_view(0, L), c_stats.tensor().cols_view(L, L), key, true, c_eps, c_z);
  EXPECT_TRUE(test::all_close(download(*dev, d_eps), download(*cpu, c_eps), 1e-5, "eps at step 13"));
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), SigmoidMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const std::int64_t n = 12347;
  HostTensor x = test::random_tensor({n}, 7, -30.f, 30.f);
  x[0] = 100.f, x[1] = -100.f, x[2] = 0.f, x[3] = 1e4f, x[4] = -1e4f;
  Buffer dx = upload(*dev, x), dy = poisoned_on(*dev, Shape{n});
  dev->sigmoid(dx, dy);
  HostTensor ry({n});
  cpu::sigmoid(x.t(), ry.t());
  EXPECT_TRUE(test::all_close(download(*dev, dy), ry.v, 1e-6, "sigmoid"));
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), NormalMatchesCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  for (std::int64_t n : {1, 6, 1023, 4096}) {
    Buffer out = poisoned_on(*dev, Shape{n});
    const RngKey key = rng_key(11, RngPurpose::sample, static_cast<std::uint64_t>(n));
    dev->normal(key, out);
    HostTensor ref({n});
    cpu::normal(key, ref.t());
    EXPECT_TRUE(test::all_close(download(*dev, out), ref.v, 1e-5, "normal " + std::to_string(n)));
  }
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), FillWritesEveryElement) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  Buffer out = poisoned_on(*dev, Shape{1001});
  dev->fill(out, -2.5f);
  for (float v : download(*dev, out)) ASSERT_EQ(v, -2.5f);
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), ArenaReusesFreedMemoryWithoutOverlap) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  std::vector<Buffer> bufs;
  for (int i = 0; i < 40; ++i) bufs.emplace_back(*dev, Shape{1 + 97 * i});
  for (int i = 0; i < 40; i += 3) bufs[static_cast<std::size_t>(i)] = Buffer();  // holes
  for (int i = 0; i < 40; i += 3) bufs[static_cast<std::size_t>(i)] = Buffer(*dev, Shape{1 + 50 * i});
  bufs.emplace_back(*dev, Shape{20'000'000});  // beyond one 64 MiB chunk
  for (std::size_t i = 0; i < bufs.size(); ++i) dev->fill(bufs[i], static_cast<float>(i));
  for (std::size_t i = 0; i < bufs.size(); ++i) {
    const std::vector<float> v = download(*dev, bufs[i]);
    ASSERT_EQ(v.front(), static_cast<float>(i)) << "buffer " << i << " overwritten";
    ASSERT_EQ(v.back(), static_cast<float>(i)) << "buffer " << i << " overwritten";
  }
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), OutOfMemorySaysHowMuch) {
  CudaOptions o;
  o.memory_limit_bytes = std::size_t(96) << 20;
  auto dev = CUVAE_DEVICE_OR_SKIP(o);
  Buffer small(*dev, Shape{1000});
  try {
    Buffer big(*dev, Shape{50'000'000});  // 191 MiB
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("out of device memory"));
    EXPECT_THAT(e.what(), HasSubstr("191 MiB"));
    EXPECT_THAT(e.what(), HasSubstr("limit 96 MiB"));
    EXPECT_THAT(e.what(), HasSubstr("free of"));
  }
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), BadBatchPositionIsReportedAtTheNextRead) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  Buffer src = upload(*dev, test::random_tensor({10, 4}, 1)), dst(*dev, Shape{4, 4});
  dev->shuffle(10, shuffle_key(1, 1));
  dev->set_position(1, 5);  // rows 20..23 of an order of 10
  dev->gather_batch(src, 4, dst);
  try {
    dev->synchronize();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("outside the order of 10 rows"));
  }
  dev->set_position(1, 1);  // the fault is cleared once reported
  dev->gather_batch(src, 4, dst);
  EXPECT_NO_THROW(dev->synchronize());

  Buffer history(*dev, Shape{3, 2}), terms(*dev, Shape{2});
  dev->set_position(1, 3);
  dev->record_terms(terms, history);
  EXPECT_THROW(download(*dev, history), Error);
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), RunStepRefusesAllocationWhileCapturing) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  int calls = 0;
  auto step = [&] {
    ++calls;
    Buffer b(*dev, Shape{16});
  };
  dev->run_step(1, step);  // warm-up: runs as is
  try {
    dev->run_step(1, step);  // capture
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("inside run_step"));
  }
  // The backend is usable afterwards, and without graphs the same step is fine.
  Buffer ok(*dev, Shape{8});
  dev->fill(ok, 1.f);
  EXPECT_EQ(download(*dev, ok)[7], 1.f);
  CudaOptions no_graphs;
  no_graphs.graphs = false;
  auto plain = test::device_backend(no_graphs);
  calls = 0;
  auto step2 = [&] { Buffer b(*plain, Shape{16}); ++calls; };
  for (int i = 0; i < 3; ++i) plain->run_step(1, step2);
  EXPECT_EQ(calls, 3);
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), RunStepReplaysEveryStepOnce) {
  // Each run_step advances the position exactly once: warm-up, capture (+ launch) and replays.
  auto dev = CUVAE_DEVICE_OR_SKIP();
  Buffer history = poisoned_on(*dev, Shape{6, 2});
  Buffer terms = upload(*dev, test::random_tensor({2}, 1));
  dev->set_position(1, 0);
  for (int i = 0; i < 6; ++i)
    dev->run_step(7, [&] {
      dev->record_terms(terms, history);
      dev->advance_position();
    });
  const std::vector<float> h = download(*dev, history), t = download(*dev, terms);
  for (int r = 0; r < 6; ++r) EXPECT_EQ(h[static_cast<std::size_t>(2 * r)], t[0]) << "row " << r;
}

TEST(CUVAE_DEVICE_SUITE(DataKernels), DescribeNamesTheDevice) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const std::string d = dev->describe();
  EXPECT_THAT(d, HasSubstr("fp32 GEMM"));
  EXPECT_THAT(d, HasSubstr(", graphs"));
  EXPECT_EQ(dev->device(), Device::cuda);
}

}  // namespace
}  // namespace cuvae
