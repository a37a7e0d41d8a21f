// Test helpers shared by the op tests: host tensors, seeded random data, and a comparison
// that checks NaN/inf first, then the max error against a tolerance scaled to the reference
// (tol * max|ref|, so one wrong tile cannot hide behind an average), printing the first
// mismatches.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "host/cpu/fast/pool.hpp"
#include "host/error.hpp"
#include "host/tensor.hpp"

namespace cuvae::test {

struct HostTensor {
  std::vector<float> v;
  Shape shape;
  explicit HostTensor(Shape s, float fill = 0.f) : v(static_cast<std::size_t>(s.numel()), fill), shape(s) {}
  Tensor t() { return Tensor{v.data(), shape, Device::cpu}; }
  float& operator[](std::size_t i) { return v[i]; }
};

inline HostTensor random_tensor(Shape s, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  HostTensor h(s);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& x : h.v) x = d(rng);
  return h;
}

// Poison value for outputs: NaN, so an element a kernel never wrote fails the comparison.
// A CPU thread pool for one call of a fast op: *test::pool(threads).
inline std::unique_ptr<cpu::fast::Pool> pool(int threads) { return std::make_unique<cpu::fast::Pool>(threads); }

inline HostTensor poisoned(Shape s) { return HostTensor(s, std::nanf("")); }

inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& ref, double rtol,
                                            const std::string& what) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs reference " << ref.size();
  double scale = 0;
  for (double r : ref) scale = std::max(scale, std::fabs(r));
  const double tol = rtol * std::max(scale, 1e-30);
  double worst = 0;
  std::size_t worst_i = 0, bad = 0;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::fabs(got[i] - ref[i]) : INFINITY;
    if (e > worst) worst = e, worst_i = i;
    if (e > tol && bad++ < 5)
      first += " [" + std::to_string(i) + "] got " + std::to_string(got[i]) + " want " + std::to_string(ref[i]) + ";";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size() << " elements off (max error "
                                       << worst << " at " << worst_i << ", tolerance " << tol << " = " << rtol
                                       << " * max|ref| " << scale << ");" << first;
}

inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& ref, double rtol,
                                            const std::string& what) {
  return all_close(got, std::vector<double>(ref.begin(), ref.end()), rtol, what);
}

// A fresh folder per test case (and `name`), under the build's test-output/: ctest runs the cases
// as parallel processes. Every test target defines CUVAE_BINARY_DIR (cmake/CuvaeTest.cmake).
inline std::filesystem::path fresh_dir(const std::string& name = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path d = std::filesystem::path(CUVAE_BINARY_DIR) / "test-output" /
                            (std::string(info->test_suite_name()) + "." + info->name()) / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Runs f and returns the cuvae::Error message it threw, or a marker if it threw none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no cuvae::Error thrown>";
}

// Runs `cmd` through the shell (a reference script), appending what it prints to `output`;
// returns its exit code, or -1 when it could not start or did not exit.
inline int run_command(const std::string& cmd, std::string& output) {
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// s in single quotes for the shell.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Where .ci/setup installs the PyPI packages the reference scripts need ($CUVAE_PYDEPS, else
// ~/.cache/cuvae/pydeps), and Debian's python3 with them on its path.
inline std::string pydeps() {
  const char* env = std::getenv("CUVAE_PYDEPS");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/cuvae/pydeps";
}
// The Python the reference scripts run under: $CUVAE_PYTHON (profiling/gpu_check.sh sets it where
// the image's numpy and torch are not under /usr/bin), else Debian's /usr/bin/python3.
inline std::string python_path() {
  const char* env = std::getenv("CUVAE_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}
inline std::string python() { return shell_quote(python_path()); }
// Whether that Python imports `modules` ("torch", "numpy, PIL"): the reference tests skip without.
inline bool python_has(const std::string& modules) {
  return std::system((python() + " -c " + shell_quote("import " + modules) + " >/dev/null 2>&1").c_str()) == 0;
}
inline std::string python_prefix() { return "PYTHONPATH=" + shell_quote(pydeps()) + " " + python() + " "; }

// Central finite difference of a scalar function of one element of `x`, in double steps.
template <class F>
double central_difference(std::vector<float>& x, std::size_t i, double h, F&& f) {
  const float saved = x[i];
  x[i] = static_cast<float>(saved + h);
  const double up = f();
  x[i] = static_cast<float>(saved - h);
  const double down = f();
  x[i] = saved;
  return (up - down) / (2 * h);
}

}  // namespace cuvae::test
