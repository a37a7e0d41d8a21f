// kernels/build.hpp: the one build switch. CUVAE_SIMT is defined in the SIMT build: the CUDA
// sources (kernels/ and host/cuda/) compiled by the host compiler against the SIMT-on-CPU runtime
// (CMake defines it for cuvae_simt_backend and its users; kernels/portable.cuh defines it for any
// kernel header a host compiler compiles). CUVAE_BUILD is the inline namespace each build's
// kernels and launchers live in, so one binary may hold both builds (a SIMT test linked against a
// CUDA-enabled library) without the linker merging their symbols.
#pragma once
#if defined(CUVAE_SIMT) && defined(__CUDACC__)
#error "CUVAE_SIMT is the host compiler's build; nvcc compiles the GPU build"
#endif
#if defined(CUVAE_SIMT)
#define CUVAE_BUILD simt_build
#else
#define CUVAE_BUILD gpu_build
#endif
