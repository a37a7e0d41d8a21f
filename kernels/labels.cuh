// kernels/labels.cuh: the one-hot encoding of class labels (a conditional VAE's condition, written
// into column views of the encoder's and the decoder's input workspaces, so the concatenation
// [x | onehot(y)] costs no copy). out[b, j] = 1 if j == labels[b], else 0; a label outside 0..C-1
// is never used as an index: its row is all NaN (the data loader refuses such labels first).
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launcher: host/cuda/cuda_backend.cu. Reference: host/cpu/labels.cpp. Tests: tests/test_ops_labels.cpp.
#pragma once
#include "kernels/portable.cuh"

namespace cuvae::kernels::labels {
inline namespace CUVAE_BUILD {

// Grid-stride over the B*C elements of out [B, C] (rows ld apart: a column view of a wider buffer).
__global__ void one_hot(const int* __restrict__ labels, long long B, long long C, float* __restrict__ out,
                        long long ld) {
  const long long n = B * C;
  const float nan = __int_as_float(0x7fc00000);
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long b = i / C, j = i % C;
    const long long y = labels[b];
    out[b * ld + j] = y < 0 || y >= C ? nan : (j == y ? 1.f : 0.f);
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::labels
