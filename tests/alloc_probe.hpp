// The largest single heap allocation since the last reset, so a reader test can prove that a
// lying header is refused before the reader allocates what it claims. Replacing the global
// operator new is the only hook there is: include this in exactly one source of a test binary.
#pragma once
#include <atomic>
#include <cstdlib>
#include <new>

// GCC cannot see that this operator new pairs with the free() below; tell it not to warn.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<std::size_t> g_largest_alloc{0};
}  // namespace

void* operator new(std::size_t n) {
  std::size_t prev = g_largest_alloc.load(std::memory_order_relaxed);
  while (n > prev && !g_largest_alloc.compare_exchange_weak(prev, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
