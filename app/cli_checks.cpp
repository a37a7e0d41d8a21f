// Command-line validators (see cli_checks.hpp).
#include "app/cli_checks.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "host/fileio.hpp"

namespace cuvae::cli {
namespace {

std::string shown(const std::string& s) { return "'" + s.substr(0, 40) + (s.size() > 40 ? "...'" : "'"); }

std::string bound(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

CLI::Validator number(double lo, double hi, bool open_lo, bool open_hi) {
  const std::string want = std::string("a number in ") + (open_lo ? "(" : "[") + bound(lo) + ", " + bound(hi) +
                           (open_hi ? ")" : "]");
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(s.c_str(), &end);
        const bool in = (open_lo ? x > lo : x >= lo) && (open_hi ? x < hi : x <= hi);
        if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(x) || !in)
          return "want " + want + ", got " + shown(s);
        return "";
      },
      "NUMBER");
}

CLI::Validator positive() { return number(0, HUGE_VAL, true, true); }
CLI::Validator non_negative() { return number(0, HUGE_VAL, false, true); }

CLI::Validator integer(std::int64_t lo, std::int64_t hi) {
  const std::string want = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        std::int64_t x = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || x < lo || x > hi)
          return "want " + want + ", got " + shown(s);
        return "";
      },
      "INT");
}

CLI::Validator seed() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::uint64_t x = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (s.empty() || s[0] == '-' || ec != std::errc() || end != s.data() + s.size())
          return "want an integer in 0..18446744073709551615, got " + shown(s);
        return "";
      },
      "SEED");
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        try {
          check_output_file(s);
          return "";
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      "FILE");
}

CLI::Validator output_dir() {
  return CLI::Validator([](std::string& s) -> std::string { return s.empty() ? "empty folder name" : ""; }, "DIR");
}

// cvae
CLI::Validator class_label() {
  const CLI::Validator number = integer(0, 65535);
  return CLI::Validator(
      [number](std::string& s) -> std::string {
        if (s == "all") return "";
        std::string copy = s;
        return number(copy).empty() ? "" : "want a class number in 0..65535 or all, got " + shown(s);
      },
      "Y|all");
}

}  // namespace cuvae::cli
