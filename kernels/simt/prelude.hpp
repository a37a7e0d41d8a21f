// SIMT build prelude: the CUDA toolkit's host-compilable headers (vector types, half, bf16) and
// the CUDA keywords given their SIMT meaning for the host compiler. No libcudart is needed.
#pragma once
#if defined(__CUDACC__)
#error "kernels/simt/ is the host-compiler build of the kernels; nvcc takes the CUDA branch of kernels/portable.cuh"
#endif

#include <vector_types.h>      // dim3, uint3, float4, ... (brings crt/host_defines.h)
#include <vector_functions.h>  // make_float4, make_uint3, ...
#include <driver_types.h>      // cudaStream_t, cudaError_t
#include <cuda_fp16.h>         // __half: the host half of the header compiles with g++
#include <cuda_bf16.h>         // __nv_bfloat16
// curand_kernel.h declares `extern const uint3 threadIdx` (and blockDim) for host compilers; taking
// that declaration in first lets the built-ins below be macros over the runtime's thread-locals,
// whichever order a kernel includes curand_kernel.h and kernels/portable.cuh in.
#include <curand_mtgp32_kernel.h>

// crt/host_defines.h leaves __host__, __device__, __global__, __constant__ and __shared__ empty for
// a host compiler (it defines each only where it is not yet defined, so a toolkit header included
// later keeps the meanings below). Kernels are ordinary functions; __shared__ is the one that matters:
// a block-scope thread_local is static storage, one copy per OS thread, and an OS thread runs one
// block at a time, so it is per-block shared memory.
#undef __shared__
#define __shared__ thread_local
#undef __forceinline__
#define __forceinline__ inline  // not always_inline: keeps kernels steppable in gdb
// __noinline__ is left alone: libstdc++ spells __attribute__((__noinline__)) itself.
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

// CUDA's built-in variables: read-only views of thread-locals that the scheduler sets before it
// resumes each fiber (threadIdx) or once per block (the others). Fibers never migrate between OS
// threads, so the OS thread's values are the running CUDA thread's. In gdb: cuvae::simt::thread_idx.
namespace cuvae::simt {
inline thread_local uint3 thread_idx, block_idx;
inline thread_local dim3 block_dim, grid_dim;
}  // namespace cuvae::simt
#define threadIdx (static_cast<const uint3&>(::cuvae::simt::thread_idx))
#define blockIdx (static_cast<const uint3&>(::cuvae::simt::block_idx))
#define blockDim (static_cast<const dim3&>(::cuvae::simt::block_dim))
#define gridDim (static_cast<const dim3&>(::cuvae::simt::grid_dim))
inline constexpr int warpSize = 32;

// Marks the SIMT build for code that must tell (kernels/build.hpp; inline-PTX fallbacks use
// __CUDA_ARCH__).
#ifndef CUVAE_SIMT
#define CUVAE_SIMT 1
#endif
