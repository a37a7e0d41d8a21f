// Batching: the seeded per-epoch shuffle (Philox keyed by seed and epoch, so it is the same on
// every backend and after a resume) and batch arithmetic (the last partial batch is kept).
#pragma once
#include <cstdint>
#include <vector>

namespace cuvae {

// A permutation of 0..n-1 (Fisher-Yates driven by Philox words keyed by (seed, epoch)).
std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

inline std::int64_t batch_count(std::int64_t n, std::int64_t batch) { return (n + batch - 1) / batch; }

}  // namespace cuvae
