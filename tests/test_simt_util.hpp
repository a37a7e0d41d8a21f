// Helpers shared by the SIMT runtime tests (and test_simt_gpu.cu, their nvcc twin): deterministic inputs, NaN-poisoned outputs, a compare
// that reports the max error and the first mismatches, and a fixture for death tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/portable.cuh"

namespace simt_test {

// Sanitizer builds run the same tests at smaller sizes (nvcc builds, test_simt_gpu, never are).
#if defined(__CUDACC__)
inline constexpr bool kSanitized = false;
#else
inline constexpr bool kSanitized = cuvae::simt::san::active;
#endif

// Uniform values in [lo, hi), never all zero.
inline std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline std::vector<float> poisoned(std::size_t n) { return std::vector<float>(n, std::nanf("")); }

// Host memory aligned like cudaMalloc's (256 bytes), for kernels that need more than new's 16
// bytes from the global pointers they get (wmma fragments: 32).
template <class T>
struct DeviceAlignedAllocator {
  using value_type = T;
  DeviceAlignedAllocator() = default;
  template <class U>
  DeviceAlignedAllocator(const DeviceAlignedAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{256})); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{256}); }
  template <class U>
  bool operator==(const DeviceAlignedAllocator<U>&) const { return true; }
};
template <class T>
using device_vector = std::vector<T, DeviceAlignedAllocator<T>>;

// got[i] must be finite (written) and within tol * scale[i] of ref[i]; scale is |ref| by default
// (pass sum |a||b| for products, where cancellation makes |ref| meaningless).
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& ref, double tol,
                                            const std::vector<double>* scale = nullptr) {
  if (got.size() != ref.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << ref.size();
  double max_err = 0, max_rel = 0;
  int bad = 0;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double s = scale ? (*scale)[i] : std::fabs(ref[i]);
    const double err = std::fabs(double(got[i]) - ref[i]);
    const bool ok = std::isfinite(got[i]) && err <= tol * s + 1e-30;
    if (std::isfinite(got[i])) {
      max_err = std::max(max_err, err);
      max_rel = std::max(max_rel, s > 0 ? err / s : err);
    }
    if (!ok && bad++ < 5) {
      char b[160];
      std::snprintf(b, sizeof b, "\n  [%zu] got %.9g want %.9g (err %.3g, allowed %.3g)", i, got[i], ref[i], err, tol * s);
      first += b;
    }
  }
  char summary[160];
  std::snprintf(summary, sizeof summary, "%zu values: max abs err %.3g, max err/scale %.3g (tol %.3g)", got.size(), max_err,
                max_rel, tol);
  if (bad) return ::testing::AssertionFailure() << bad << " of " << summary << first;
  std::printf("  %s\n", summary);
  return ::testing::AssertionSuccess() << summary;
}

// Death tests must re-execute the binary ("threadsafe"): forking would lose the runtime's threads.
class DeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

}  // namespace simt_test
