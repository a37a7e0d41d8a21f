// The device under test for the CUDA backend's tests (test_vae_kernels, test_adam_kernel,
// test_data_kernels, test_cuda_training). One source, two executables (tests/cuda_backend.cmake):
//   <name>       the SIMT device: host/cuda/cuda_backend.cu built by the host compiler
//                (cuvae_simt_backend defines CUVAE_SIMT), always; label `kernels`.
//   <name>_cuda  the GPU backend from cuvae_lib (CUVAE_CUDA=ON); each case skips without a GPU.
// Helpers move tensors between the host and the device under test; the references are the CPU
// ops of host/cpu/ (directly, or through the CPU backend for ops that work at the step position).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "host/cuda/cuda_backend.hpp"
#include "support.hpp"

#if defined(CUVAE_SIMT)
#define CUVAE_DEVICE_SUITE(name) name##Simt
#else
#define CUVAE_DEVICE_SUITE(name) name##Gpu
#endif

// In a test body: `auto dev = CUVAE_DEVICE_OR_SKIP(options);` -- the device backend, or the case
// is skipped ("no CUDA device: ...") in the GPU executable on a machine without a usable GPU.
#define CUVAE_DEVICE_OR_SKIP(...)                                                            \
  ::cuvae::test::device_backend(__VA_ARGS__);                                                \
  if (const std::string why_ = ::cuvae::test::device_unavailable(); !why_.empty())         \
  GTEST_SKIP() << "no CUDA device: " << why_

namespace cuvae::test {

// Empty when the device under test can run; no CUDA call happens before a test body runs.
inline std::string device_unavailable() { return cuda_unavailable_reason(0); }

// The backend under test, or null when device_unavailable() (the macro above then skips).
inline std::unique_ptr<Backend> device_backend(const CudaOptions& options = {}) {
  if (!device_unavailable().empty()) return nullptr;
  return make_cuda_backend(0, options);
}

inline std::vector<float> download(Backend& backend, const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  backend.to_host(v.data(), t);
  return v;
}

inline Buffer upload(Backend& backend, const HostTensor& h) {
  Buffer b(backend, h.shape);
  backend.to_device(b, h.v.data());
  return b;
}

// A device buffer full of NaN, so an element a kernel never writes fails the comparison.
inline Buffer poisoned_on(Backend& backend, Shape s) { return upload(backend, poisoned(s)); }

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace cuvae::test
