// TensorBoard event files, written without TensorFlow: TFRecord framing (the record's length as
// uint64 little-endian, the masked CRC32C of those 8 bytes, the data, the masked CRC32C of the
// data) around tensorflow.Event protocol buffers encoded by hand (wall_time = 1, step = 2,
// file_version = 3, summary = 5, session_log = 7; Summary.Value: tag = 1, simple_value = 2,
// image = 4; Summary.Image: height = 1, width = 2, colorspace = 3, encoded_image_string = 4).
// `tensorboard --logdir runs` shows every run folder that has one.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cuvae {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's mask of it:
// ((crc >> 15) | (crc << 17)) + 0xa282ead8.
std::uint32_t crc32c(std::string_view data);
std::uint32_t masked_crc32c(std::string_view data);

// One run's event file, dir/events.out.tfevents.<unix seconds>.cuvae.<pid> (named after every
// earlier event file in dir). Events are buffered and appended (then flushed to the disk) by
// flush(); a record cut short by a crash is the last one, and TensorBoard's reader stops there.
class EventWriter {
 public:
  // The first event names the file version, the second is a SessionLog START at step
  // resume_step + 1: TensorBoard then drops the earlier files' events from that step on (what a
  // resumed run repeats, or all of an earlier run trained into the same folder from step 0).
  EventWriter(const std::filesystem::path& dir, std::int64_t resume_step);
  void scalar(const std::string& tag, std::int64_t step, double value);
  // An image summary of PNG bytes (colorspace: 1 grayscale, 3 RGB).
  void image(const std::string& tag, std::int64_t step, std::string_view png, int height, int width, int channels = 1);
  void flush();
  const std::filesystem::path& file() const { return file_; }

 private:
  void event(std::int64_t step, const std::string& body);

  std::filesystem::path file_;
  std::string pending_;
};

}  // namespace cuvae
