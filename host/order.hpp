// host/order.hpp: an epoch's order of the training rows, the Philox permutation of
// kernels/philox.cuh, on the host (the CPU backend's order and the reference) and as the
// parameters the CUDA backend's shuffle kernel evaluates.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/philox.cuh"

namespace cuvae {

// The permutation of n rows under key; an Error unless n lies in 0..INT_MAX (device orders are int).
Permutation epoch_permutation(std::int64_t n, RngKey key);

// The order itself on the host: entry i is permute(epoch_permutation(n, key), i).
std::vector<std::int64_t> shuffled_indices(std::int64_t n, RngKey key);

}  // namespace cuvae
