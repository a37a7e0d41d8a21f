// Validators for the command line: each flag's value is checked while parsing, so a bad value is
// a one-line error naming the flag and what it wants, with exit code 2 (see main.cpp).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace cuvae::cli {

// A finite number in [lo, hi] (open at a bound with `open_lo` / `open_hi`): nan, inf and text are refused.
CLI::Validator number(double lo, double hi, bool open_lo = false, bool open_hi = false);
// A finite number > 0, or >= 0.
CLI::Validator positive();
CLI::Validator non_negative();
// A decimal integer in [lo, hi]; no sign unless lo < 0, no wrap-around (-1 is not 2^64-1).
CLI::Validator integer(std::int64_t lo, std::int64_t hi);
// A 64-bit seed: decimal digits in 0..18446744073709551615.
CLI::Validator seed();
// A value its own parser accepts (parse_hidden, parse_noise, ...): the parser's message on error.
template <class Parse>
CLI::Validator parsed(Parse parse, const char* name) {
  return CLI::Validator(
      [parse](std::string& s) -> std::string {
        try {
          parse(s);
          return "";
        } catch (const std::exception& e) {
          return e.what();  // "--hidden '4,,5': ..." (main's failure message drops CLI11's "--hidden: ")
        }
      },
      name);
}
// An output file name: not empty, not an existing directory, symlink, device or FIFO.
CLI::Validator output_file();
// An output folder name: not empty.
CLI::Validator output_dir();
// cvae: a class label: a decimal integer in 0..65535, or "all".
CLI::Validator class_label();

}  // namespace cuvae::cli
