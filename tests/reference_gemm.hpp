// The plain double-precision GEMM the sample-kernel tests compare against, shared by the SIMT
// (test_simt_samples.cpp) and GPU (test_simt_gpu.cu) builds of those tests.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

// C = A * B in double; scale = sum |a||b| (the error bound's natural unit).
inline void reference_gemm(int M, int N, int K, const std::vector<float>& A, const std::vector<float>& B,
                           std::vector<double>& C, std::vector<double>& scale) {
  C.assign(std::size_t(M) * N, 0.0);
  scale.assign(std::size_t(M) * N, 0.0);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j) {
        const double p = double(A[i * K + k]) * B[k * N + j];
        C[i * N + j] += p;
        scale[i * N + j] += std::fabs(p);
      }
}
