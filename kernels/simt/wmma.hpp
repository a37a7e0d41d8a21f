// nvcuda::wmma for the SIMT build: each lane holds the whole tile (num_elements = rows * cols), so
// element-wise loops over frag.x stay correct; every op is warp-collective (checked via __syncwarp).
// Shapes: half and bf16 16x16x16, 32x8x16, 8x32x16; tf32 16x16x8. fp32 (or half) accumulation.
#pragma once
#include "kernels/simt/device.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <source_location>
#include <string>
#include <type_traits>

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
}

// cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero.
inline float __float_to_tf32(float x) {
  if (!std::isfinite(x)) return x;
  return std::bit_cast<float>((std::bit_cast<unsigned>(x) + 0x1000u) & 0xffffe000u);
}

namespace detail {
template <class T> struct storage { using type = T; };
template <> struct storage<precision::tf32> { using type = float; };
template <class T> float to_float(T v) { return float(v); }
inline float to_float(__half v) { return __half2float(v); }
inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T> T from_float(float v) { return T(v); }
template <> inline __half from_float<__half>(float v) { return __float2half(v); }
// Tensor cores read only the top 19 bits of a tf32 operand (truncation, unless the kernel rounded).
template <class T> float operand(float v) {
  return std::is_same_v<T, precision::tf32> ? std::bit_cast<float>(std::bit_cast<unsigned>(v) & 0xffffe000u) : v;
}
template <class T, int M, int N, int K> constexpr bool valid_shape() {
  if constexpr (std::is_same_v<T, precision::tf32>) return M == 16 && N == 16 && K == 8;
  else return K == 16 && ((M == 16 && N == 16) || (M == 32 && N == 8) || (M == 8 && N == 32));
}
inline bool col(layout_t l) { return l == mem_col_major; }
// What the GPU requires of a fragment's memory (CUDA C++ Programming Guide, warp matrix functions):
// a 256-bit aligned pointer and a leading dimension that is a multiple of 16 bytes. A GPU gives
// misaligned-address faults or wrong tiles otherwise; here it is reported like a trap.
template <class T>
void check_memory(const char* op, const T* p, unsigned ldm, const std::source_location& s) {
  if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0)
    cuvae::simt::die(std::string(op) + ": pointer " + std::to_string(reinterpret_cast<std::uintptr_t>(p)) +
                     " is not 32-byte (256-bit) aligned, at " + cuvae::simt::site_text(s));
  if (ldm * sizeof(T) % 16 != 0)
    cuvae::simt::die(std::string(op) + ": ldm " + std::to_string(ldm) + " (elements of " + std::to_string(sizeof(T)) +
                     " bytes) is not a multiple of 16 bytes, at " + cuvae::simt::site_text(s));
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, precision::tf32> ||
                    (std::is_same_v<Use, accumulator> && std::is_same_v<T, float>),
                "wmma (SIMT): supported element types are __half, __nv_bfloat16, precision::tf32 and float accumulators");
  static_assert(!std::is_same_v<Use, accumulator> || std::is_same_v<Layout, void>, "accumulators take no layout");
  static_assert(std::is_same_v<Use, accumulator> || !std::is_same_v<Layout, void>, "matrix_a/matrix_b need row_major or col_major");

 public:
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  enum { num_elements = rows * cols, num_storage_elements = rows * cols };
  using element_type = T;
  using storage_element_type = typename detail::storage<T>::type;
  storage_element_type x[num_elements];  // the whole tile, row-major, in every lane
};

template <class U, int M, int N, int K, class T, class L>
void fill_fragment(fragment<U, M, N, K, T, L>& f, const typename detail::storage<T>::type& v,
                   cuvae_simt_site s = cuvae_simt_site::current()) {
  __syncwarp(0xffffffffu, s);
  for (auto& e : f.x) e = v;
}

template <class U, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<U, M, N, K, T, L>& f, const typename detail::storage<T>::type* p, unsigned ldm,
                      cuvae_simt_site s = cuvae_simt_site::current()) {
  static_assert(!std::is_same_v<U, accumulator>, "accumulators are loaded with a layout_t argument");
  using F = fragment<U, M, N, K, T, L>;
  __syncwarp(0xffffffffu, s);
  detail::check_memory("load_matrix_sync", p, ldm, s);
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c) f.x[r * F::cols + c] = std::is_same_v<L, col_major> ? p[c * ldm + r] : p[r * ldm + c];
}

template <int M, int N, int K, class T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout,
                      cuvae_simt_site s = cuvae_simt_site::current()) {
  __syncwarp(0xffffffffu, s);
  detail::check_memory("load_matrix_sync", p, ldm, s);
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) f.x[r * N + c] = detail::col(layout) ? p[c * ldm + r] : p[r * ldm + c];
}

// One lane writes (all hold the same tile); the second __syncwarp makes the whole tile visible
// to every lane when store_matrix_sync returns, as on the GPU.
template <int M, int N, int K, class T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout,
                       cuvae_simt_site s = cuvae_simt_site::current()) {
  __syncwarp(0xffffffffu, s);
  detail::check_memory("store_matrix_sync", p, ldm, s);
  if (cuvae::simt::lane_id() == 0)
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < N; ++c) (detail::col(layout) ? p[c * ldm + r] : p[r * ldm + c]) = f.x[r * N + c];
  __syncwarp(0xffffffffu, s);
}

// D = A * B + C with exact products and fp32 accumulation in k order (tensor cores round differently:
// compare with tolerances).
template <int M, int N, int K, class TI, class LA, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TI, LA>& a,
              const fragment<matrix_b, M, N, K, TI, LB>& b, const fragment<accumulator, M, N, K, TC>& c,
              cuvae_simt_site s = cuvae_simt_site::current()) {
  static_assert(detail::valid_shape<TI, M, N, K>(), "wmma (SIMT): unsupported shape for this element type");
  static_assert(std::is_same_v<TC, float> || (std::is_same_v<TC, __half> && std::is_same_v<TI, __half>),
                "wmma (SIMT): accumulate in float, or in __half for __half inputs");
  __syncwarp(0xffffffffu, s);
  float out[M * N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = detail::to_float(c.x[i * N + j]);
      for (int k = 0; k < K; ++k)
        acc += detail::operand<TI>(detail::to_float(a.x[i * K + k])) * detail::operand<TI>(detail::to_float(b.x[k * N + j]));
      out[i * N + j] = acc;
    }
  for (int i = 0; i < M * N; ++i) d.x[i] = detail::from_float<TC>(out[i]);
}

}  // namespace nvcuda::wmma
