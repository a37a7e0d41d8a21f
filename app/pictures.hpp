// Pictures of a model's latent space on demand: `cuvae interpolate` (decoded straight lines, or
// great-circle arcs, between the codes of test images) and `cuvae manifold` (a grid over two latent
// dimensions, the others at zero, as the Keras VAE example's 2-D manifold) and `cuvae latent-map`
// (the test codes as a scatter plot by label), with the code arithmetic they share, for tests.
#pragma once
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/train.hpp"
#include "datasets/idx.hpp"

namespace cuvae {

constexpr int kMaxPictureSteps = 64;

// `steps` codes from z0 to z1 (both [L], ends included) as rows [steps, L]: z0 + t (z1 - z0), or
// with `spherical` the slerp sin((1-t) w)/sin w z0 + sin(t w)/sin w z1, w the angle between them
// (a straight line when w is below 1e-6 or within 1e-6 of pi, where the arc is not defined).
// In float64, rounded once.
std::vector<float> line_codes(std::span<const float> z0, std::span<const float> z1, int steps, bool spherical);

// The grid over latent dimensions a and b (the others zero), rows [steps * steps, L]: row r,
// column c has z_a = -span + 2 span c / (steps - 1) and z_b = span - 2 span r / (steps - 1) (z_b
// up the page, as the Keras example draws it).
std::vector<float> manifold_codes(int L, int a, int b, double span, int steps);

// The pixel means [n, input_dim] (host) of the codes z [n, L] (host, n <= the model's batch),
// decoded given `labels` (a cvae's, one per row; empty for another model).
std::vector<float> decode_codes(Backend& backend, Model& model, const std::vector<float>& z, std::int64_t n,
                                const std::vector<std::int32_t>& labels = {});

// One strip, as host pixels of steps + 2 images: test image `from`, the decodings of
// line_codes(code(from), code(to)), test image `to`. The codes are encode's (a cvae's given each
// image's label; it decodes the strip given `label`, or image from's label when label < 0).
std::vector<float> interpolation_strip(Backend& backend, Model& model, const Dataset& test, std::int64_t from,
                                       std::int64_t to, int steps, bool spherical, int label = -1);

struct InterpolateOptions {
  DataOptions data;
  std::filesystem::path checkpoint, out = "interpolation.png";
  std::vector<std::int64_t> from, to;  // one strip per pair, as many of each
  int steps = 10;
  bool spherical = false;  // --slerp
  std::string label;       // a cvae: the class it decodes with (default: each strip's first image's)
  std::int64_t test_limit = 0;
  RunOptions run;
};
// Writes one PNG, a strip per row; returns the number of strips.
int interpolate_checkpoint(const InterpolateOptions& opt, std::ostream& out);

// --dims "a,b": two latent dimensions (integers from 0; checked against the model later).
std::pair<int, int> parse_dims(std::string_view text);

struct ManifoldOptions {
  std::filesystem::path checkpoint, out = "manifold.png";
  int dim_a = 0, dim_b = 1;
  double span = 3;
  int steps = 20;
  std::string label;  // a cvae: a class, or all (a grid per class, one under the other)
  RunOptions run;
};
// Writes one PNG of steps x steps images (a cvae with --label all: one grid per class, stacked);
// returns the number of grids.
int manifold_checkpoint(const ManifoldOptions& opt, std::ostream& out);

// The first two principal axes of codes [n, L] (L >= 2), in float64: the points' coordinates on
// them, x then y ([n] each, about the codes' mean), and the share of the codes' variance the two
// carry. Each axis' sign is fixed (its largest entry positive), so two runs draw the same map.
struct Projection {
  std::vector<double> x, y;
  double explained = 1.0;
};
Projection principal_plane(const std::vector<float>& codes, std::int64_t n, int L);

struct LatentMapOptions {
  DataOptions data;
  std::filesystem::path checkpoint, out = "latent_map.png";
  std::int64_t test_limit = 0;
  RunOptions run;
};
// latent_map.png: the test split's codes (encode's: a vae's posterior means) as a scatter plot, a
// colour per label with a legend (the class folders' names when the data has them); a 2-D code
// directly, a longer one on principal_plane (said in the title). Returns the images drawn.
std::int64_t latent_map_checkpoint(const LatentMapOptions& opt, std::ostream& out);

}  // namespace cuvae
