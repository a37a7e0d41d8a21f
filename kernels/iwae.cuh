// kernels/iwae.cuh: the importance-weighted bound (Burda et al. 2015) of a VAE: a row repeat (each
// image's rows of [mu | logvar] and its target K times, so the existing reparameterize and
// likelihood ops run over the K samples as one batch of rows) and the per-image bound
//   log w_k = -recon_k + sum_l (eps_kl^2 - z_kl^2) / 2 + logvar_l / 2     (log p(x|z) + log p(z) - log q(z|x))
//   bound   = max_k log w_k + log(1/K sum_k exp(log w_k - max))          (a stable log-mean-exp)
//   elbo    = 1/K sum_k log w_k
// in double and in a fixed order (each block one image, thread t takes k = t, t + kThreads, ...
// in order, then a fixed tree), so a shape gives the same bits every run.
// Pure device code. Launchers: host/cuda/cuda_backend.cu. Reference: host/cpu/iwae.cpp.
#pragma once
#include "kernels/latent.cuh"
#include "kernels/portable.cuh"

namespace cuvae::kernels::iwae {
inline namespace CUVAE_BUILD {

using latent::View;

// dst[r, c] = src[r / K, c] over dst [n*K, C]. Grid-stride.
__global__ void repeat_rows(View src, long long n, long long C, int K, View dst) {
  const long long total = n * K * C;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = i / C, c = i % C;
    dst.at(r, c) = src.at(r / K, c);
  }
}

// log w of sample row r of image i (see the top of the file), in double.
__device__ __forceinline__ double iwae_log_weight(const float* __restrict__ recon, View eps, View z, View logvar,
                                                  long long i, long long r, int L) {
  double a = 0.0;
  for (int l = 0; l < L; ++l) {
    const double e = eps.at(r, l), zz = z.at(r, l);
    a += 0.5 * (e * e - zz * zz) + 0.5 * static_cast<double>(logvar.at(i, l));
  }
  return a - static_cast<double>(recon[r]);
}

// One block of kThreads per image i (grid-stride over images): bound[i] and elbo[i] (if given).
template <int kThreads>
__global__ void iwae_bound(const float* __restrict__ recon, View eps, View z, View logvar, long long n, int K, int L,
                           float* __restrict__ bound, float* __restrict__ elbo) {
  __shared__ double s[kThreads];
  const int t = static_cast<int>(threadIdx.x);
  for (long long i = blockIdx.x; i < n; i += gridDim.x) {
    double m = -INFINITY, mean = 0.0;
    for (long long k = t; k < K; k += kThreads) {
      const double w = iwae_log_weight(recon, eps, z, logvar, i, i * K + k, L);
      m = w > m ? w : m;
      mean += w;
    }
    s[t] = m;
    __syncthreads();
    for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
      if (t < stride && s[t + stride] > s[t]) s[t] = s[t + stride];
      __syncthreads();
    }
    const double top = s[0];
    __syncthreads();
    double sum = 0.0;
    for (long long k = t; k < K; k += kThreads) sum += exp(iwae_log_weight(recon, eps, z, logvar, i, i * K + k, L) - top);
    s[t] = sum;
    __syncthreads();
    for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
      if (t < stride) s[t] += s[t + stride];
      __syncthreads();
    }
    if (t == 0) bound[i] = static_cast<float>(top + log(s[0] / K));
    __syncthreads();
    if (elbo) {
      s[t] = mean;
      __syncthreads();
      for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
      }
      if (t == 0) elbo[i] = static_cast<float>(s[0] / K);
      __syncthreads();
    }
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::iwae
