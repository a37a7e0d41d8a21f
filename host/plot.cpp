// Line charts with Cairo (see plot.hpp).
#include "host/plot.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "host/error.hpp"
#include "host/fileio.hpp"

namespace cuvae {
namespace {

// matplotlib's tab10
constexpr Rgb kColours[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

struct Surface {
  cairo_surface_t* s;
  ~Surface() { cairo_surface_destroy(s); }
};
struct Context {
  cairo_t* c;
  ~Context() { cairo_destroy(c); }
};

// Tick positions at 1, 2 or 5 x 10^k (at least min_step apart) covering [lo, hi], about `want` of them.
std::vector<double> ticks(double lo, double hi, int want, double min_step = 0) {
  const double raw = (hi - lo) / std::max(want, 1), mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = std::max(min_step, raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag);
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) t.push_back(std::fabs(v) < 1e-12 * step ? 0.0 : v);
  return t;
}

std::string label(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%g", v);
  return s;
}

cairo_status_t append_png(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// The chart of write_line_chart, or with `scatter` its scatter plot.
void chart(const std::filesystem::path& file, const std::vector<Series>& series, const std::string& title,
           const std::string& x_label, const std::string& y_label, int width, int height, bool scatter) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size()) throw Error(file.string() + ": series '" + s.name + "' has " + std::to_string(s.x.size()) +
                                              " x and " + std::to_string(s.y.size()) + " y values");
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
        x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]), y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
  }
  if (!(x0 <= x1)) throw Error(file.string() + ": a chart needs at least one finite point");
  bool integer_x = !scatter;  // epochs: ticks at whole numbers
  for (const Series& s : series)
    for (const double x : s.x) integer_x = integer_x && (!std::isfinite(x) || x == std::round(x));
  const bool log_y = !scatter && y0 > 0 && y1 / y0 > 20;
  const auto fy = [&](double v) { return log_y ? std::log10(v) : v; };
  double lo = fy(y0), hi = fy(y1);
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) lo -= 0.5, hi += 0.5;  // one value: a band around it
  const double pad = 0.05 * (hi - lo);
  lo -= pad, hi += pad;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (scatter) {
    const double xpad = 0.05 * (x1 - x0);
    x0 -= xpad, x1 += xpad;
  }

  const double left = 80, right = width - 190.0, top = 40, bottom = height - 55.0;
  const auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (right - left); };
  const auto py = [&](double y) { return bottom - (fy(y) - lo) / (hi - lo) * (bottom - top); };

  Surface surface{cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height)};
  Context cr{cairo_create(surface.s)};
  cairo_t* c = cr.c;
  cairo_set_source_rgb(c, 1, 1, 1);
  cairo_paint(c);
  cairo_select_font_face(c, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(c, 13);
  cairo_text_extents_t ext;
  const auto text = [&](const std::string& s, double x, double y, double align_x, double align_y) {
    cairo_text_extents(c, s.c_str(), &ext);
    cairo_move_to(c, x - align_x * ext.width - ext.x_bearing, y - align_y * ext.height - ext.y_bearing);
    cairo_show_text(c, s.c_str());
  };

  // Grid, ticks and their labels.
  cairo_set_line_width(c, 1);
  const auto grid = [&](double x, double y, double x2, double y2) {
    cairo_set_source_rgb(c, 0.88, 0.88, 0.88);
    cairo_move_to(c, x, y), cairo_line_to(c, x2, y2), cairo_stroke(c);
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  };
  for (const double t : ticks(x0, x1, 8, integer_x ? 1.0 : 0.0)) grid(px(t), top, px(t), bottom), text(label(t), px(t), bottom + 8, 0.5, 0);
  if (log_y) {
    for (double e = std::floor(lo); e <= hi; ++e)
      for (const double m : {1.0, 2.0, 5.0})
        if (const double v = m * std::pow(10.0, e); fy(v) >= lo && fy(v) <= hi)
          grid(left, py(v), right, py(v)), text(label(v), left - 8, py(v), 1, 0.5);
  } else {
    for (const double t : ticks(lo, hi, 6)) grid(left, py(t), right, py(t)), text(label(t), left - 8, py(t), 1, 0.5);
  }
  cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
  cairo_rectangle(c, left, top, right - left, bottom - top);
  cairo_stroke(c);
  text(x_label, 0.5 * (left + right), height - 12.0, 0.5, 1);
  cairo_save(c);
  cairo_translate(c, 18, 0.5 * (top + bottom));
  cairo_rotate(c, -M_PI / 2);
  text(y_label + (log_y ? " (log scale)" : ""), 0, 0, 0.5, 0.5);
  cairo_restore(c);
  cairo_set_font_size(c, 15);
  cairo_text_extents(c, title.c_str(), &ext);
  if (ext.width > width - 20.0) cairo_set_font_size(c, 15 * (width - 20.0) / ext.width);  // a long title: smaller, whole
  cairo_text_extents(c, title.c_str(), &ext);
  text(title, std::clamp(0.5 * (left + right), 10 + 0.5 * ext.width, width - 10 - 0.5 * ext.width), 14, 0.5, 0);
  cairo_set_font_size(c, 13);

  // The series, clipped to the plot, and the legend.
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const Rgb col = series_colour(k);
    if (scatter) {  // small translucent dots, so dense classes show their density
      cairo_set_source_rgba(c, col.r / 255.0, col.g / 255.0, col.b / 255.0, 0.55);
      for (std::size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
          cairo_arc(c, px(s.x[i]), py(s.y[i]), 1.8, 0, 2 * M_PI);
          cairo_fill(c);
        }
    }
    cairo_set_source_rgb(c, col.r / 255.0, col.g / 255.0, col.b / 255.0);
    cairo_set_line_width(c, 2.5);
    bool drawing = false;
    for (std::size_t i = 0; i < (scatter ? 0 : s.x.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (log_y && s.y[i] <= 0)) {
        drawing = false;
        continue;
      }
      drawing ? cairo_line_to(c, px(s.x[i]), py(s.y[i])) : cairo_move_to(c, px(s.x[i]), py(s.y[i]));
      drawing = true;
    }
    cairo_stroke(c);
    for (std::size_t i = 0; i < (scatter ? 0 : s.x.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && !(log_y && s.y[i] <= 0)) {
        cairo_arc(c, px(s.x[i]), py(s.y[i]), 3.5, 0, 2 * M_PI);
        cairo_fill(c);
      }
    const double ly = top + 12 + 22.0 * static_cast<double>(k);
    cairo_rectangle(c, right + 15, ly - 5, 28, 10);
    cairo_fill(c);
    cairo_set_source_rgb(c, 0.1, 0.1, 0.1);
    text(s.name, right + 52, ly, 0, 0.5);
  }

  std::string png;
  if (cairo_surface_write_to_png_stream(surface.s, append_png, &png) != CAIRO_STATUS_SUCCESS)
    throw Error(file.string() + ": cairo could not encode the chart");
  write_file_atomic(file, png);
}

}  // namespace

Rgb series_colour(std::size_t i) { return kColours[i % std::size(kColours)]; }

void write_line_chart(const std::filesystem::path& file, const std::vector<Series>& series, const std::string& title,
                      const std::string& x_label, const std::string& y_label, int width, int height) {
  chart(file, series, title, x_label, y_label, width, height, false);
}

void write_scatter_chart(const std::filesystem::path& file, const std::vector<Series>& series, const std::string& title,
                         const std::string& x_label, const std::string& y_label, int width, int height) {
  chart(file, series, title, x_label, y_label, width, height, true);
}

}  // namespace cuvae
