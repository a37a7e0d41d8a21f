// `cuvae make-shapes`: a generated dSprites-like data set (Matthey et al. 2017, the data set of the
// beta-VAE papers) for the 64x64 models: white shapes on black, binary pixels, with the generating
// factors of every image. Three shapes (square, ellipse, heart), six scales linearly spaced in
// [0.5, 1], forty orientations k * 2 pi / 40, and 32 x 32 positions in [0, 1] across the image,
// each drawn uniformly per image from a seeded generator.
//
// The folder: DIR/<shape>/<index>.png (class subfolders, so an image-folder reader gives the shape
// as the label) and DIR/factors.csv with one row per image: file (relative to DIR), shape, scale,
// orientation (radians), pos_x (left to right) and pos_y (top to bottom), each in [0, 1].
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cuvae {

constexpr int kShapeCount = 3, kShapeScales = 6, kShapeOrientations = 40, kShapePositions = 32;
constexpr int kShapesMaxCount = 1 << 22;
constexpr int kShapesMinSize = 16, kShapesMaxSize = 1024;
const char* shape_name(int shape);  // "square", "ellipse", "heart"

// One image's factors, as indices into the grids above.
struct ShapeFactors {
  int shape = 0, scale = 0, orientation = 0, pos_x = 0, pos_y = 0;
  double scale_value() const;        // 0.5 + 0.1 * scale
  double orientation_value() const;  // orientation * 2 pi / 40
  double pos_x_value() const;        // pos_x / 31
  double pos_y_value() const;        // pos_y / 31
};

// The factors of image i of a set drawn with `seed`: the same for any count and thread count.
ShapeFactors shape_factors(std::uint64_t seed, std::int64_t i);

// The size x size image (0 or 1 per pixel, row-major, y down): a pixel is white when its centre
// is inside the shape. At scale 1 the shape spans 0.3 of the image; its centre moves over
// [m, size - m] with the margin m = 0.22 size, so every orientation stays inside the frame.
std::vector<float> render_shape(const ShapeFactors& f, int size);

struct ShapesOptions {
  std::filesystem::path out;
  std::int64_t count = 20000;
  int size = 64;
  std::uint64_t seed = 1;
  int threads = 0;  // 0: all cores
};
// Writes the folder (refusing a non-empty `out`); returns the number of images.
std::int64_t make_shapes(const ShapesOptions& opt);

}  // namespace cuvae
