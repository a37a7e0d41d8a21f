// Strict JSON field reading (see json_fields.hpp).
#include "models/json_fields.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "host/error.hpp"
#include "host/text.hpp"

namespace cuvae {
namespace {

std::string kind_of(const nlohmann::json& v) {
  if (v.is_number_float()) return "the number " + v.dump();
  if (v.is_number()) return "the integer " + v.dump();
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return std::string("the boolean ") + (v.get<bool>() ? "true" : "false");
  return std::string(v.type_name() == std::string("array") || v.type_name() == std::string("object") ? "an " : "a ") +
         v.type_name();
}

std::string num(double v) {
  if (v >= std::numeric_limits<double>::max()) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

JsonFields::JsonFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
  if (!j_.is_object()) throw Error(where_ + ": not a JSON object (it is " + kind_of(j_) + ")");
}

void JsonFields::fail(const char* key, const std::string& why) const {
  throw Error(where_ + ": field '" + key + "' " + why);
}

const nlohmann::json& JsonFields::at(const char* key) const {
  auto it = j_.find(key);
  if (it == j_.end()) fail(key, "is missing");
  return *it;
}

std::int64_t JsonFields::integer(const char* key, std::int64_t lo, std::int64_t hi) const {
  const nlohmann::json& v = at(key);
  const std::string range = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  if (!v.is_number_integer()) fail(key, "is " + kind_of(v) + ", want " + range);
  const bool in = v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi) &&
                                               static_cast<std::int64_t>(v.get<std::uint64_t>()) >= lo
                                         : v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  if (!in) fail(key, "is " + v.dump() + ", want " + range);
  return v.get<std::int64_t>();
}

double JsonFields::number(const char* key, double lo, double hi, bool open_lo, bool open_hi) const {
  const nlohmann::json& v = at(key);
  const bool unbounded = hi >= std::numeric_limits<double>::max();
  const std::string range = std::string("a number in ") + (open_lo ? "(" : "[") + num(lo) + ", " + num(hi) +
                            (open_hi || unbounded ? ")" : "]");
  if (!v.is_number()) fail(key, "is " + kind_of(v) + ", want " + range);
  const double x = v.get<double>();
  if (!std::isfinite(x) || (open_lo ? !(x > lo) : !(x >= lo)) || (open_hi ? !(x < hi) : !(x <= hi)))
    fail(key, "is " + v.dump() + ", want " + range);
  return x;
}

std::string JsonFields::string(const char* key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_string()) fail(key, "is " + kind_of(v) + ", want a string");
  return v.get<std::string>();
}

std::uint64_t JsonFields::u64_string(const char* key) const {
  const std::string s = string(key);
  std::uint64_t x = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (s.empty() || s[0] == '-' || s[0] == '+' || ec != std::errc() || end != s.data() + s.size())
    fail(key, "is \"" + printable(s, 40) + "\", want a decimal integer in 0..18446744073709551615");
  return x;
}

double JsonFields::number_string(const char* key) const {
  const std::string s = string(key);
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(x))
    fail(key, "is \"" + printable(s, 40) + "\", want a finite number");
  return x;
}

std::vector<int> JsonFields::int_list(const char* key, int lo, int hi, std::size_t max_len) const {
  const nlohmann::json& v = at(key);
  const std::string want = "a list of at most " + std::to_string(max_len) + " integers in " + std::to_string(lo) +
                           ".." + std::to_string(hi);
  if (!v.is_array() || v.size() > max_len) fail(key, "is " + kind_of(v) + (v.is_array() ? " of " + std::to_string(v.size()) : "") + ", want " + want);
  std::vector<int> out;
  for (const nlohmann::json& e : v) {
    const bool ok = e.is_number_integer() && e.get<std::int64_t>() >= lo && e.get<std::int64_t>() <= hi &&
                    !(e.is_number_unsigned() && e.get<std::uint64_t>() > static_cast<std::uint64_t>(hi));
    if (!ok) fail(key, "holds " + (e.is_number() ? e.dump() : kind_of(e)) + ", want " + want);
    out.push_back(static_cast<int>(e.get<std::int64_t>()));
  }
  return out;
}

JsonFields JsonFields::object(const char* key) const { return JsonFields(at(key), where_ + "." + key); }

void JsonFields::only(std::initializer_list<const char*> known) const {
  for (const auto& [k, v] : j_.items()) {
    bool ok = false;
    for (const char* name : known) ok = ok || k == name;
    if (!ok) throw Error(where_ + ": unknown field '" + printable(k, 60) + "'");
  }
}

}  // namespace cuvae
