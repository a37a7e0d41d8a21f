// The one parallel loop of the fast CPU ops: a range cut into chunks whose size depends only on the
// op's shape, the chunks shared out to OpenMP threads (the pool OpenBLAS's OpenMP build runs its
// GEMMs on; cmake/CuvaeOpenBLAS.cmake). Every chunk computes the same values whichever thread runs
// it and however many there are, and no reduction crosses a chunk: an op's sums over rows are added
// afterwards, in row order, by the calling thread. So the results are the same bits for any thread
// count. Without OpenMP (the pthread OpenBLAS, the TSan build) the chunks run in order on the caller.
#pragma once
#include <algorithm>
#include <cstdint>

namespace cuvae::cpu::fast {

// About this many elements per chunk: big enough that a chunk outweighs handing it out (a few
// microseconds), small enough that a batch of 128 rows of 784 splits into several.
inline constexpr std::int64_t kChunkElements = 16384;

// Rows per chunk for rows of `cols` elements (at least 1).
inline std::int64_t rows_per_chunk(std::int64_t cols) { return std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(cols, 1)); }

// body(begin, end) for consecutive chunks [begin, end) of [0, n), `grain` items each (the last may
// be shorter), on up to `threads` threads. body must not throw (shapes are checked before).
template <class Body>
void for_chunks(int threads, std::int64_t n, std::int64_t grain, const Body& body) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t chunks = (n + grain - 1) / grain;
  const int team = static_cast<int>(std::min<std::int64_t>(std::max(threads, 1), chunks));
#if defined(_OPENMP)
  if (team > 1) {
#pragma omp parallel for num_threads(team) schedule(static)
    for (std::int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
    return;
  }
#else
  (void)team;
#endif
  for (std::int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
}

}  // namespace cuvae::cpu::fast
