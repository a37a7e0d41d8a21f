// The generated shapes data set (see shapes.hpp).
#include "datasets/shapes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <mutex>
#include <numbers>
#include <thread>

#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"

namespace cuvae {
namespace {

constexpr double kExtent = 0.15;  // half the side of a scale-1 shape, as a share of the image
constexpr double kMargin = 0.22;  // > kExtent * sqrt(2): a rotated square at scale 1 stays inside

// splitmix64 (Steele et al. 2014): a well-mixed 64-bit value of its input.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Inside the unit shape (u, v in shape coordinates, v up): the square |u|, |v| <= 1; the ellipse
// with semi-axes 1 and 0.5; the heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 scaled to about [-1, 1].
bool inside(int shape, double u, double v) {
  switch (shape) {
    case 0: return std::fabs(u) <= 1 && std::fabs(v) <= 1;
    case 1: return u * u + 4 * v * v <= 1;
    default: {
      const double x = 1.15 * u, y = 1.15 * v + 0.1, r = x * x + y * y - 1;
      return r * r * r - x * x * y * y * y <= 0;
    }
  }
}

}  // namespace

const char* shape_name(int shape) {
  static constexpr const char* kNames[kShapeCount] = {"square", "ellipse", "heart"};
  return kNames[std::clamp(shape, 0, kShapeCount - 1)];
}

double ShapeFactors::scale_value() const { return 0.5 + 0.5 * scale / (kShapeScales - 1); }
double ShapeFactors::orientation_value() const { return orientation * 2 * std::numbers::pi / kShapeOrientations; }
double ShapeFactors::pos_x_value() const { return double(pos_x) / (kShapePositions - 1); }
double ShapeFactors::pos_y_value() const { return double(pos_y) / (kShapePositions - 1); }

ShapeFactors shape_factors(std::uint64_t seed, std::int64_t i) {
  std::uint64_t state = mix(mix(seed) ^ static_cast<std::uint64_t>(i));
  const auto draw = [&](int n) {
    state = mix(state);
    return static_cast<int>(state % static_cast<std::uint64_t>(n));  // bias below 2^-58
  };
  ShapeFactors f;
  f.shape = draw(kShapeCount), f.scale = draw(kShapeScales), f.orientation = draw(kShapeOrientations);
  f.pos_x = draw(kShapePositions), f.pos_y = draw(kShapePositions);
  return f;
}

std::vector<float> render_shape(const ShapeFactors& f, int size) {
  std::vector<float> img(static_cast<std::size_t>(size) * static_cast<std::size_t>(size), 0.f);
  const double span = size * (1 - 2 * kMargin);
  const double cx = size * kMargin + f.pos_x_value() * span, cy = size * kMargin + f.pos_y_value() * span;
  const double half = kExtent * size * f.scale_value(), a = f.orientation_value();
  const double c = std::cos(a), s = std::sin(a);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      // The pixel centre relative to the shape's, v up, rotated by -a, in units of `half`.
      const double dx = x + 0.5 - cx, dy = cy - (y + 0.5);
      const double u = (c * dx + s * dy) / half, v = (-s * dx + c * dy) / half;
      if (inside(f.shape, u, v)) img[static_cast<std::size_t>(y) * static_cast<std::size_t>(size) + static_cast<std::size_t>(x)] = 1.f;
    }
  return img;
}

std::int64_t make_shapes(const ShapesOptions& opt) {
  if (opt.count < 1 || opt.count > kShapesMaxCount)
    throw Error("--count " + std::to_string(opt.count) + ": want an integer in 1.." + std::to_string(kShapesMaxCount));
  if (opt.size < kShapesMinSize || opt.size > kShapesMaxSize)
    throw Error("--size " + std::to_string(opt.size) + ": want an integer in " + std::to_string(kShapesMinSize) + ".." +
                std::to_string(kShapesMaxSize));
  std::error_code ec;
  if (std::filesystem::exists(opt.out, ec) &&
      (!std::filesystem::is_directory(opt.out, ec) || !std::filesystem::is_empty(opt.out, ec)))
    throw Error("--out " + opt.out.string() + ": exists and is not an empty folder; name a new one");
  for (int k = 0; k < kShapeCount; ++k) std::filesystem::create_directories(opt.out / shape_name(k));

  const auto file = [&](std::int64_t i) {
    char name[64];
    std::snprintf(name, sizeof name, "%s/%07lld.png", shape_name(shape_factors(opt.seed, i).shape), static_cast<long long>(i));
    return std::string(name);
  };
  const int threads = static_cast<int>(std::clamp<std::int64_t>(
      opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), 1, opt.count));
  std::exception_ptr failure;
  std::mutex failure_lock;
  const auto work = [&](std::int64_t lo, std::int64_t hi) {
    try {
      for (std::int64_t i = lo; i < hi; ++i) {
        const std::vector<float> img = render_shape(shape_factors(opt.seed, i), opt.size);
        write_png_grid(opt.out / file(i), img.data(), 1, opt.size, opt.size, 1, 0);
      }
    } catch (...) {
      const std::lock_guard<std::mutex> hold(failure_lock);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, opt.count * t / threads, opt.count * (t + 1) / threads);
  work(0, opt.count / threads);
  for (std::thread& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);

  std::string csv = "file,shape,scale,orientation,pos_x,pos_y\n";
  for (std::int64_t i = 0; i < opt.count; ++i) {
    const ShapeFactors f = shape_factors(opt.seed, i);
    char row[160];
    std::snprintf(row, sizeof row, "%s,%s,%.1f,%.6f,%.6f,%.6f\n", file(i).c_str(), shape_name(f.shape), f.scale_value(),
                  f.orientation_value(), f.pos_x_value(), f.pos_y_value());
    csv += row;
  }
  write_file_atomic(opt.out / "factors.csv", csv);  // last: a folder with factors.csv is complete
  return opt.count;
}

}  // namespace cuvae
