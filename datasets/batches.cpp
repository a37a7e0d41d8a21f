// Seeded per-epoch shuffle (see batches.hpp).
#include "datasets/batches.hpp"

#include <numeric>

#include "kernels/philox.cuh"

namespace cuvae {

std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const RngKey key = rng_key(seed, RngPurpose::shuffle, static_cast<std::uint64_t>(epoch));
  uint4 words{};
  for (std::int64_t i = n - 1, k = 0; i > 0; --i, ++k) {
    if (k % 4 == 0) words = philox_bits4(key, static_cast<std::uint64_t>(k / 4));
    const std::uint32_t w = k % 4 == 0 ? words.x : k % 4 == 1 ? words.y : k % 4 == 2 ? words.z : words.w;
    // Multiply-shift maps a 32-bit word onto [0, i]; the bias (< i / 2^32) is immaterial here.
    const auto j = static_cast<std::int64_t>((static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(i + 1)) >> 32);
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  return idx;
}

}  // namespace cuvae
