// ParamStore: every parameter of a model in one contiguous buffer, with its gradient and Adam
// moments in three more buffers of the same layout, so the optimizer is one pass; and the model's
// buffers (PyTorch's register_buffer: BatchNorm's running statistics), saved and loaded with the
// parameters under their state-dict names but neither differentiated nor optimized.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/backend.hpp"

namespace cuvae {

struct ParamInfo {
  std::string name;      // PyTorch state_dict name, e.g. "fc1.weight"
  Shape shape;
  std::int64_t offset;   // in floats, into the flat buffers
  std::int64_t fan_in;   // for PyTorch's default initialisation bound 1/sqrt(fan_in); 0: `fill`
  float fill = 0.f;      // the initial value of a tensor not drawn (BatchNorm's weight 1, bias 0)
};

class ParamStore {
 public:
  // Registers a parameter; returns its index. Call before allocate().
  std::size_t add(std::string name, Shape shape, std::int64_t fan_in, float fill = 0.f);
  // Registers a buffer that starts at `fill`; returns its index. Call before allocate().
  std::size_t add_buffer(std::string name, Shape shape, float fill);
  // Allocates values, grads and both moments on the backend; moments start at zero, buffers at
  // their fill values.
  void allocate(Backend& backend);
  // PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases,
  // drawn from Philox (seed, init, a hash of the parameter's name), so it is the same on every
  // backend and does not move when a parameter is added. fan_in 0: the parameter's fill value.
  void init_uniform(Backend& backend, std::uint64_t seed);

  const std::vector<ParamInfo>& infos() const { return infos_; }
  std::optional<std::size_t> find(std::string_view name) const;
  bool has_buffer(std::string_view name) const;
  std::int64_t total() const { return total_; }
  const std::vector<ParamInfo>& buffer_infos() const { return buffer_infos_; }
  std::int64_t buffer_total() const { return buffer_total_; }

  Tensor value(std::size_t i) const { return slice(values_, i); }
  Tensor grad(std::size_t i) const { return slice(grads_, i); }
  // A view over the consecutive parameters [first, first+count) of equal trailing shape, as
  // one tensor with their leading dimensions added (fc21.weight + fc22.weight -> one GEMM).
  Tensor value_span(std::size_t first, std::size_t count) const { return span(values_, first, count); }
  Tensor grad_span(std::size_t first, std::size_t count) const { return span(grads_, first, count); }

  const Tensor& values() const { return values_.tensor(); }
  const Tensor& grads() const { return grads_.tensor(); }
  const Tensor& adam_m() const { return m_.tensor(); }
  const Tensor& adam_v() const { return v_.tensor(); }
  Tensor buffer(std::size_t i) const;
  const Tensor& buffers() const { return buffers_.tensor(); }  // empty when there are none

 private:
  Tensor slice(const Buffer& b, std::size_t i) const;
  Tensor span(const Buffer& b, std::size_t first, std::size_t count) const;

  std::vector<ParamInfo> infos_, buffer_infos_;
  std::int64_t total_ = 0, buffer_total_ = 0;
  Buffer values_, grads_, m_, v_, buffers_;
};

}  // namespace cuvae
