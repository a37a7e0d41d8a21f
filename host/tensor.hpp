// Tensor: a non-owning, row-major view (shape, row stride, element type, device), and Buffer, the
// RAII owner of the memory a backend hands out. Ops take Tensors; models and tests own Buffers.
// A row stride wider than the row makes a column view of a wider buffer a tensor of its own, so a
// concatenation costs nothing: each producer writes its own columns.
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

// Element types; both 4 bytes, so a buffer is counted in elements either way. int32 holds class
// labels (gathered with the images through the same order).
enum class DType { f32, i32 };

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
  Shape drop_first() const;  // [a, b, c] -> [b, c]
};

struct Tensor {
  float* data = nullptr;  // int32 elements for DType::i32 (see ints())
  Shape shape;
  Device device = Device::cpu;
  std::int64_t ld = 0;    // elements from one row to the next; 0: dense (ld = cols)
  DType dtype = DType::f32;

  std::int64_t numel() const { return shape.numel(); }
  std::int64_t rows() const { return shape.rank ? shape[0] : 1; }  // leading dimension
  std::int64_t cols() const { return shape.rank ? shape.drop_first().numel() : 1; }  // the product of the other dimensions
  std::int64_t row_stride() const { return ld ? ld : cols(); }
  bool dense() const { return ld == 0 || ld == cols() || rows() <= 1; }
  std::int32_t* ints() const { return reinterpret_cast<std::int32_t*>(data); }
  std::string str() const;  // "cpu[128, 784]", with the stride when not dense: "cpu[128, 20; ld 40]"
  // Rows [begin, begin+count) of a tensor of rank >= 1: a view, no copy.
  Tensor rows_view(std::int64_t begin, std::int64_t count) const;
  // Columns [begin, begin+count) of a rank-2 tensor: a view with this tensor's row stride.
  Tensor cols_view(std::int64_t begin, std::int64_t count) const;
};

class Backend;

// Owns `count` floats on a backend's device; movable, not copyable.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, Shape shape, DType dtype = DType::f32);
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
