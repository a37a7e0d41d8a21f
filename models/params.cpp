// ParamStore: flat parameter, gradient and Adam-moment buffers (see params.hpp).
#include "models/params.hpp"

#include <algorithm>
#include <cmath>

namespace cuvae {
namespace {
// FNV-1a of the parameter's name: the init stream of a parameter does not move when another
// parameter is added before it.
std::uint64_t name_hash(const std::string& name) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

std::size_t ParamStore::add(std::string name, Shape shape, std::int64_t fan_in, float fill) {
  CUVAE_CHECK(values_.data() == nullptr, "ParamStore::add(" + name + ") after allocate()");
  CUVAE_CHECK(!find(name) && !has_buffer(name), "duplicate parameter " + name);
  infos_.push_back(ParamInfo{std::move(name), shape, total_, fan_in, fill});
  total_ += shape.numel();
  return infos_.size() - 1;
}

std::size_t ParamStore::add_buffer(std::string name, Shape shape, float fill) {
  CUVAE_CHECK(values_.data() == nullptr, "ParamStore::add_buffer(" + name + ") after allocate()");
  CUVAE_CHECK(!find(name) && !has_buffer(name), "duplicate buffer " + name);
  buffer_infos_.push_back(ParamInfo{std::move(name), shape, buffer_total_, 0, fill});
  buffer_total_ += shape.numel();
  return buffer_infos_.size() - 1;
}

bool ParamStore::has_buffer(std::string_view name) const {
  for (const ParamInfo& b : buffer_infos_)
    if (b.name == name) return true;
  return false;
}

void ParamStore::allocate(Backend& backend) {
  CUVAE_CHECK(total_ > 0, "ParamStore::allocate with no parameters");
  values_ = Buffer(backend, Shape{total_});
  grads_ = Buffer(backend, Shape{total_});
  m_ = Buffer(backend, Shape{total_});
  v_ = Buffer(backend, Shape{total_});
  backend.fill(grads_, 0.f);
  backend.fill(m_, 0.f);
  backend.fill(v_, 0.f);
  if (buffer_total_ == 0) return;
  buffers_ = Buffer(backend, Shape{buffer_total_});
  std::vector<float> host(static_cast<std::size_t>(buffer_total_));
  for (const ParamInfo& b : buffer_infos_)
    std::fill_n(host.begin() + b.offset, b.shape.numel(), b.fill);
  backend.to_device(buffers_, host.data());
}

Tensor ParamStore::buffer(std::size_t i) const {
  CUVAE_CHECK(i < buffer_infos_.size() && buffers_.data(), "buffer index " + std::to_string(i));
  Tensor t = buffers_.tensor();
  t.data = buffers_.data() + buffer_infos_[i].offset;
  t.shape = buffer_infos_[i].shape;
  return t;
}

void ParamStore::init_uniform(Backend& backend, std::uint64_t seed) {
  std::vector<float> host(static_cast<std::size_t>(total_));
  for (const ParamInfo& p : infos_) {
    if (p.fan_in <= 0) {  // not drawn (PCA's tensors are fitted; BatchNorm's weight and bias)
      std::fill_n(host.begin() + p.offset, p.shape.numel(), p.fill);
      continue;
    }
    const float bound = 1.f / std::sqrt(static_cast<float>(p.fan_in));
    const RngKey key = rng_key(seed, RngPurpose::init, name_hash(p.name));
    const std::int64_t n = p.shape.numel();
    for (std::int64_t g = 0; g * 4 < n; ++g) {
      float4 u = philox_uniform4(key, static_cast<std::uint64_t>(g));  // (0, 1]
      for (unsigned k = 0; k < 4 && g * 4 + k < n; ++k)
        host[static_cast<std::size_t>(p.offset + g * 4 + k)] = (2.f * float4_at(u, k) - 1.f) * bound;
    }
  }
  backend.to_device(values_, host.data());
}

std::optional<std::size_t> ParamStore::find(std::string_view name) const {
  for (std::size_t i = 0; i < infos_.size(); ++i)
    if (infos_[i].name == name) return i;
  return std::nullopt;
}

Tensor ParamStore::slice(const Buffer& b, std::size_t i) const {
  CUVAE_CHECK(i < infos_.size() && b.data(), "parameter index " + std::to_string(i));
  Tensor t = b.tensor();
  t.data = b.data() + infos_[i].offset;
  t.shape = infos_[i].shape;
  return t;
}

Tensor ParamStore::span(const Buffer& b, std::size_t first, std::size_t count) const {
  Tensor t = slice(b, first);
  for (std::size_t i = first + 1; i < first + count; ++i) {
    const ParamInfo& p = infos_[i];
    const ParamInfo& prev = infos_[i - 1];
    CUVAE_CHECK(p.offset == prev.offset + prev.shape.numel() && p.shape.rank == t.shape.rank,
                "parameters " + prev.name + " and " + p.name + " are not adjacent and alike");
    for (int d = 1; d < p.shape.rank; ++d)
      CUVAE_CHECK(p.shape[d] == t.shape[d], "trailing shapes of " + p.name + " and " + infos_[first].name + " differ");
    t.shape.dims[0] += p.shape[0];
  }
  return t;
}

}  // namespace cuvae
