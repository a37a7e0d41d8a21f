// What every fuzz target does with a parser's answer. A cuvae::Error is the expected answer to
// bad bytes, but it must be what the project promises: one line that names the input ("fuzz: ").
// Anything else (a crash, a sanitizer report, a leak, another exception escaping, a broken
// invariant of an accepted input) is a finding: abort, so libFuzzer saves the input.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "host/error.hpp"

namespace cuvae::fuzz {

// The name every parser is given; its errors must start with it.
inline constexpr std::string_view kName = "fuzz";

inline std::string_view as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void finding(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "FUZZ FINDING: %.*s%s%.*s\n", int(what.size()), what.data(), detail.empty() ? "" : ": ",
               int(detail.size()), detail.data());
  std::abort();
}

// With CUVAE_FUZZ_VERBOSE=1 in the environment, every rejection is printed (to see what the
// seeds exercise: `CUVAE_FUZZ_VERBOSE=1 fuzz_idx_images -runs=0 corpus/idx_images`).
inline void report(const Error& e) {
  static const bool verbose = [] {
    const char* v = std::getenv("CUVAE_FUZZ_VERBOSE");
    return v && *v == '1';
  }();
  if (verbose) std::fprintf(stderr, "rejected: %s\n", e.what());
}

// An Error from a parser: one line, naming the input.
inline void check_rejection(const Error& e) {
  report(e);
  const std::string_view msg = e.what();
  if (!msg.starts_with("fuzz: ")) finding("error does not name the input", msg);
  if (msg.find_first_of("\n\r") != std::string_view::npos) finding("error is not one line", msg);
}

inline void require(bool ok, const char* what) {
  if (!ok) finding("accepted input breaks an invariant", what);
}

}  // namespace cuvae::fuzz
