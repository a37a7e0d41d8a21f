// Line charts drawn with Cairo (Debian's libcairo2): the loss_curves.png every training run
// rewrites after each epoch.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace cuvae {

struct Series {
  std::string name;
  std::vector<double> x, y;  // the same length; non-finite points are left out
};

// The chart colours, in series order (RGB, 0..255), cycled after the last.
struct Rgb {
  unsigned char r, g, b;
};
Rgb series_colour(std::size_t i);

// A width x height PNG (RGB, written atomically): every series as a line with a marker per point,
// x and y axes with ticks at 1, 2 or 5 x 10^k (whole numbers on x when every x is one) and their labels, the axis titles, a title and a
// legend. The y axis is logarithmic when every value is positive and they span more than a factor
// of 20 (a VAE's reconstruction term and its KL term), else linear. At least one point is needed.
void write_line_chart(const std::filesystem::path& file, const std::vector<Series>& series, const std::string& title,
                      const std::string& x_label, const std::string& y_label, int width = 800, int height = 500);
// The same frame as a scatter plot: each series' points as small translucent dots (no lines),
// linear axes with a margin around the points; the legend names the series (a latent map's classes).
void write_scatter_chart(const std::filesystem::path& file, const std::vector<Series>& series, const std::string& title,
                         const std::string& x_label, const std::string& y_label, int width = 800, int height = 640);

}  // namespace cuvae
