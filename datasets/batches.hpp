// Batching: the seeded per-epoch shuffle's key and name (the permutation itself is host/order.hpp:
// keyed by seed and epoch, the same on every backend and after a resume) and batch arithmetic
// (the last partial batch is kept).
#pragma once
#include <cstdint>
#include <vector>

#include "host/order.hpp"
#include "kernels/philox.cuh"

namespace cuvae {

// The shuffle's name, kept in checkpoints: a run stopped inside an epoch resumes only with the
// same scheme (another would repeat and skip rows of that epoch). Checkpoints written before the
// name was kept used "host-fisher-yates".
inline constexpr const char* kShuffleScheme = "philox-feistel8";

// The key of an epoch's order of the training rows.
inline RngKey shuffle_key(std::uint64_t seed, std::int64_t epoch) {
  return rng_key(seed, RngPurpose::shuffle, static_cast<std::uint64_t>(epoch));
}

inline std::int64_t batch_count(std::int64_t n, std::int64_t batch) { return (n + batch - 1) / batch; }

}  // namespace cuvae
