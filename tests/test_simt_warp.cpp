// Warp collectives on the SIMT runtime against CUDA's documented semantics: the four shuffles with
// every width, 4/8/2-byte types, votes, __syncwarp, __activemask, partial masks and partial warps.
#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
enum ShflOp { kIdx, kUp, kDown, kXor };

__global__ void shuffle(int op, int arg, int width, int* out) {
  const int t = threadIdx.x + blockDim.x * threadIdx.y, lane = t % 32;
  const int v = 1000 * (t / 32) + 3 * lane + 100;
  int r = -1;
  switch (op) {
    case kIdx: r = __shfl_sync(0xffffffffu, v, arg, width); break;
    case kUp: r = __shfl_up_sync(0xffffffffu, v, unsigned(arg), width); break;
    case kDown: r = __shfl_down_sync(0xffffffffu, v, unsigned(arg), width); break;
    case kXor: r = __shfl_xor_sync(0xffffffffu, v, arg, width); break;
  }
  out[t] = r;
}

// The CUDA Programming Guide's description, lane by lane.
int expected_source(int op, int lane, int arg, int width) {
  const int group = lane / width * width;
  switch (op) {
    case kIdx: return group + arg % width;
    case kUp: return lane % width - arg < 0 ? lane : lane - arg;
    case kDown: return lane % width + arg >= width ? lane : lane + arg;
    default: { const int src = lane ^ arg; return src >= group + width ? lane : src; }  // later groups: own value
  }
}

TEST(SimtWarp, ShufflesAllWidths) {
  const int n = 64;
  for (int op : {kIdx, kUp, kDown, kXor})
    for (int width : {1, 2, 4, 8, 16, 32})
      for (int arg : {0, 1, 3, 5, 16, 17, 31}) {
        std::vector<int> out(n, -7);
        launch(shuffle, dim3(1), dim3(n), 0, nullptr, op, arg, width, out.data());
        for (int t = 0; t < n; ++t) {
          const int src = (t / 32) * 32 + expected_source(op, t % 32, arg, width);
          ASSERT_EQ(out[t], 1000 * (t / 32) + 3 * (src % 32) + 100) << "op " << op << " width " << width << " arg " << arg << " thread " << t;
        }
      }
}

TEST(SimtWarp, WarpsOf2DBlocksFollowLinearIndex) {
  std::vector<int> out(64, -7);
  launch(shuffle, dim3(1), dim3(8, 8), 0, nullptr, int(kXor), 8, 32, out.data());
  for (int t = 0; t < 64; ++t) EXPECT_EQ(out[t], 1000 * (t / 32) + 3 * ((t % 32) ^ 8) + 100);
}

__global__ void shuffle_types(double* d, __half* h, float* f) {
  const int lane = threadIdx.x;
  d[lane] = __shfl_xor_sync(0xffffffffu, 0.5 * lane + 1e-12, 1);
  h[lane] = __shfl_down_sync(0xffffffffu, __float2half(float(lane)), 2);
  f[lane] = __shfl_sync(0xffffffffu, float(lane) * 1.5f, 31 - lane);
}

TEST(SimtWarp, ShuffleTypes) {
  std::vector<double> d(32);
  std::vector<__half> h(32);
  std::vector<float> f(32);
  launch(shuffle_types, dim3(1), dim3(32), 0, nullptr, d.data(), h.data(), f.data());
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(d[l], 0.5 * (l ^ 1) + 1e-12);
    EXPECT_EQ(__half2float(h[l]), float(l + 2 < 32 ? l + 2 : l));
    EXPECT_EQ(f[l], float(31 - l) * 1.5f);
  }
}

__global__ void votes(unsigned* out) {
  const int t = threadIdx.x, lane = t % 32;
  unsigned* o = out + 8 * t;
  o[0] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  o[1] = __any_sync(0xffffffffu, lane == 31);
  o[2] = __any_sync(0xffffffffu, 0);
  o[3] = __all_sync(0xffffffffu, lane < 32);
  o[4] = __all_sync(0xffffffffu, lane != 7);
  if (lane < 16) {  // half the warp, with a matching mask
    o[5] = __ballot_sync(0x0000ffffu, lane & 1);
    o[6] = __all_sync(0x0000ffffu, lane < 16);
  }
  o[7] = __ballot_sync(0xffffffffu, 1);
}

TEST(SimtWarp, VotesAndPartialMasks) {
  const int n = 48;  // the second warp is partial: 16 lanes
  std::vector<unsigned> out(8 * n, 12345);
  launch(votes, dim3(1), dim3(n), 0, nullptr, out.data());
  for (int t = 0; t < n; ++t) {
    const bool partial = t >= 32;
    const unsigned exist = partial ? 0xffffu : 0xffffffffu;
    const unsigned* o = &out[8 * t];
    EXPECT_EQ(o[0], 0x49249249u & exist) << t;
    EXPECT_EQ(o[1], partial ? 0u : 1u) << t;  // lane 31 does not exist in the partial warp
    EXPECT_EQ(o[2], 0u);
    EXPECT_EQ(o[3], 1u);
    EXPECT_EQ(o[4], 0u);
    if (t % 32 < 16) {
      EXPECT_EQ(o[5], 0xaaaau);
      EXPECT_EQ(o[6], 1u);
    }
    EXPECT_EQ(o[7], exist);
  }
}

// Warp-synchronous tree sum in shared memory: correct only with the __syncwarp calls.
__global__ void warp_tree_sum(const float* x, float* out) {
  __shared__ float s[64];
  const int t = threadIdx.x;
  s[t] = x[t];
  s[t + 32] = 0.0f;
  __syncwarp();
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float v = s[t + offset];
    __syncwarp();
    s[t] += v;
    __syncwarp();
  }
  if (t == 0) *out = s[0];
}

TEST(SimtWarp, Syncwarp) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = float(i + 1);
  float out = -1;
  launch(warp_tree_sum, dim3(1), dim3(32), 0, nullptr, x.data(), &out);
  EXPECT_EQ(out, 528.0f);
}

__global__ void active_masks(unsigned* out) {
  const int lane = threadIdx.x;
  out[lane] = __activemask();
  if (lane < 10) out[32 + lane] = __activemask();
  else out[32 + lane] = __activemask();
}

TEST(SimtWarp, Activemask) {
  std::vector<unsigned> out(64, 0);
  launch(active_masks, dim3(1), dim3(32), 0, nullptr, out.data());
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(out[l], 0xffffffffu);
    EXPECT_EQ(out[32 + l], l < 10 ? 0x3ffu : 0xfffffc00u) << l;
  }
}

// Independent half-warps sync on their own masks, then the whole warp exchanges.
__global__ void half_warps(int* out) {
  const int lane = threadIdx.x;
  int v = lane;
  if (lane < 16) v += __shfl_xor_sync(0x0000ffffu, v, 1);
  else v += __shfl_xor_sync(0xffff0000u, v, 2);
  out[lane] = __shfl_sync(0xffffffffu, v, (lane + 16) % 32);
}

TEST(SimtWarp, IndependentMasksInDivergentBranches) {
  std::vector<int> out(32, -1);
  launch(half_warps, dim3(1), dim3(32), 0, nullptr, out.data());
  auto v = [](int l) { return l < 16 ? l + (l ^ 1) : l + (l ^ 2); };
  for (int l = 0; l < 32; ++l) EXPECT_EQ(out[l], v((l + 16) % 32)) << l;
}

}  // namespace
