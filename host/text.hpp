// Text from a file or a flag, as an error message quotes it: short, and with control bytes
// escaped, so the message stays one readable line whatever bytes the input holds.
#pragma once
#include <string>
#include <string_view>

namespace cuvae {

// At most max_len characters (then "..."); bytes below 0x20 and 0x7f as \xNN, and with
// `ascii_only` every byte above 0x7f too (for messages that may quote raw, non-UTF-8 bytes).
inline std::string printable(std::string_view s, std::size_t max_len = 80, bool ascii_only = false) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80)) {
      static constexpr const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace cuvae
