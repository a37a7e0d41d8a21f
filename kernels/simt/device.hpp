// CUDA's device API for the SIMT build: barriers, warp collectives, atomics, fences, cache-hinted
// loads. Barriers and warp ops are scheduling points and record their call site for error reports.
#pragma once
#include "kernels/simt/runtime.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <source_location>
#include <type_traits>

namespace cuvae::simt {

inline std::uint64_t barrier(Op op, std::uint64_t pred, const std::source_location& s) {
  Lane& lane = current_lane(op_name(op), s);  // first: outside a kernel there is no worker either
  return tls_worker->barrier(lane, op, pred, s);
}
inline std::uint64_t warp_op(Op op, unsigned mask, std::uint64_t v, int arg, int width, const std::source_location& s) {
  Lane& lane = current_lane(op_name(op), s);
  return tls_worker->warp_op(lane, op, mask, v, arg, width, s);
}

// Warp ops move values as bits; CUDA shuffles 4- and 8-byte types (and __half, __nv_bfloat16).
template <class T>
std::uint64_t to_bits(const T& v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp shuffles take types of at most 8 bytes");
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof v);
  return u;
}
template <class T>
T from_bits(std::uint64_t u) {
  T v;
  std::memcpy(static_cast<void*>(&v), &u, sizeof v);  // T is trivially copyable (checked in to_bits)
  return v;
}

// Linear thread index in the block and lane in the warp, as CUDA numbers them (x fastest).
inline int thread_rank() { return int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)); }
inline unsigned lane_id() { return unsigned(thread_rank()) & 31u; }

template <class T>
T atomic_max(T* p, T v) {  // CAS loop: std::atomic_ref has no fetch_max
  std::atomic_ref<T> r(*p);
  T old = r.load(std::memory_order_relaxed);
  while (old < v && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}
  return old;
}
template <class T>
T atomic_min(T* p, T v) {
  std::atomic_ref<T> r(*p);
  T old = r.load(std::memory_order_relaxed);
  while (v < old && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}
  return old;
}

}  // namespace cuvae::simt

// Dynamic shared memory (the launch's smem_bytes, poisoned with 0xFF per block):
// `SIMT_DYNAMIC_SHARED(float, s);` declares `float* s`. nvcc's version is in kernels/portable.cuh.
#define SIMT_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::cuvae::simt::dynamic_shared_memory())

// ---- block barriers ---------------------------------------------------------------------------------
using cuvae_simt_site = std::source_location;  // short name for the defaulted call-site parameters

inline void __syncthreads(cuvae_simt_site s = cuvae_simt_site::current()) {
  cuvae::simt::barrier(cuvae::simt::Op::syncthreads, 0, s);
}
inline int __syncthreads_count(int pred, cuvae_simt_site s = cuvae_simt_site::current()) {
  return int(cuvae::simt::barrier(cuvae::simt::Op::syncthreads_count, pred != 0, s));
}
inline int __syncthreads_and(int pred, cuvae_simt_site s = cuvae_simt_site::current()) {
  return int(cuvae::simt::barrier(cuvae::simt::Op::syncthreads_and, pred != 0, s));
}
inline int __syncthreads_or(int pred, cuvae_simt_site s = cuvae_simt_site::current()) {
  return int(cuvae::simt::barrier(cuvae::simt::Op::syncthreads_or, pred != 0, s));
}

// ---- warp collectives -----------------------------------------------------------------------------
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, cuvae_simt_site s = cuvae_simt_site::current()) {
  using namespace cuvae::simt;
  return from_bits<T>(warp_op(Op::shfl, mask, to_bits(var), src_lane, width, s));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, cuvae_simt_site s = cuvae_simt_site::current()) {
  using namespace cuvae::simt;
  return from_bits<T>(warp_op(Op::shfl_up, mask, to_bits(var), int(std::min(delta, 32u)), width, s));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, cuvae_simt_site s = cuvae_simt_site::current()) {
  using namespace cuvae::simt;
  return from_bits<T>(warp_op(Op::shfl_down, mask, to_bits(var), int(std::min(delta, 32u)), width, s));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, cuvae_simt_site s = cuvae_simt_site::current()) {
  using namespace cuvae::simt;
  return from_bits<T>(warp_op(Op::shfl_xor, mask, to_bits(var), lane_mask, width, s));
}
inline unsigned __ballot_sync(unsigned mask, int pred, cuvae_simt_site s = cuvae_simt_site::current()) {
  return unsigned(cuvae::simt::warp_op(cuvae::simt::Op::ballot, mask, pred != 0, 0, 32, s));
}
inline int __any_sync(unsigned mask, int pred, cuvae_simt_site s = cuvae_simt_site::current()) {
  return int(cuvae::simt::warp_op(cuvae::simt::Op::any, mask, pred != 0, 0, 32, s));
}
inline int __all_sync(unsigned mask, int pred, cuvae_simt_site s = cuvae_simt_site::current()) {
  return int(cuvae::simt::warp_op(cuvae::simt::Op::all, mask, pred != 0, 0, 32, s));
}
inline void __syncwarp(unsigned mask = 0xffffffffu, cuvae_simt_site s = cuvae_simt_site::current()) {
  cuvae::simt::warp_op(cuvae::simt::Op::syncwarp, mask, 0, 0, 32, s);
}
// Emulated convergence: the lanes of the warp that wait at this same __activemask call.
inline unsigned __activemask(cuvae_simt_site s = cuvae_simt_site::current()) {
  return unsigned(cuvae::simt::warp_op(cuvae::simt::Op::activemask, 0xffffffffu, 0, 0, 32, s));
}

// ---- atomics: real atomics (blocks run on several OS threads), relaxed like CUDA's -----------------
// CUDA code orders memory around relaxed atomics with __threadfence. ThreadSanitizer does not
// model standalone fences, so under TSan the atomics are acq_rel instead (a fence and a relaxed
// atomic in one): otherwise every fence-based hand-off (split-K fix-ups, last-block reductions)
// would be reported as a race.
#define CUVAE_SIMT_ATOMIC(name, T, expr)                  \
  inline T name(T* address, T val) {                      \
    std::atomic_ref<T> ref(*address);                     \
    return expr;                                          \
  }
#if defined(__SANITIZE_THREAD__)
#define CUVAE_SIMT_RELAXED std::memory_order_acq_rel
#else
#define CUVAE_SIMT_RELAXED std::memory_order_relaxed
#endif
CUVAE_SIMT_ATOMIC(atomicAdd, int, ref.fetch_add(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAdd, unsigned, ref.fetch_add(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAdd, unsigned long long, ref.fetch_add(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAdd, float, ref.fetch_add(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAdd, double, ref.fetch_add(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicSub, int, ref.fetch_sub(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicSub, unsigned, ref.fetch_sub(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicExch, int, ref.exchange(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicExch, unsigned, ref.exchange(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicExch, unsigned long long, ref.exchange(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicExch, float, ref.exchange(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAnd, int, ref.fetch_and(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAnd, unsigned, ref.fetch_and(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicAnd, unsigned long long, ref.fetch_and(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicOr, int, ref.fetch_or(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicOr, unsigned, ref.fetch_or(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicOr, unsigned long long, ref.fetch_or(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicXor, int, ref.fetch_xor(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicXor, unsigned, ref.fetch_xor(val, CUVAE_SIMT_RELAXED))
CUVAE_SIMT_ATOMIC(atomicXor, unsigned long long, ref.fetch_xor(val, CUVAE_SIMT_RELAXED))
#undef CUVAE_SIMT_ATOMIC

#define CUVAE_SIMT_MINMAX(T)                                                                    \
  inline T atomicMax(T* address, T val) { return cuvae::simt::atomic_max(address, val); }      \
  inline T atomicMin(T* address, T val) { return cuvae::simt::atomic_min(address, val); }
CUVAE_SIMT_MINMAX(int)
CUVAE_SIMT_MINMAX(unsigned)
CUVAE_SIMT_MINMAX(long long)
CUVAE_SIMT_MINMAX(unsigned long long)
CUVAE_SIMT_MINMAX(float)  // not in CUDA: kernels/portable.cuh adds it for nvcc too (a CAS loop)
#undef CUVAE_SIMT_MINMAX

#define CUVAE_SIMT_CAS(T)                                                           \
  inline T atomicCAS(T* address, T compare, T val) {                                \
    std::atomic_ref<T>(*address).compare_exchange_strong(compare, val, CUVAE_SIMT_RELAXED); \
    return compare; /* the old value, whether or not it was replaced */            \
  }
CUVAE_SIMT_CAS(int)
CUVAE_SIMT_CAS(unsigned)
CUVAE_SIMT_CAS(unsigned long long)
#undef CUVAE_SIMT_CAS
#undef CUVAE_SIMT_RELAXED

inline unsigned atomicInc(unsigned* address, unsigned val) {  // ((old >= val) ? 0 : old + 1)
  std::atomic_ref<unsigned> r(*address);
  unsigned old = r.load(std::memory_order_relaxed);
  while (!r.compare_exchange_weak(old, old >= val ? 0u : old + 1, std::memory_order_relaxed)) {}
  return old;
}
inline unsigned atomicDec(unsigned* address, unsigned val) {  // ((old == 0 || old > val) ? val : old - 1)
  std::atomic_ref<unsigned> r(*address);
  unsigned old = r.load(std::memory_order_relaxed);
  while (!r.compare_exchange_weak(old, old == 0 || old > val ? val : old - 1, std::memory_order_relaxed)) {}
  return old;
}

// ---- fences, cache-hinted loads and stores, timing, traps ------------------------------------------
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }  // one OS thread per block

template <class T> T __ldg(const T* p) { return *p; }
template <class T> T __ldca(const T* p) { return *p; }
template <class T> T __ldcg(const T* p) { return *p; }
template <class T> T __ldcs(const T* p) { return *p; }
template <class T> T __ldlu(const T* p) { return *p; }
template <class T> T __ldcv(const T* p) { return *p; }
template <class T> void __stwb(T* p, T v) { *p = v; }
template <class T> void __stcg(T* p, T v) { *p = v; }
template <class T> void __stcs(T* p, T v) { *p = v; }
template <class T> void __stwt(T* p, T v) { *p = v; }

inline long long clock64() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
[[noreturn]] inline void __trap(cuvae_simt_site s = cuvae_simt_site::current()) {
  cuvae::simt::die("__trap() at " + cuvae::simt::site_text(s));
}
inline void __brkpt() { std::raise(SIGTRAP); }
