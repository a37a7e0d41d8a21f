// An epoch's order of the training rows (see order.hpp).
#include "host/order.hpp"

#include <climits>
#include <string>

#include "host/error.hpp"

namespace cuvae {

Permutation epoch_permutation(std::int64_t n, RngKey key) {
  CUVAE_CHECK(n >= 0 && n <= INT_MAX, "shuffle: " + std::to_string(n) + " rows is outside 0.." + std::to_string(INT_MAX));
  return make_permutation(key, static_cast<std::uint32_t>(n));
}

std::vector<std::int64_t> shuffled_indices(std::int64_t n, RngKey key) {
  const Permutation p = epoch_permutation(n, key);
  std::vector<std::int64_t> idx(p.n);
  for (std::uint32_t i = 0; i < p.n; ++i) idx[i] = permute(p, i);
  return idx;
}

}  // namespace cuvae
