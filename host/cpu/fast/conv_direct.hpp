// The direct (unfold-free) path of the CPU Conv2d (conv_direct.cpp), for layers with few output
// channels, such as conv64's last layer, Conv2d(32, 3, 3, 1, 1) at 64x64: there im2col writes
// big_c * kh * kw values per output pixel to feed a GEMM of only M = out_c rows, so the unfold
// costs more than the multiply. Here each pass reads a zero-padded copy of one image's planes and
// accumulates shifted rows of it in vector registers, 16 output pixels by up to 4 channels at a
// time. One image per call, in a fixed order of its sums: the same bits for any thread count.
#pragma once
#include <cstdint>

#include "kernels/conv_shape.cuh"

namespace cuvae::cpu::fast::direct {

// Whether a layer takes this path: a Conv2d (not transposed) with stride 1, at most 4 output
// channels, padding below the kernel size (so the input gradient is a correlation with a padded
// gradient), kernels of at most 7.
bool fits(const ConvShape& s);

// Floats of scratch one image needs (the padded planes).
std::int64_t scratch(const ConvShape& s);

// y [out_c, h, w] = the correlation of one image x [in_c, H, W] with w [out_c, in_c, kh, kw]
// (no bias or activation).
void forward(const ConvShape& s, const float* x, const float* w, float* y, float* scratch);

// The weight [in_c, out_c, kh, kw] that input_grad takes: w's two channel axes swapped and each
// kernel turned by 180 degrees (in_c * out_c * kh * kw floats).
void flip_weight(const ConvShape& s, const float* w, float* flipped);

// dx [in_c, H, W] of one image from its dy [out_c, h, w], with flip_weight's `flipped`.
void input_grad(const ConvShape& s, const float* dy, const float* flipped, float* dx, float* scratch);

// dw [out_c, in_c, kh, kw] += the weight gradient of one image (x, dy).
void weight_grad_add(const ConvShape& s, const float* x, const float* dy, float* dw, float* scratch);

}  // namespace cuvae::cpu::fast::direct
