// The hidden layers' activations and their derivatives for the CPU reference ops (linear, conv).
#pragma once
#include <type_traits>

#include "host/backend.hpp"
#include "kernels/sigmoid.cuh"

namespace cuvae::cpu {

inline float activate(Activation a, float v) {
  switch (a) {
    case Activation::relu: return v > 0.f ? v : 0.f;
    case Activation::sigmoid: return stable_sigmoid(v);
    case Activation::leaky_relu: return v > 0.f ? v : kLeakyReluSlope * v;
    case Activation::none: break;
  }
  return v;
}

// The derivative, written in terms of the output y = act(pre).
inline float derivative_from_output(Activation a, float y) {
  switch (a) {
    case Activation::relu: return y > 0.f ? 1.f : 0.f;
    case Activation::sigmoid: return y * (1.f - y);
    case Activation::leaky_relu: return y > 0.f ? 1.f : kLeakyReluSlope;  // slope > 0: y has the sign of pre
    case Activation::none: break;
  }
  return 1.f;
}

// f(std::integral_constant<Activation, a>{}): a loop in f that passes its argument to activate
// or derivative_from_output has the activation fixed at compile time, so it vectorises (one select
// or none per value instead of a switch).
template <class F>
decltype(auto) with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::relu: return f(std::integral_constant<Activation, Activation::relu>{});
    case Activation::sigmoid: return f(std::integral_constant<Activation, Activation::sigmoid>{});
    case Activation::leaky_relu: return f(std::integral_constant<Activation, Activation::leaky_relu>{});
    case Activation::none: break;
  }
  return f(std::integral_constant<Activation, Activation::none>{});
}

}  // namespace cuvae::cpu
