// host/cuda/arena.hpp: the CUDA backend's device memory arena (a few large allocations handed out
// in 256-byte aligned blocks, best fit, neighbours merged on release, a serial number per block so
// the backend can tell which captured graphs may use a released block). Included by
// host/cuda/cuda_backend.cu only, in both of its builds (device_api.hpp says which).
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "host/cuda/device_api.hpp"

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

// Device memory in a few large chunks, handed out in 256-byte aligned blocks (best fit, with
// neighbours merged on release). Chunks are kept until the backend goes. Every block gets a
// serial number, so the backend can tell which captured graphs may use a released block.
class Arena {
 public:
  static constexpr std::size_t kAlign = 256;
  static constexpr std::size_t kChunkBytes = std::size_t(64) << 20;

  Arena(std::string label, std::size_t limit) : label_(std::move(label)), limit_(limit) {}
  ~Arena() {
    for (Chunk& c : chunks_) device_api::free_memory(c.base);
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* allocate(std::size_t bytes) {
    bytes = std::max<std::size_t>(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
    auto [chunk, offset] = best_fit(bytes);
    if (chunk < 0) {
      grow(bytes);
      std::tie(chunk, offset) = best_fit(bytes);
    }
    Chunk& c = chunks_[static_cast<std::size_t>(chunk)];
    const std::size_t free_size = c.free.at(offset);
    c.free.erase(offset);
    if (free_size > bytes) c.free.emplace(offset + bytes, free_size - bytes);
    void* p = c.base + offset;
    live_.emplace(p, Block{static_cast<std::size_t>(chunk), offset, bytes, ++serial_});
    in_use_ += bytes;
    return p;
  }

  // The released block's serial; 0 for a pointer the arena did not hand out.
  std::uint64_t release(void* p) noexcept {
    auto it = live_.find(p);
    if (it == live_.end()) return 0;
    const Block b = it->second;
    live_.erase(it);
    in_use_ -= b.size;
    auto& free = chunks_[b.chunk].free;
    std::size_t offset = b.offset, size = b.size;
    auto next = free.lower_bound(offset);
    if (next != free.end() && next->first == offset + size) {
      size += next->second;
      next = free.erase(next);
    }
    if (next != free.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == offset) {
        offset = prev->first;
        size += prev->second;
        free.erase(prev);
      }
    }
    free.emplace(offset, size);
    return b.serial;
  }

  std::uint64_t last_serial() const { return serial_; }

 private:
  struct Chunk {
    char* base;
    std::size_t size;
    std::map<std::size_t, std::size_t> free;  // offset -> size
  };
  struct Block {
    std::size_t chunk, offset, size;
    std::uint64_t serial;
  };

  std::pair<long, std::size_t> best_fit(std::size_t bytes) const {
    long best = -1;
    std::size_t best_offset = 0, best_size = SIZE_MAX;
    for (std::size_t i = 0; i < chunks_.size(); ++i)
      for (const auto& [offset, size] : chunks_[i].free)
        if (size >= bytes && size < best_size) best = static_cast<long>(i), best_offset = offset, best_size = size;
    return {best, best_offset};
  }

  void grow(std::size_t bytes) {
    constexpr std::size_t kGranule = std::size_t(2) << 20;
    const std::size_t need = (bytes + kGranule - 1) / kGranule * kGranule;
    std::size_t size = std::max(need, kChunkBytes);
    if (reserved_ + size > limit_) size = need;  // the last bit below the limit
    if (reserved_ + size > limit_) out_of_memory(bytes, "the arena's limit");
    void* p = device_api::try_malloc(size);
    if (!p && size > need) p = device_api::try_malloc(size = need);
    if (!p) out_of_memory(bytes, "the device");
    chunks_.push_back(Chunk{static_cast<char*>(p), size, {{0, size}}});
    reserved_ += size;
  }

  [[noreturn]] void out_of_memory(std::size_t bytes, const char* refused_by) const {
    std::size_t free = 0, total = 0;
    try {
      device_api::memory_info(free, total);
    } catch (const Error&) {
    }
    throw Error(label_ + ": out of device memory: " + refused_by + " refused " + device_api::megabytes(bytes) + " (arena: " +
                device_api::megabytes(reserved_) + " reserved in " + std::to_string(chunks_.size()) + " chunks, " +
                device_api::megabytes(in_use_) + " in use, limit " + device_api::megabytes(limit_) + "; device: " +
                device_api::megabytes(free) + " free of " + device_api::megabytes(total) + ")");
  }

  std::string label_;
  std::size_t limit_;
  std::vector<Chunk> chunks_;
  std::unordered_map<void*, Block> live_;
  std::size_t reserved_ = 0, in_use_ = 0;
  std::uint64_t serial_ = 0;
};

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
