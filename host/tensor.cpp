// Tensor, Shape and Buffer basics.
#include "host/tensor.hpp"

#include "host/backend.hpp"

#include <cmath>

namespace cuvae {

std::string_view to_string(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

Shape::Shape(std::initializer_list<std::int64_t> d) {
  CUVAE_CHECK(d.size() <= kMaxRank, "rank " + std::to_string(d.size()) + " > " + std::to_string(kMaxRank));
  for (std::int64_t v : d) {
    CUVAE_CHECK(v >= 0, "negative dimension in shape");
    dims[static_cast<std::size_t>(rank++)] = v;
  }
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[static_cast<std::size_t>(i)];
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[static_cast<std::size_t>(i)]);
  }
  return s + "]";
}

Shape Shape::drop_first() const {
  Shape s;
  for (int i = 1; i < rank; ++i) s.dims[static_cast<std::size_t>(s.rank++)] = dims[static_cast<std::size_t>(i)];
  return s;
}

std::string Tensor::str() const {
  std::string s = std::string(to_string(device)) + (dtype == DType::i32 ? " int32" : "") + shape.str();
  if (!dense()) s.insert(s.size() - 1, "; ld " + std::to_string(ld));
  return s;
}

Tensor Tensor::rows_view(std::int64_t begin, std::int64_t count) const {
  CUVAE_CHECK(shape.rank >= 1 && begin >= 0 && count >= 0 && begin + count <= shape[0],
              "rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) + ") of " + str());
  Tensor t = *this;
  t.ld = row_stride();
  t.shape.dims[0] = count;
  t.data = data + begin * row_stride();
  if (t.ld == t.cols()) t.ld = 0;
  return t;
}

Tensor Tensor::cols_view(std::int64_t begin, std::int64_t count) const {
  CUVAE_CHECK(shape.rank == 2 && begin >= 0 && count >= 0 && begin + count <= shape[1],
              "columns [" + std::to_string(begin) + ", " + std::to_string(begin + count) + ") of " + str());
  Tensor t = *this;
  t.ld = row_stride();
  t.shape.dims[1] = count;
  t.data = data + begin;
  if (t.ld == count) t.ld = 0;
  return t;
}

Buffer::Buffer(Backend& backend, Shape shape, DType dtype) : backend_(&backend) {
  view_.shape = shape;
  view_.dtype = dtype;
  view_.device = backend.device();
  view_.data = shape.numel() ? backend.allocate(shape.numel()) : nullptr;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    if (backend_ && view_.data) backend_->release(view_.data);
    backend_ = o.backend_;
    view_ = o.view_;
    o.backend_ = nullptr;
    o.view_ = Tensor{};
  }
  return *this;
}

Buffer::~Buffer() {
  if (backend_ && view_.data) backend_->release(view_.data);
}

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::leaky_relu: return "leaky_relu";
  }
  return "?";
}

}  // namespace cuvae
