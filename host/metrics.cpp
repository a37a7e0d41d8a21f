// JSONL metrics append/read (see metrics.hpp).
#include "host/metrics.hpp"

#include <string>
#include <string_view>

#include "host/error.hpp"
#include "host/fileio.hpp"

namespace cuvae {
namespace {

// Metric logs are small (a line per logged step); this only stops a wrong path from
// pulling a huge file into memory.
constexpr std::uint64_t kMaxJsonlBytes = std::uint64_t(1) << 30;

}  // namespace

void append_jsonl(const std::filesystem::path& file, const nlohmann::json& record) {
  if (!record.is_object())
    throw Error(file.string() + ": a metrics record must be a JSON object, got " + record.type_name());
  std::string line;
  try {
    line = record.dump();  // one line: dump() without indent never emits a newline
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": cannot write metrics record: " + e.what());
  }
  std::error_code ec;
  std::string text;
  if (std::filesystem::exists(file, ec)) text = read_file(file, kMaxJsonlBytes);
  if (!text.empty() && text.back() != '\n') text.push_back('\n');  // a hand-edited last line
  text += line;
  text.push_back('\n');
  write_file_atomic(file, text);
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file) {
  const std::string text = read_file(file, kMaxJsonlBytes);
  std::vector<nlohmann::json> out;
  std::size_t start = 0, line_no = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank line
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(file.string() + ":" + std::to_string(line_no) + ": invalid JSON: " + e.what());
    }
  }
  return out;
}

}  // namespace cuvae
