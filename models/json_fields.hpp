// Strict, typed reading of a JSON object's fields (checkpoint metadata): every field must have
// the JSON type asked for (784.5 is not an integer, true is not a number, "1x" is not a seed),
// lie in its range, and be known. Errors are one line naming `where`, the field and the range.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cuvae {

class JsonFields {
 public:
  // `where`: "<file>: config" (prefixes every error). Throws unless `j` is an object.
  JsonFields(const nlohmann::json& j, std::string where);

  bool has(const char* key) const { return j_.contains(key); }
  // An integer (no fraction, no bool) in [lo, hi].
  std::int64_t integer(const char* key, std::int64_t lo, std::int64_t hi) const;
  // A finite number in [lo, hi]; with `open_lo` / `open_hi` the bound itself is excluded.
  double number(const char* key, double lo, double hi, bool open_lo = false, bool open_hi = false) const;
  std::string string(const char* key) const;
  // A seed: a string of decimal digits that fits 64 bits (JSON numbers lose bits past 2^53).
  std::uint64_t u64_string(const char* key) const;
  // A double written exactly as a string (%.17g), finite.
  double number_string(const char* key) const;
  // A list of integers in [lo, hi], at most `max_len` long.
  std::vector<int> int_list(const char* key, int lo, int hi, std::size_t max_len) const;
  // A nested object, read the same way.
  JsonFields object(const char* key) const;
  // Refuses any field not in `known`.
  void only(std::initializer_list<const char*> known) const;

  [[noreturn]] void fail(const char* key, const std::string& why) const;

 private:
  const nlohmann::json& at(const char* key) const;

  const nlohmann::json& j_;
  std::string where_;
};

}  // namespace cuvae
