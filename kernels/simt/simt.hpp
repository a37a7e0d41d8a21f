// The SIMT-on-CPU runtime, whole: what kernels/portable.cuh includes in the host-compiler build.
// Parts: prelude (toolkit types, keywords), runtime (fibers, scheduler, pool, launch), device API,
// math and intrinsics, wmma. See kernels/README.md.
#pragma once
#include "kernels/simt/prelude.hpp"
#include "kernels/simt/runtime.hpp"
#include "kernels/simt/device.hpp"
#include "kernels/simt/math.hpp"
#include "kernels/simt/wmma.hpp"
