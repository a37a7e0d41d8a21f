// profiling/bench_gemm.cu: our GEMM kernels (kernels/gemm.cuh) vs cuBLAS(Lt) with the same fused
// epilogues, for the linear layer's three GEMMs at the VAE's shapes and at 4096^3, in fp32, tf32
// and bf16. Every kernel version is checked against an fp32 cuBLAS reference before it is timed.
// Where the launcher splits K (the 64x64 kernels, v2/v4, at small M x N), the small version is also
// timed at every split count from 1 to 32 (each checked first): the data to tune the launcher's
// split-K choice with ("best split" column, "splits" in the JSON).
// Build: cmake --build build/default --target bench_gemm        (CUVAE_CUDA=ON)
// Run:   build/default/profiling/bench_gemm [--json FILE] [--reps-ms MS]   (about a minute on an H100)
//        [--precision fp32|tf32|bf16] [--batch B]: one precision, the VAE layers at one batch size
// Without a GPU it prints "no CUDA device" and exits 0. Exit code 1 if a kernel gave wrong results.
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "host/cuda/gemm.hpp"

namespace {

using cuvae::Activation;
using cuvae::Device;
using cuvae::Shape;
using cuvae::Tensor;
using cuvae::cuda::Gemm;
using cuvae::cuda::GemmImpl;
using cuvae::cuda::Precision;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_gemm: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

// A device buffer big enough for the largest shape; each case views its front.
struct DeviceBuffer {
  float* p = nullptr;
  std::size_t count = 0;
  explicit DeviceBuffer(std::size_t n) : count(n) { check(cudaMalloc(&p, n * sizeof(float)), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(p); }
  Tensor view(std::int64_t rows, std::int64_t cols) const { return Tensor{p, Shape{rows, cols}, Device::cuda}; }
  Tensor vec(std::int64_t n) const { return Tensor{p, Shape{n}, Device::cuda}; }
};

void fill(DeviceBuffer& b, std::uint32_t seed, bool relu_like) {
  std::vector<float> h(b.count);
  std::uint32_t s = seed * 2654435761u + 1;
  for (float& v : h) {
    s = s * 1664525u + 1013904223u;
    const float u = static_cast<float>(s >> 8) / 8388608.f - 1.f;  // [-1, 1)
    v = relu_like ? std::max(u, 0.f) : u;
  }
  check(cudaMemcpy(b.p, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
}

std::vector<float> download(const Tensor& t) {
  std::vector<float> h(static_cast<std::size_t>(t.numel()));
  check(cudaMemcpy(h.data(), t.data, h.size() * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  return h;
}

// max |got - ref| / max |ref|
double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double max_ref = 0, max_err = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[i])));
    const double e = std::fabs(static_cast<double>(got[i]) - ref[i]);
    max_err = std::isfinite(got[i]) ? std::max(max_err, e) : INFINITY;
  }
  return max_err / std::max(max_ref, 1e-30);
}

double tolerance(Precision p) { return p == Precision::fp32 ? 1e-4 : p == Precision::tf32 ? 4e-3 : 2e-2; }
const char* name(Precision p) { return p == Precision::fp32 ? "fp32" : p == Precision::tf32 ? "tf32" : "bf16"; }

enum class Which { forward, dx, dw };
const char* name(Which w) { return w == Which::forward ? "fwd" : w == Which::dx ? "dx" : "dw+db"; }

struct Layer {
  int batch, in, out;
};

struct Buffers {
  DeviceBuffer x, w, b, y, dy, dx, dw, db;
  explicit Buffers(std::size_t n) : x(n), w(n), b(1 << 13), y(n), dy(n), dx(n), dw(n), db(1 << 13) {
    fill(x, 1, true);  // post-ReLU layer input
    fill(w, 2, false);
    fill(b, 3, false);
    fill(dy, 4, false);
  }
};

// One GEMM of one layer through `g`; returns its outputs (downloaded) when `result` is set.
void run(Gemm& g, Which which, const Layer& s, Buffers& buf, std::vector<std::vector<float>>* result) {
  const Tensor x = buf.x.view(s.batch, s.in), w = buf.w.view(s.out, s.in), dy = buf.dy.view(s.batch, s.out);
  switch (which) {
    case Which::forward: {
      const Tensor y = buf.y.view(s.batch, s.out);
      g.linear_forward(x, w, buf.b.vec(s.out), Activation::relu, y);
      if (result) *result = {download(y)};
      break;
    }
    case Which::dx: {
      const Tensor dx = buf.dx.view(s.batch, s.in);
      g.backward_data(dy, w, x, Activation::relu, dx);
      if (result) *result = {download(dx)};
      break;
    }
    case Which::dw: {
      const Tensor dw = buf.dw.view(s.out, s.in), db = buf.db.vec(s.out);
      g.backward_weight(dy, x, dw, db);
      if (result) *result = {download(dw), download(db)};
      break;
    }
  }
}

// Mean milliseconds per call over enough back-to-back calls to last about `budget_ms`.
double time_ms(Gemm& g, Which which, const Layer& s, Buffers& buf, cudaStream_t stream, double budget_ms) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  auto measure = [&](int reps) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int r = 0; r < reps; ++r) run(g, which, s, buf, nullptr);
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    return static_cast<double>(ms) / reps;
  };
  measure(2);  // warm-up (also cuBLASLt's plan and heuristic)
  const double one = measure(3);
  const int reps = static_cast<int>(std::clamp(budget_ms / std::max(one, 1e-4), 3.0, 500.0));
  const double ms = measure(reps);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}

// The split count of the kernel `g` ran last ("v2 x13" -> 13).
int split_count(const Gemm& g) {
  const std::string k = g.last_kernel();
  const std::size_t x = k.find(" x");
  return x == std::string::npos ? 1 : std::atoi(k.c_str() + x + 2);
}

struct Row {
  std::string precision, gemm, pick;
  int M, N, K;
  double cublas_tflops;
  std::vector<std::pair<int, double>> ours;  // (version, TFLOP/s); version 0 = the launcher's pick
  std::vector<std::pair<int, double>> errors;
  std::vector<std::pair<int, double>> splits;  // (split count, TFLOP/s) of the small version, when it splits
  bool wrong = false;
};

// The rows so far as JSON, rewritten after every row (through a temporary file and a rename), so a
// run cut short still leaves the rows it finished.
void write_json(const std::string& path, const char* device, const std::vector<Row>& rows) {
  const std::string tmp = path + ".tmp";
  std::ofstream f(tmp);
  f << "{\"device\": \"" << device << "\", \"rows\": [\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    f << "  {\"precision\": \"" << r.precision << "\", \"gemm\": \"" << r.gemm << "\", \"M\": " << r.M << ", \"N\": " << r.N
      << ", \"K\": " << r.K << ", \"pick\": \"" << r.pick << "\", \"cublas_tflops\": " << r.cublas_tflops << ", \"ours\": {";
    for (std::size_t j = 0; j < r.ours.size(); ++j)
      f << (j ? ", " : "") << "\"v" << r.ours[j].first << "\": " << r.ours[j].second;
    f << "}, \"max_rel_error\": {";
    for (std::size_t j = 0; j < r.errors.size(); ++j)
      f << (j ? ", " : "") << "\"v" << r.errors[j].first << "\": " << r.errors[j].second;
    f << "}, \"splits\": {";
    for (std::size_t j = 0; j < r.splits.size(); ++j)
      f << (j ? ", " : "") << "\"" << r.splits[j].first << "\": " << r.splits[j].second;
    f << "}, \"wrong\": " << (r.wrong ? "true" : "false") << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  f << "]}\n";
  f.close();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::fprintf(stderr, "bench_gemm: cannot write %s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, only_precision;
  double budget_ms = 3;
  int only_batch = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--reps-ms" && i + 1 < argc) budget_ms = std::atof(argv[++i]);
    else if (a == "--precision" && i + 1 < argc) only_precision = argv[++i];
    else if (a == "--batch" && i + 1 < argc) only_batch = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_gemm [--json FILE] [--reps-ms MS] [--precision fp32|tf32|bf16] [--batch B]\n"
                           "  --precision, --batch: only that precision, only the VAE layers at batch B (128, 256, 1024 or 4096)\n");
      return 2;
    }
  }
  if (!only_precision.empty() && only_precision != "fp32" && only_precision != "tf32" && only_precision != "bf16") {
    std::fprintf(stderr, "bench_gemm: --precision '%s': want fp32, tf32 or bf16\n", only_precision.c_str());
    return 2;
  }
  if (only_batch && only_batch != 128 && only_batch != 256 && only_batch != 1024 && only_batch != 4096) {
    std::fprintf(stderr, "bench_gemm: --batch %d: want 128, 256, 1024 or 4096\n", only_batch);
    return 2;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("bench_gemm on %s (%d SMs); forward: bias+ReLU, dx: *ReLU'(x), dw: +db. TFLOP/s = 2MNK / time\n", prop.name,
              prop.multiProcessorCount);

  std::vector<Layer> layers;
  for (int batch : {128, 256, 1024, 4096})
    for (auto [in, out] : {std::pair{784, 400}, std::pair{400, 20}, std::pair{20, 400}, std::pair{400, 784}})
      if (!only_batch || batch == only_batch) layers.push_back({batch, in, out});
  if (!only_batch) layers.push_back({4096, 4096, 4096});

  Buffers buf(std::size_t(4096) * 4096);
  cudaStream_t stream;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  std::vector<Row> rows;
  bool any_wrong = false;

  std::printf("%-5s %-6s %5s %5s %5s | %8s | %8s %-9s %6s | %8s %8s %-11s | %s\n", "prec", "gemm", "M", "N", "K", "cuBLAS", "ours",
              "(pick)", "ratio", "v2/v4", "v3/v5", "best split", "max rel err vs fp32 cuBLAS (ours pick, cuBLAS)");
  for (Precision prec : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    if (!only_precision.empty() && only_precision != name(prec)) continue;
    Gemm reference(stream, Precision::fp32, GemmImpl::cublas);
    Gemm cublas(stream, prec, GemmImpl::cublas);
    Gemm ours(stream, prec, GemmImpl::custom);
    const int small_v = prec == Precision::fp32 ? 2 : 4;
    for (const Layer& s : layers) {
      for (Which which : {Which::forward, Which::dx, Which::dw}) {
        Row row;
        row.precision = name(prec);
        row.gemm = name(which);
        row.M = which == Which::dw ? s.out : s.batch;
        row.N = which == Which::forward ? s.out : s.in;
        row.K = which == Which::forward ? s.in : which == Which::dx ? s.out : s.batch;
        const double flop = 2.0 * row.M * row.N * row.K;
        char range[64];  // one NVTX range per row (Nsight: profiling/nsight.sh gemm)
        std::snprintf(range, sizeof range, "%s %s %dx%dx%d", row.precision.c_str(), row.gemm.c_str(), row.M, row.N, row.K);
        nvtxRangePushA(range);
        std::vector<std::vector<float>> ref, got;
        run(reference, which, s, buf, &ref);
        auto error_of = [&](Gemm& g) {
          run(g, which, s, buf, &got);
          double e = 0;
          for (std::size_t i = 0; i < ref.size(); ++i) e = std::max(e, rel_error(got[i], ref[i]));
          return e;
        };
        const double cublas_err = error_of(cublas);
        row.cublas_tflops = flop / (time_ms(cublas, which, s, buf, stream, budget_ms) * 1e9);
        for (int v : {0, small_v, small_v + 1}) {
          ours.force_kernel(v, 0);
          const double err = error_of(ours);
          row.errors.push_back({v, err});
          if (!(err <= tolerance(prec))) {
            row.wrong = any_wrong = true;
            row.ours.push_back({v, 0});
            continue;
          }
          row.ours.push_back({v, flop / (time_ms(ours, which, s, buf, stream, budget_ms) * 1e9)});
        }
        // The split-K sweep, where the small version splits K on its own.
        ours.force_kernel(small_v, 0);
        run(ours, which, s, buf, nullptr);
        const bool sweep = split_count(ours) > 1;
        for (int split = 1, last = 0; sweep && split <= 32; ++split) {
          ours.force_kernel(small_v, split);
          run(ours, which, s, buf, nullptr);
          const int effective = split_count(ours);
          if (effective == last) continue;  // clamped, or the same number of non-empty splits
          last = effective;
          const double err = error_of(ours);
          if (!(err <= tolerance(prec))) {
            std::printf("WRONG RESULTS: %s at split %d: max rel err %.1e\n", name(prec), effective, err);
            row.wrong = any_wrong = true;
            row.splits.push_back({effective, 0});
            continue;
          }
          row.splits.push_back({effective, flop / (time_ms(ours, which, s, buf, stream, budget_ms) * 1e9)});
        }
        ours.force_kernel(0, 0);
        run(ours, which, s, buf, nullptr);
        row.pick = ours.last_kernel();
        const double pick = row.ours[0].second;
        std::string best = "-";
        if (!row.splits.empty()) {
          const auto b = *std::max_element(row.splits.begin(), row.splits.end(),
                                           [](const auto& l, const auto& r) { return l.second < r.second; });
          char text[48];
          std::snprintf(text, sizeof text, "x%d %.2f", b.first, b.second);
          best = text;
        }
        std::printf("%-5s %-6s %5d %5d %5d | %8.2f | %8.2f %-9s %5.2fx | %8.2f %8.2f %-11s | %.1e %.1e%s\n", row.precision.c_str(),
                    row.gemm.c_str(), row.M, row.N, row.K, row.cublas_tflops, pick, row.pick.c_str(), pick / row.cublas_tflops,
                    row.ours[1].second, row.ours[2].second, best.c_str(), row.errors[0].second, cublas_err,
                    row.wrong ? "  WRONG RESULTS" : "");
        std::fflush(stdout);
        nvtxRangePop();
        rows.push_back(row);
        if (!json_path.empty()) write_json(json_path, prop.name, rows);
      }
    }
  }
  cudaStreamDestroy(stream);

  if (!json_path.empty()) std::printf("wrote %s\n", json_path.c_str());
  if (any_wrong) std::printf("some kernel versions gave WRONG RESULTS (marked above; not timed)\n");
  return any_wrong ? 1 : 0;
}
