// What the CUDA backend (host/cuda/cuda_backend.cu, both of its builds) wraps each op in: an NVTX
// range named after the op and its shapes, the launches with that name and file:line in their
// errors (CUVAE_LAUNCH), and the stream it owns. Included by cuda_backend.cu only, after
// device_api.hpp (namespace device_api of this build).
#pragma once
#include <nvtx3/nvToolsExt.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "host/cuda/device_api.hpp"
#include "host/error.hpp"
#include "host/tensor.hpp"
#include "kernels/portable.cuh"  // cuvae::launch

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

inline std::string shapes_text(std::initializer_list<std::pair<const char*, const Tensor*>> tensors) {
  std::string s;
  for (const auto& [name, t] : tensors)
    if (t) s += std::string(s.empty() ? "" : " ") + name + t->shape.str();
  return s;
}

// One per op call: an NVTX range named "op shapes" (what Nsight Systems shows), and the context
// every launch failure of the op is reported with.
class OpScope {
 public:
  OpScope(const char* op, const std::string& shapes) : name_(shapes.empty() ? op : std::string(op) + " " + shapes) {
    nvtxRangePushA(name_.c_str());
  }
  ~OpScope() { nvtxRangePop(); }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
  const std::string& name() const { return name_; }

  template <class... P, class... A>
  void launch(const char* kernel_name, const char* file, int line, void (*kernel)(P...), dim3 grid, dim3 block,
              std::size_t smem, device_api::Stream stream, A&&... args) const {
    try {
      cuvae::launch(kernel, grid, block, smem, stream, std::forward<A>(args)...);
    } catch (const Error& e) {
      fail_at(file, line, name_ + ": " + kernel_name + ": " + e.what());
    }
  }

 private:
  std::string name_;
};
#define CUVAE_LAUNCH(scope, kernel, ...) (scope).launch(#kernel, __FILE__, __LINE__, kernel, __VA_ARGS__)

// The backend's stream, destroyed with it.
class StreamHolder {
 public:
  StreamHolder() : s_(device_api::create_stream()) {}
  ~StreamHolder() { device_api::destroy_stream(s_); }
  StreamHolder(const StreamHolder&) = delete;
  StreamHolder& operator=(const StreamHolder&) = delete;
  device_api::Stream get() const { return s_; }

 private:
  device_api::Stream s_;
};

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
