// bench_conv_layers: the conv VAE's four conv layers (models/arch.cpp; --arch conv64: conv64's
// eleven) on a backend, each pass timed on its own at one batch size: forward (bias and ReLU
// fused), and backward (weight and bias gradients, and the input gradient except for the first
// layer, as autograd skips it). One JSON line per layer and pass: {"layer", "pass", "batch",
// "ms", "gflops", "backend"} (the median of --reps runs after one warm-up, each run synchronized;
// GFLOP/s counts 2 flops per multiply-add of the GEMMs). On a GPU, `--device cuda --conv custom`
// and `--conv cudnn` give ours and cuDNN's side by side (issue 11's per-layer benchmark).
// profiling/bench_conv_layers.py runs the CPU rows next to PyTorch's conv layers at the same shapes.
//   bench_conv_layers [--batch 128] [--threads 2] [--reps 20] [--device cpu|cuda|auto]
//                     [--conv custom|cudnn|auto] [--precision fp32|tf32|bf16] [--arch conv|conv64]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "host/backend.hpp"
#include "host/device.hpp"
#include "models/config.hpp"  // kConv64Channels

namespace {

using cuvae::ConvShape;

ConvShape square(int in_c, int h, int out_c, int k, int stride, int pad, bool transposed) {
  ConvShape s;
  s.in_c = in_c, s.in_h = s.in_w = h, s.out_c = out_c;
  s.kh = s.kw = k, s.sh = s.sw = stride, s.ph = s.pw = pad, s.transposed = transposed;
  if (transposed && stride == 2 && k == 3) s.oph = s.opw = 1;  // conv64's ConvTranspose2d blocks
  return s;
}
ConvShape conv4x4(int in_c, int h, int out_c, bool transposed) { return square(in_c, h, out_c, 4, 2, 1, transposed); }

struct Layer {
  const char* name;
  ConvShape s;
  bool dx;
};

struct Buffer {
  cuvae::Backend& be;
  cuvae::Tensor t;
  Buffer(cuvae::Backend& b, cuvae::Shape shape, std::mt19937& rng) : be(b) {
    t = cuvae::Tensor{be.allocate(shape.numel()), shape, be.device()};
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> v(static_cast<std::size_t>(shape.numel()));
    for (float& x : v) x = u(rng);
    be.to_device(t, v.data());
  }
  ~Buffer() { be.release(t.data); }
};

template <class F>
double median_ms(cuvae::Backend& be, int reps, F&& f) {
  f();
  be.synchronize();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    be.synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int batch = 128, threads = 2, reps = 20;
  std::string device = "cpu", arch = "conv";
  cuvae::CudaRunOptions cuda;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], text = argv[i + 1];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--batch") batch = v;
    else if (a == "--threads") threads = v;
    else if (a == "--reps") reps = v;
    else if (a == "--device") device = text;
    else if (a == "--conv") cuda.conv = text;
    else if (a == "--precision") cuda.precision = text;
    else if (a == "--arch") arch = text;
    else {
      std::fprintf(stderr, "bench_conv_layers: unknown flag %s (--batch, --threads, --reps, --device, --conv, --precision, --arch)\n",
                   a.c_str());
      return 2;
    }
  }
  if (arch != "conv" && arch != "conv64") {
    std::fprintf(stderr, "bench_conv_layers: --arch %s: want conv or conv64\n", arch.c_str());
    return 2;
  }
  if (batch < 1 || threads < 1 || reps < 1) {
    std::fprintf(stderr, "bench_conv_layers: --batch, --threads and --reps must be at least 1\n");
    return 2;
  }
  std::unique_ptr<cuvae::Backend> be;
  try {
    be = cuvae::make_backend(device, threads, std::cerr, cuda);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conv_layers: %s\n", e.what());
    return 2;
  }
  const std::string label = be->describe();
  std::fprintf(stderr, "%s\n", label.c_str());
  std::vector<Layer> layers = {{"encoder.0", conv4x4(1, 28, 32, false), false},
                               {"encoder.2", conv4x4(32, 14, 64, false), true},
                               {"decoder.5", conv4x4(64, 7, 32, true), true},
                               {"decoder.7", conv4x4(32, 14, 1, true), true}};
  if (arch == "conv64") {  // 3x64x64 images (models/arch.cpp)
    layers.clear();
    static const char* enc[] = {"encoder.0.0", "encoder.1.0", "encoder.2.0", "encoder.3.0", "encoder.4.0"};
    static const char* dec[] = {"decoder.0.0", "decoder.1.0", "decoder.2.0", "decoder.3.0", "final_layer.0"};
    int c = 3, h = 64;
    for (int i = 0; i < 5; ++i, h /= 2) {
      layers.push_back({enc[i], square(c, h, cuvae::kConv64Channels[i], 3, 2, 1, false), i > 0});
      c = cuvae::kConv64Channels[i];
    }
    for (int i = 0; i < 5; ++i, h *= 2) {
      const int out = cuvae::kConv64Channels[i == 4 ? 0 : 3 - i];
      layers.push_back({dec[i], square(c, h, out, 3, 2, 1, true), true});
      c = out;
    }
    layers.push_back({"final_layer.3", square(32, 64, 3, 3, 1, 1, false), true});
  }
  std::mt19937 rng(1);
  for (const Layer& l : layers) {
    const ConvShape& s = l.s;
    Buffer x(*be, {batch, s.in_dim()}, rng), y(*be, {batch, s.out_dim()}, rng), dy(*be, {batch, s.out_dim()}, rng);
    Buffer dx(*be, {batch, s.in_dim()}, rng), w(*be, {s.small_c(), s.weight_cols()}, rng), b(*be, {s.out_c}, rng);
    Buffer dw(*be, {s.small_c(), s.weight_cols()}, rng), db(*be, {s.out_c}, rng);
    const double macs = double(batch) * s.small_c() * double(s.weight_cols()) * s.small_h() * s.small_w();
    const double fwd = median_ms(*be, reps, [&] { be->conv2d_forward(x.t, w.t, b.t, s, cuvae::Activation::relu, y.t); });
    const double bwd = median_ms(*be, reps, [&] {
      be->conv2d_backward(x.t, cuvae::Activation::relu, w.t, dy.t, s, l.dx ? &dx.t : nullptr, dw.t, db.t);
    });
    std::printf("{\"layer\": \"%s\", \"pass\": \"forward\", \"batch\": %d, \"ms\": %.4f, \"gflops\": %.2f, \"backend\": \"%s\"}\n",
                l.name, batch, fwd, 2 * macs / fwd / 1e6, label.c_str());
    std::printf("{\"layer\": \"%s\", \"pass\": \"backward\", \"batch\": %d, \"ms\": %.4f, \"gflops\": %.2f, \"backend\": \"%s\"}\n",
                l.name, batch, bwd, 2 * macs * (l.dx ? 2 : 1) / bwd / 1e6, label.c_str());
  }
  return 0;
}
