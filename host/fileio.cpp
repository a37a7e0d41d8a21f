// Whole-file reads and atomic writes (see fileio.hpp).
#include "host/fileio.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/error.hpp"

namespace cuvae {
namespace {

// "a FIFO", "a directory", ...: what a non-regular file is, for messages.
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Opens for reading with O_NONBLOCK (so a FIFO without a writer cannot block open()), checks
// that it is a regular file, then switches back to blocking reads.
int open_regular(const std::filesystem::path& path, std::uint64_t& size) {
  if (path.empty()) throw Error("empty file name");
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) throw Error(path.string() + ": no such file");
    throw Error(path.string() + ": cannot open: " + std::strerror(e));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t mode = st.st_mode;
    ::close(fd);
    throw Error(path.string() + ": is " + file_kind(mode) + ", expected a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

}  // namespace

std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  std::uint64_t size = 0;
  const int fd = open_regular(path, size);
  if (size > max_bytes) {
    ::close(fd);
    throw Error(path.string() + ": " + std::to_string(size) + " bytes, larger than the " + std::to_string(max_bytes) +
                "-byte limit");
  }
  std::string out;
  try {
    out.reserve(static_cast<std::size_t>(size));
  } catch (const std::exception& e) {  // bad_alloc, length_error
    ::close(fd);
    throw Error(path.string() + ": cannot allocate " + std::to_string(size) + " bytes to read the file: " + e.what());
  }
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      throw Error(path.string() + ": read error: " + std::strerror(e));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {  // the file grew while being read
      ::close(fd);
      throw Error(path.string() + ": larger than the " + std::to_string(max_bytes) + "-byte limit");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::FILE* open_regular_file(const std::filesystem::path& path, std::uint64_t& size) {
  const int fd = open_regular(path, size);
  std::FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    const int e = errno;
    ::close(fd);
    throw Error(path.string() + ": cannot open: " + std::strerror(e));
  }
  return f;
}

void check_output_file(const std::filesystem::path& path, const std::string& what) {
  const std::string name = what.empty() ? path.string() : what + " " + path.string();
  if (path.empty()) throw Error(what.empty() ? std::string("empty file name") : what + ": empty file name");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw Error(name + ": is " + file_kind(st.st_mode) + "; refusing to replace it (name a regular file)");
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  check_output_file(path);
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw Error(tmp.string() + ": cannot create: " + std::strerror(errno));
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(tmp.string() + ": write failed: " + std::strerror(e));
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(tmp.string() + ": flush failed: " + std::strerror(e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": rename from temporary failed: " + std::strerror(e));
  }
}

int remove_stale_temporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0 || at + 5 == name.size()) continue;
    const std::string pid_text = name.substr(at + 5);
    if (pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    const bool gone = pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
    std::error_code rec;
    if (gone && entry.is_regular_file(rec) && std::filesystem::remove(entry.path(), rec)) ++removed;
  }
  return removed;
}

}  // namespace cuvae
