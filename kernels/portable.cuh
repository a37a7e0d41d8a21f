// The one header where the two builds of a kernel differ: nvcc compiles kernels/ for the GPU, the
// host compiler compiles the same headers again against the SIMT-on-CPU runtime (kernels/simt/).
// Kernels include this first and nothing build-specific; kernels/README.md lists the CUDA subset.
#pragma once
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "kernels/error.hpp"

// Kernel code compiled by a host compiler is the SIMT build (kernels/build.hpp: CUVAE_SIMT, and
// CUVAE_BUILD, the inline namespace op kernels and their launchers sit in).
#if !defined(__CUDACC__) && !defined(CUVAE_SIMT)
#define CUVAE_SIMT 1
#endif
#include "kernels/build.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

// Dynamic shared memory: `SIMT_DYNAMIC_SHARED(float, s);` declares `float* s` over the launch's
// smem_bytes (16-byte aligned).
#define SIMT_DYNAMIC_SHARED(T, name)                                        \
  extern __shared__ __align__(16) unsigned char name##_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(name##_dynamic_shared_)

namespace cuvae {
// Launches on `stream` and throws cuvae::Error if the launch itself fails (bad configuration,
// no device); errors inside the kernel surface at the next synchronizing call.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem_bytes, cudaStream_t stream, A&&... args) {
  kernel<<<grid, block, smem_bytes, stream>>>(std::forward<A>(args)...);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "kernel launch failed: %s: grid (%u,%u,%u), block (%u,%u,%u), %zu bytes dynamic shared memory",
                  cudaGetErrorString(e), grid.x, grid.y, grid.z, block.x, block.y, block.z, smem_bytes);
    throw Error(msg);
  }
}
}  // namespace cuvae

// CUDA has no float atomicMax/atomicMin; the SIMT runtime has them, so both builds do (CAS loop;
// NaN arguments are ignored).
__device__ inline float atomicMax(float* address, float val) {
  int* a = reinterpret_cast<int*>(address);
  int old = *a;
  while (val > __int_as_float(old)) {
    const int assumed = old;
    old = atomicCAS(a, assumed, __float_as_int(val));
    if (old == assumed) break;
  }
  return __int_as_float(old);
}
__device__ inline float atomicMin(float* address, float val) {
  int* a = reinterpret_cast<int*>(address);
  int old = *a;
  while (val < __int_as_float(old)) {
    const int assumed = old;
    old = atomicCAS(a, assumed, __float_as_int(val));
    if (old == assumed) break;
  }
  return __int_as_float(old);
}

#else  // the SIMT build: host compiler, no libcudart
#include "kernels/simt/simt.hpp"
namespace cuvae {
using simt::launch;  // synchronous: the grid has run when it returns; the stream is ignored
}  // namespace cuvae
#endif
