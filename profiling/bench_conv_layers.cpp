// bench_conv_layers: the conv VAE's four conv layers (models/arch.cpp) on the CPU backend, each
// pass timed on its own at one batch size: forward (bias and ReLU fused), and backward (weight and
// bias gradients, and the input gradient except for the first layer, as autograd skips it).
// One JSON line per layer and pass: {"layer", "pass", "batch", "ms", "gflops"} (the median of
// --reps runs after one warm-up; GFLOP/s counts 2 flops per multiply-add of the GEMMs).
// profiling/bench_conv_layers.py runs it next to PyTorch's conv layers at the same shapes.
//   bench_conv_layers [--batch 128] [--threads 2] [--reps 20]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "host/backend.hpp"

namespace {

using cuvae::ConvShape;

ConvShape conv4x4(int in_c, int h, int out_c, bool transposed) {
  ConvShape s;
  s.in_c = in_c, s.in_h = s.in_w = h, s.out_c = out_c;
  s.kh = s.kw = 4, s.sh = s.sw = 2, s.ph = s.pw = 1, s.transposed = transposed;
  return s;
}

struct Layer {
  const char* name;
  ConvShape s;
  bool dx;
};

struct Buffer {
  cuvae::Backend& be;
  cuvae::Tensor t;
  Buffer(cuvae::Backend& b, cuvae::Shape shape, std::mt19937& rng) : be(b) {
    t = cuvae::Tensor{be.allocate(shape.numel()), shape, cuvae::Device::cpu};
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> v(static_cast<std::size_t>(shape.numel()));
    for (float& x : v) x = u(rng);
    be.to_device(t, v.data());
  }
  ~Buffer() { be.release(t.data); }
};

template <class F>
double median_ms(int reps, F&& f) {
  f();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int batch = 128, threads = 2, reps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--batch") batch = v;
    else if (a == "--threads") threads = v;
    else if (a == "--reps") reps = v;
    else {
      std::fprintf(stderr, "bench_conv_layers: unknown flag %s (--batch, --threads, --reps)\n", a.c_str());
      return 2;
    }
  }
  if (batch < 1 || threads < 1 || reps < 1) {
    std::fprintf(stderr, "bench_conv_layers: --batch, --threads and --reps must be at least 1\n");
    return 2;
  }
  auto be = cuvae::make_cpu_backend(threads);
  std::fprintf(stderr, "%s\n", be->describe().c_str());
  const Layer layers[] = {{"encoder.0", conv4x4(1, 28, 32, false), false},
                          {"encoder.2", conv4x4(32, 14, 64, false), true},
                          {"decoder.5", conv4x4(64, 7, 32, true), true},
                          {"decoder.7", conv4x4(32, 14, 1, true), true}};
  std::mt19937 rng(1);
  for (const Layer& l : layers) {
    const ConvShape& s = l.s;
    Buffer x(*be, {batch, s.in_dim()}, rng), y(*be, {batch, s.out_dim()}, rng), dy(*be, {batch, s.out_dim()}, rng);
    Buffer dx(*be, {batch, s.in_dim()}, rng), w(*be, {s.small_c(), s.weight_cols()}, rng), b(*be, {s.out_c}, rng);
    Buffer dw(*be, {s.small_c(), s.weight_cols()}, rng), db(*be, {s.out_c}, rng);
    const double macs = double(batch) * s.small_c() * double(s.weight_cols()) * s.small_h() * s.small_w();
    const double fwd = median_ms(reps, [&] { be->conv2d_forward(x.t, w.t, b.t, s, cuvae::Activation::relu, y.t); });
    const double bwd = median_ms(reps, [&] {
      be->conv2d_backward(x.t, cuvae::Activation::relu, w.t, dy.t, s, l.dx ? &dx.t : nullptr, dw.t, db.t);
    });
    std::printf("{\"layer\": \"%s\", \"pass\": \"forward\", \"batch\": %d, \"ms\": %.4f, \"gflops\": %.2f}\n", l.name,
                batch, fwd, 2 * macs / fwd / 1e6);
    std::printf("{\"layer\": \"%s\", \"pass\": \"backward\", \"batch\": %d, \"ms\": %.4f, \"gflops\": %.2f}\n", l.name,
                batch, bwd, 2 * macs * (l.dx ? 2 : 1) / bwd / 1e6);
  }
  return 0;
}
