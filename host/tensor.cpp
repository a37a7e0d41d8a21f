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

Tensor Tensor::rows_view(std::int64_t begin, std::int64_t count) const {
  CUVAE_CHECK(shape.rank >= 1 && begin >= 0 && count >= 0 && begin + count <= shape[0],
              "rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) + ") of " + str());
  Tensor t = *this;
  t.shape.dims[0] = count;
  t.data = data + begin * cols();
  return t;
}

Buffer::Buffer(Backend& backend, Shape shape) : backend_(&backend) {
  view_.shape = shape;
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
  }
  return "?";
}

AdamScalars adam_scalars(const AdamConfig& cfg, std::int64_t t) {
  CUVAE_CHECK(t >= 1, "adam step " + std::to_string(t) + " must be >= 1");
  const double bc1 = 1.0 - std::pow(cfg.beta1, double(t));
  const double bc2 = 1.0 - std::pow(cfg.beta2, double(t));
  return AdamScalars{static_cast<float>(cfg.beta1), static_cast<float>(1.0 - cfg.beta1),
                     static_cast<float>(cfg.beta2), static_cast<float>(1.0 - cfg.beta2),
                     static_cast<float>(cfg.lr / bc1), static_cast<float>(std::sqrt(bc2)),
                     static_cast<float>(cfg.eps), static_cast<float>(1.0 - cfg.lr * cfg.weight_decay)};
}

}  // namespace cuvae
