// TensorBoard event files (see tensorboard.hpp).
#include "host/tensorboard.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "host/error.hpp"

namespace cuvae {
namespace {

std::array<std::uint32_t, 256> crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

// Protocol buffer wire format: a varint, a field key (number << 3 | wire type), fixed-width values
// little-endian, length-delimited bytes.
void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) out.push_back(static_cast<char>((v & 0x7f) | 0x80)), v >>= 7;
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire) { varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire)); }
template <class T>
void fixed(std::string& out, int field, T value) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  key(out, field, sizeof(T) == 8 ? 1 : 5);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // x86-64 and every CUDA host: little-endian, as the wire format
  out.append(bytes, sizeof(T));
}
void integer(std::string& out, int field, std::int64_t v) {
  key(out, field, 0);
  varint(out, static_cast<std::uint64_t>(v));
}
void bytes(std::string& out, int field, std::string_view v) {
  key(out, field, 2);
  varint(out, v.size());
  out.append(v);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  static const std::array<std::uint32_t, 256> table = crc_table();  // immutable after its first use
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc32c(std::string_view data) {
  const std::uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::filesystem::path& dir, std::int64_t resume_step) {
  // TensorBoard reads a folder's event files in name order: this one's second is after every
  // earlier file's, even when a run is resumed within the second it stopped in.
  long long seconds = static_cast<long long>(now_seconds());
  const std::string prefix = "events.out.tfevents.";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    long long t = 0;
    if (std::sscanf(name.c_str() + prefix.size(), "%lld", &t) == 1 && t >= seconds) seconds = t + 1;
  }
  file_ = dir / (prefix + std::to_string(seconds) + ".cuvae." + std::to_string(::getpid()));
  std::string version, log, start;
  bytes(version, 3, "brain.Event:2");
  event(0, version);
  integer(start, 1, 1);  // SessionLog.status = START: the reader drops earlier files' events from this step on
  bytes(log, 7, start);
  event(resume_step + 1, log);
  flush();
}

void EventWriter::event(std::int64_t step, const std::string& body) {
  std::string e;
  fixed(e, 1, now_seconds());
  integer(e, 2, step);
  e += body;
  char length[8];
  const std::uint64_t n = e.size();
  std::memcpy(length, &n, 8);
  std::string record(length, 8);
  const std::uint32_t crc_length = masked_crc32c(record), crc_data = masked_crc32c(e);
  record.append(reinterpret_cast<const char*>(&crc_length), 4);
  record += e;
  record.append(reinterpret_cast<const char*>(&crc_data), 4);
  pending_ += record;
}

void EventWriter::scalar(const std::string& tag, std::int64_t step, double value) {
  std::string v, summary, body;
  bytes(v, 1, tag);
  fixed(v, 2, static_cast<float>(value));
  bytes(summary, 1, v);
  bytes(body, 5, summary);
  event(step, body);
}

void EventWriter::image(const std::string& tag, std::int64_t step, std::string_view png, int height, int width,
                        int channels) {
  std::string im, v, summary, body;
  integer(im, 1, height);
  integer(im, 2, width);
  integer(im, 3, channels);  // 1 grayscale, 3 RGB
  bytes(im, 4, png);
  bytes(v, 1, tag);
  bytes(v, 4, im);
  bytes(summary, 1, v);
  bytes(body, 5, summary);
  event(step, body);
}

// Appended, not rewritten under a temporary name as cuvae's other files are: TensorBoard follows
// an event file as it grows (a renamed new file would not be followed), and its reader ignores a
// last record that a crash cut short.
void EventWriter::flush() {
  if (pending_.empty()) return;
  const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(file_.string() + ": cannot open for appending: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t w = ::write(fd, pending_.data() + done, pending_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      throw Error(file_.string() + ": cannot append " + std::to_string(pending_.size()) + " bytes: " + std::strerror(err));
    }
    done += static_cast<std::size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) throw Error(file_.string() + ": fsync: " + std::strerror(err));
  pending_.clear();
}

}  // namespace cuvae
