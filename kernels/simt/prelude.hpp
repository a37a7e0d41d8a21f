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

// crt/host_defines.h leaves __host__, __device__, __global__, __constant__ and __shared__ empty for
// a host compiler (it defines each only where it is not yet defined, so a toolkit header included
// later keeps the meanings below). Kernels are ordinary functions; __shared__ is the one that matters:
// a block-scope thread_local is static storage, one copy per OS thread, and an OS thread runs one
// block at a time, so it is per-block shared memory.
#undef __shared__
#define __shared__ thread_local
#undef __forceinline__
#define __forceinline__ inline  // not always_inline: keeps kernels steppable in gdb
#undef __noinline__
#define __noinline__ __attribute__((noinline))
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

// Marks the SIMT build for code that must tell (tests, inline-PTX fallbacks use __CUDA_ARCH__).
#define CUVAE_SIMT 1
