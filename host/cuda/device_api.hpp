// host/cuda/device_api.hpp: the one place where the CUDA backend's two builds differ: device
// discovery, memory, copies, the stream and graph capture. host/cuda/cuda_backend.cu calls only
// these (and cuvae::launch), so the same backend source runs
//   - on the GPU: nvcc, CUDA runtime calls, every failure a cuvae::Error with file:line and the call;
//   - on the CPU as a "SIMT device" (host compiler, CUVAE_SIMT): the kernels run on the
//     SIMT runtime (kernels/simt/), device memory is host memory, launches are synchronous, the
//     stream is a no-op and a "graph" replays by calling the step again (see Graph below).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "host/cuda/gemm.hpp"  // CUVAE_BUILD: the inline namespace of this build
#include "host/error.hpp"
#include "kernels/portable.cuh"

#if defined(__CUDACC__) == defined(CUVAE_SIMT)
#error "host/cuda/: nvcc builds the GPU backend; the host compiler builds the SIMT one and defines CUVAE_SIMT"
#endif

#if !defined(__CUDACC__)
#include <unistd.h>
#endif

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {
namespace device_api {

struct DeviceInfo {
  std::string name;            // "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;    // compute capability (0.0 for the SIMT device)
  int multiprocessors = 1;
  std::size_t total_bytes = 0;
  int grid_stride_blocks = 1;  // grid size for grid-stride kernels: enough to fill the device
};

// "12 MiB": bytes rounded to the nearest MiB, for messages.
inline std::string megabytes(std::size_t bytes) { return std::to_string((bytes + (1u << 19)) >> 20) + " MiB"; }

#if defined(__CUDACC__)
// ======================================= GPU =====================================================
inline constexpr bool kSimulated = false;
using Stream = cudaStream_t;

[[noreturn]] inline void cuda_fail(const char* file, int line, const char* call, cudaError_t e,
                                   const std::string& context) {
  fail_at(file, line, std::string("CUDA error: ") + call + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) +
                          (context.empty() ? "" : " (" + context + ")"));
}
// CUVAE_CUDA_CHECK(call, context): context names the op and shapes (a std::string or "").
#define CUVAE_CUDA_CHECK(call, context)                                                          \
  do {                                                                                           \
    if (const cudaError_t e_ = (call); e_ != cudaSuccess)                                        \
      ::cuvae::cuda::device_api::cuda_fail(__FILE__, __LINE__, #call, e_, (context));            \
  } while (0)

// Empty when `device` can run this build's kernels (`probe` is one of them); else why not.
inline std::string unavailable_reason(int device, const void* probe, const char* built_archs) {
  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess)
    return std::string("no CUDA device found (cudaGetDeviceCount: ") + cudaGetErrorString(e) + ")";
  if (count == 0) return "no CUDA device found (cudaGetDeviceCount: 0 devices)";
  if (device < 0 || device >= count)
    return "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " found)";
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(device);
  cudaFuncAttributes attr{};
  const cudaError_t e = cudaFuncGetAttributes(&attr, probe);
  cudaSetDevice(previous);
  if (e == cudaSuccess) return "";
  (void)cudaGetLastError();  // not sticky: clear it
  const int cc = 10 * major + minor;
  int lowest = 1 << 30;
  for (const char* p = built_archs; *p;) {  // "80 90" or "80-real 90"
    char* end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p) { ++p; continue; }
    if (v > 0 && v < lowest) lowest = static_cast<int>(v);
    p = end;
  }
  const std::string gpu = "GPU sm_" + std::to_string(cc);
  if (cc < lowest)
    return gpu + " is older than the built architectures " + built_archs + " (configure with -DCMAKE_CUDA_ARCHITECTURES=" +
           std::to_string(cc) + ")";
  return gpu + " cannot run this build's kernels (built for " + built_archs + "): " + cudaGetErrorString(e);
}

inline DeviceInfo open_device(int device) {
  CUVAE_CUDA_CHECK(cudaSetDevice(device), "device " + std::to_string(device));
  cudaDeviceProp prop{};
  CUVAE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device), "device " + std::to_string(device));
  DeviceInfo d;
  d.name = prop.name;
  d.major = prop.major, d.minor = prop.minor;
  d.multiprocessors = prop.multiProcessorCount;
  d.total_bytes = prop.totalGlobalMem;
  d.grid_stride_blocks = 8 * prop.multiProcessorCount;
  return d;
}

inline Stream create_stream() {
  Stream s = nullptr;
  CUVAE_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "");
  return s;
}
inline void destroy_stream(Stream s) noexcept { cudaStreamDestroy(s); }
// Waits for all work on the device, the legacy default stream's included (our stream does not
// synchronize with it: set-up such as cudaMemset must be finished before the stream's first kernel).
inline void synchronize_device(const std::string& context) { CUVAE_CUDA_CHECK(cudaDeviceSynchronize(), context); }

inline void synchronize(Stream s, const std::string& context) {
  CUVAE_CUDA_CHECK(cudaStreamSynchronize(s), context + "; a kernel that failed may have been launched earlier: "
                                                       "rerun with CUDA_LAUNCH_BLOCKING=1 or under compute-sanitizer");
}

// nullptr when the device is out of memory; throws on other errors.
inline void* try_malloc(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return nullptr;
  }
  CUVAE_CUDA_CHECK(e, "cudaMalloc of " + megabytes(bytes));
  return p;
}
inline void free_memory(void* p) noexcept { cudaFree(p); }

inline void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) {
  free_bytes = total_bytes = 0;
  CUVAE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes), "");
}

// Host to device, ordered on the stream; returns once `host` may be reused.
inline void copy_to_device(void* dst, const void* host, std::size_t bytes, Stream s, const std::string& context) {
  CUVAE_CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, s), context);
  synchronize(s, context);
}
// Device to host, ordered on the stream; call synchronize() before reading `host`.
inline void copy_to_host_async(void* host, const void* src, std::size_t bytes, Stream s, const std::string& context) {
  CUVAE_CUDA_CHECK(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, s), context);
}

// One training step recorded once and replayed.
class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  ~Graph() {
    if (exec_) cudaGraphExecDestroy(exec_);
  }
  bool captured() const { return exec_ != nullptr; }
  // Records the work `step` enqueues on `s` (none of it runs) and instantiates it.
  void capture(Stream s, const std::function<void()>& step) {
    CUVAE_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "run_step");
    try {
      step();
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(s, &broken);  // leave the stream usable
      if (broken) cudaGraphDestroy(broken);
      (void)cudaGetLastError();
      throw;
    }
    cudaGraph_t graph = nullptr;
    CUVAE_CUDA_CHECK(cudaStreamEndCapture(s, &graph),
                     "run_step: the step did something a graph cannot capture (a host copy, a synchronization, an allocation?)");
    const cudaError_t e = cudaGraphInstantiate(&exec_, graph, 0);
    cudaGraphDestroy(graph);
    CUVAE_CUDA_CHECK(e, "run_step");
  }
  // Runs the captured step (`step` is not called: the graph is the step).
  void launch(Stream s, const std::function<void()>& /*step*/) { CUVAE_CUDA_CHECK(cudaGraphLaunch(exec_, s), "run_step"); }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

#else
// ======================================= SIMT ====================================================
inline constexpr bool kSimulated = true;
using Stream = cudaStream_t;  // always null: launches run synchronously on the SIMT runtime

inline std::string unavailable_reason(int device, const void* /*probe*/, const char* /*built_archs*/) {
  return device == 0 ? "" : "the SIMT device has only device 0";
}

inline DeviceInfo open_device(int device) {
  if (device != 0) throw Error("simt: device " + std::to_string(device) + " does not exist (the SIMT device is 0)");
  DeviceInfo d;
  d.name = "SIMT runtime (CUDA kernels on CPU threads)";
  d.multiprocessors = 8;  // nominal, as host/cuda/gemm.cu assumes
  d.total_bytes = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  d.grid_stride_blocks = 16;  // few blocks: every SIMT thread is a fiber
  return d;
}

inline Stream create_stream() { return nullptr; }
inline void destroy_stream(Stream) noexcept {}
inline void synchronize_device(const std::string&) {}
inline void synchronize(Stream, const std::string&) {}

inline void* try_malloc(std::size_t bytes) { return std::aligned_alloc(256, (bytes + 255) / 256 * 256); }
inline void free_memory(void* p) noexcept { std::free(p); }

inline void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  free_bytes = static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES)) * page;
  total_bytes = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * page;
}

inline void copy_to_device(void* dst, const void* host, std::size_t bytes, Stream, const std::string&) {
  std::memcpy(dst, host, bytes);
}
inline void copy_to_host_async(void* host, const void* src, std::size_t bytes, Stream, const std::string&) {
  std::memcpy(host, src, bytes);
}

// No graphs here: launches run as they are made. capture() therefore runs the step (the
// backend's capture-time checks apply to it, as on the GPU) and the launch() right after it is
// skipped; every later launch() runs the step again, as replaying the graph would.
class Graph {
 public:
  bool captured() const { return captured_; }
  void capture(Stream, const std::function<void()>& step) {
    step();
    captured_ = ran_at_capture_ = true;
  }
  void launch(Stream, const std::function<void()>& step) {
    if (ran_at_capture_) {
      ran_at_capture_ = false;
      return;
    }
    step();
  }

 private:
  bool captured_ = false, ran_at_capture_ = false;
};
#endif

}  // namespace device_api
}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
