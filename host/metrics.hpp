// JSONL metrics: one JSON object per line (step, loss, timings...), appended as training goes.
#pragma once
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

namespace cuvae {

// Appends `record` (a JSON object) as one line. Follows the project's rule that files are
// written to a temporary name and renamed: the existing file is read (bounded), the line
// added and the whole written back, so a crash leaves either the old or the new file.
// One writer per file: concurrent appenders from several processes would lose lines.
void append_jsonl(const std::filesystem::path& file, const nlohmann::json& record);

// Reads every non-blank line; a line that is not valid JSON throws
// Error("<file>:<line>: invalid JSON: ...").
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file);

}  // namespace cuvae
