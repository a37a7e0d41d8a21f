// Tensor: a non-owning, row-major float32 view (shape + device), and Buffer, the RAII owner
// of the memory a backend hands out. Ops take Tensors; only the trainer and tests own Buffers.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "host/error.hpp"

namespace cuvae {

enum class Device { cpu, cuda };
std::string_view to_string(Device d);

struct Shape {
  static constexpr int kMaxRank = 4;
  std::array<std::int64_t, kMaxRank> dims{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> d);
  std::int64_t numel() const;
  std::int64_t operator[](int i) const { return dims[static_cast<std::size_t>(i)]; }
  bool operator==(const Shape& o) const { return rank == o.rank && dims == o.dims; }
  std::string str() const;  // "[128, 784]"
};

struct Tensor {
  float* data = nullptr;
  Shape shape;
  Device device = Device::cpu;

  std::int64_t numel() const { return shape.numel(); }
  std::int64_t rows() const { return shape.rank ? shape[0] : 1; }  // leading dimension
  std::int64_t cols() const { return shape.rank ? numel() / shape[0] : 1; }
  std::string str() const { return std::string(to_string(device)) + shape.str(); }
  // Rows [begin, begin+count) of a tensor of rank >= 1: a view, no copy.
  Tensor rows_view(std::int64_t begin, std::int64_t count) const;
};

class Backend;

// Owns `count` floats on a backend's device; movable, not copyable.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, Shape shape);
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  Tensor& tensor() { return view_; }
  const Tensor& tensor() const { return view_; }
  operator Tensor&() { return view_; }
  operator const Tensor&() const { return view_; }
  float* data() const { return view_.data; }
  std::int64_t numel() const { return view_.numel(); }

 private:
  Backend* backend_ = nullptr;
  Tensor view_;
};

}  // namespace cuvae
