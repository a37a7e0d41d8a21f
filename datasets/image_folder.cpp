// Image folders (see image_folder.hpp): the listing, the threaded decode and the cache file.
#include "datasets/image_folder.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "datasets/image_decode.hpp"
#include "host/error.hpp"
#include "host/fileio.hpp"

namespace cuvae {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'C', 'U', 'V', 'A', 'E', 'I', 'M', '1'};
constexpr std::size_t kHeaderBytes = 64;  // fixed fields; class names, labels and flags follow
constexpr std::uint64_t kMaxImageFileBytes = std::uint64_t(1) << 30;

bool is_image_file(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return e == ".png" || e == ".jpg" || e == ".jpeg";
}

struct Fnv {
  std::uint64_t h = 14695981039346656037ull;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void str(const std::string& s) { bytes(s.data(), s.size() + 1); }  // with its terminator
  template <class T>
  void value(T v) { bytes(&v, sizeof v); }
};

FolderEntry entry_of(const fs::path& root, const fs::path& file, std::uint8_t label, bool test) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw Error(file.string() + ": cannot read: " + std::strerror(errno));
  FolderEntry e;
  const std::string f = file.generic_string(), r = root.generic_string();  // file lies under root (listed from it)
  e.path = f.compare(0, r.size(), r) == 0 ? f.substr(r.size() + (r.ends_with('/') ? 0 : 1)) : f;
  e.label = label, e.test = test, e.size = static_cast<std::uint64_t>(st.st_size);
  e.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return e;
}

// The direct entries of dir, sorted: subfolders (less `skip`) and image files.
void list_dir(const fs::path& dir, const std::string& skip, std::vector<fs::path>& dirs, std::vector<fs::path>& files) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) {
      if (it->path().filename() != skip) dirs.push_back(it->path());
    } else if (is_image_file(it->path())) {
      files.push_back(it->path());
    }
  }
  if (ec) throw Error(dir.string() + ": cannot list: " + ec.message());
  std::sort(dirs.begin(), dirs.end()), std::sort(files.begin(), files.end());
}

// One split's files under dir: flat, or one class folder each (classes: the training split's,
// filled by it and checked against by the test split).
void list_split(const fs::path& root, const fs::path& dir, const std::string& skip, bool test,
                std::vector<std::string>& classes, std::vector<FolderEntry>& out) {
  std::vector<fs::path> dirs, files;
  list_dir(dir, skip, dirs, files);
  if (!dirs.empty() && !files.empty())
    throw Error(dir.string() + ": holds images (" + files.front().filename().string() + ") beside class folders (" +
                dirs.front().filename().string() + "/); put every image in a class folder, or none");
  if (dirs.empty() && files.empty())
    throw Error(dir.string() + ": no PNG or JPEG images (want a flat folder of images, or one subfolder per class)");
  if (test && dirs.empty() != classes.empty())
    throw Error(dir.string() + (dirs.empty() ? ": flat, but the training split has class folders"
                                             : ": has class folders, but the training split is flat"));
  for (const fs::path& f : files) out.push_back(entry_of(root, f, kNoLabel, test));
  if (!test) {
    if (dirs.size() > std::size_t(kMaxFolderClasses))
      throw Error(dir.string() + ": " + std::to_string(dirs.size()) + " class folders, more than the " +
                  std::to_string(kMaxFolderClasses) + " cuvae takes");
    for (const fs::path& d : dirs) classes.push_back(d.filename().string());
  }
  for (const fs::path& d : dirs) {
    const std::string name = d.filename().string();
    const auto at = std::find(classes.begin(), classes.end(), name);
    if (at == classes.end())
      throw Error(d.string() + ": a test class folder the training split does not have");
    std::vector<fs::path> images;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(d, fs::directory_options::follow_directory_symlink, ec), end;
         !ec && it != end; it.increment(ec))
      if (!it->is_directory(ec) && is_image_file(it->path())) images.push_back(it->path());
    if (ec) throw Error(d.string() + ": cannot list: " + ec.message());
    if (images.empty()) throw Error(d.string() + ": a class folder without PNG or JPEG images");
    std::sort(images.begin(), images.end());
    for (const fs::path& f : images) out.push_back(entry_of(root, f, std::uint8_t(at - classes.begin()), test));
  }
}

std::uint64_t listing_digest(const FolderListing& l, const DataOptions& opt) {
  Fnv f;
  f.str("cuvae image folder v1");
  f.value(opt.image_size), f.value(opt.channels), f.value(opt.skip_bad);
  for (const std::string& c : l.classes) f.str(c);
  for (const FolderEntry& e : l.files) f.str(e.path), f.value(e.label), f.value(e.test), f.value(e.size), f.value(e.mtime_ns);
  return f.h;
}

void put64(std::string& s, std::size_t at, std::uint64_t v) { std::memcpy(s.data() + at, &v, 8); }
std::uint64_t get64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The bytes before the pixels: header, class names, labels, test flags, padded to 64.
std::size_t prefix_bytes(const std::vector<std::string>& classes, std::int64_t count) {
  std::size_t names = 0;
  for (const std::string& c : classes) names += c.size() + 1;
  return (kHeaderBytes + names + 2 * std::size_t(count) + 63) / 64 * 64;
}

// The decoded images of a folder in a cache file's layout (written as it is, or kept in memory).
struct Assembled {
  std::shared_ptr<std::string> bytes;
  std::size_t pixels_at = 0;
};

Assembled assemble(const FolderImages& meta, std::uint64_t digest, const std::vector<DecodedImage>& images,
                   const std::vector<std::int64_t>& kept) {
  const std::size_t at = prefix_bytes(meta.classes, meta.count), dim = std::size_t(meta.shape.dim());
  auto s = std::make_shared<std::string>(at + dim * std::size_t(meta.count), '\0');
  std::memcpy(s->data(), kMagic, 8);
  put64(*s, 8, digest), put64(*s, 16, std::uint64_t(meta.count));
  put64(*s, 24, std::uint64_t(meta.shape.channels) | (std::uint64_t(meta.shape.height) << 32));
  put64(*s, 32, std::uint64_t(meta.shape.width) | (std::uint64_t(meta.has_test_folder) << 32));
  put64(*s, 40, std::uint64_t(meta.skipped)), put64(*s, 48, meta.classes.size());
  std::size_t p = kHeaderBytes;
  for (const std::string& c : meta.classes) std::memcpy(s->data() + p, c.c_str(), c.size() + 1), p += c.size() + 1;
  std::memcpy(s->data() + p, meta.labels.data(), meta.labels.size()), p += meta.labels.size();
  std::memcpy(s->data() + p, meta.test.data(), meta.test.size());
  const int C = meta.shape.channels, plane = meta.shape.height * meta.shape.width;
  for (std::size_t i = 0; i < kept.size(); ++i) {  // HWC -> CHW
    const DecodedImage& im = images[std::size_t(kept[i])];
    auto* dst = reinterpret_cast<std::uint8_t*>(s->data() + at + i * dim);
    for (int q = 0; q < plane; ++q)
      for (int c = 0; c < C; ++c) dst[std::size_t(c) * std::size_t(plane) + std::size_t(q)] = im.pixels[std::size_t(q * C + c)];
  }
  return {s, at};
}

struct Mapping {
  void* p = nullptr;
  std::size_t n = 0;
  ~Mapping() {
    if (p) ::munmap(p, n);
  }
};

std::string seconds_text(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f s", s);
  return b;
}

}  // namespace

FolderListing list_image_folder(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root.string() + ": not a folder");
  FolderListing l;
  l.root = root;
  const bool train_dir = fs::is_directory(root / "train", ec), test_dir = fs::is_directory(root / "test", ec);
  l.has_test_folder = test_dir;
  list_split(root, train_dir && test_dir ? root / "train" : root, test_dir && !train_dir ? "test" : "", false, l.classes,
             l.files);
  if (test_dir) list_split(root, root / "test", "", true, l.classes, l.files);
  return l;
}

fs::path default_cache_dir() {
  if (const char* c = std::getenv("CUVAE_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "cuvae" / "images";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "cuvae" / "images";
}

fs::path folder_cache_file(const DataOptions& opt) {
  std::error_code ec;
  fs::path root = fs::weakly_canonical(opt.path, ec);
  if (ec) root = fs::absolute(opt.path);
  Fnv f;
  f.str(root.string()), f.value(opt.image_size), f.value(opt.channels), f.value(opt.skip_bad);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(f.h));
  const std::string name = root.filename().empty() ? "root" : root.filename().string();
  return (opt.cache.empty() ? default_cache_dir() : opt.cache) / (name + "-" + hex + ".images");
}

FolderImages read_folder_cache(const fs::path& file, std::uint64_t digest) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(std::strerror(errno));
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0;
  auto map = std::make_shared<Mapping>();
  map->n = ok ? std::size_t(st.st_size) : 0;
  if (ok && map->n >= kHeaderBytes) map->p = ::mmap(nullptr, map->n, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->p == MAP_FAILED) map->p = nullptr;
  if (!map->p) throw Error("shorter than its header");
  const auto* b = static_cast<const unsigned char*>(map->p);
  if (std::memcmp(b, kMagic, 8) != 0) throw Error("not a cuvae image cache");
  if (get64(b + 8) != digest) throw Error("the folder or the options changed since it was written");
  FolderImages im;
  const std::uint64_t count = get64(b + 16), chw = get64(b + 24), w = get64(b + 32), nclasses = get64(b + 48);
  im.shape = ImageShape{int(chw & 0xffffffff), int(chw >> 32), int(w & 0xffffffff)};
  im.has_test_folder = (w >> 32) != 0, im.skipped = std::int64_t(get64(b + 40));
  if ((im.shape.channels != 1 && im.shape.channels != 3) || im.shape.height < 1 || im.shape.height > kMaxImageSize ||
      im.shape.width < 1 || im.shape.width > kMaxImageSize || nclasses > std::uint64_t(kMaxFolderClasses) ||
      count > map->n)
    throw Error("a damaged header");
  std::size_t p = kHeaderBytes;
  for (std::uint64_t c = 0; c < nclasses; ++c) {
    const void* end = p < map->n ? std::memchr(b + p, 0, map->n - p) : nullptr;
    if (!end) throw Error("a damaged class list");
    im.classes.emplace_back(reinterpret_cast<const char*>(b + p));
    p = std::size_t(static_cast<const unsigned char*>(end) - b) + 1;
  }
  im.count = std::int64_t(count);
  const std::size_t at = prefix_bytes(im.classes, im.count);
  if (map->n != at + std::size_t(im.shape.dim()) * std::size_t(count))
    throw Error(std::to_string(map->n) + " bytes, not the " + std::to_string(at + std::size_t(im.shape.dim()) * count) +
                " its header implies");
  im.labels.assign(b + p, b + p + count), im.test.assign(b + p + count, b + p + 2 * count);
  im.pixels_ = b + at;
  im.storage_ = map;
  return im;
}

FolderImages load_image_folder(const DataOptions& opt, std::ostream& log) {
  const auto t0 = std::chrono::steady_clock::now();
  auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (opt.channels != 0 && opt.channels != 1 && opt.channels != 3)
    throw Error("--channels " + std::to_string(opt.channels) + ": want 1 or 3");
  if (opt.image_size < 0 || opt.image_size > kMaxImageSize)
    throw Error("--image-size " + std::to_string(opt.image_size) + ": want 1.." + std::to_string(kMaxImageSize));
  const FolderListing listing = list_image_folder(opt.path);
  const std::uint64_t digest = listing_digest(listing, opt);
  const bool use_cache = opt.cache != "none";
  const fs::path cache = use_cache ? folder_cache_file(opt) : fs::path();
  std::error_code ec;
  if (use_cache && fs::exists(cache, ec)) {
    try {
      FolderImages im = read_folder_cache(cache, digest);
      log << opt.path.string() << ": " << im.count << " images (" << im.shape.str() << ") from the cache " << cache.string()
          << " in " << seconds_text(since()) << "\n";
      if (im.skipped) log << opt.path.string() << ": " << im.skipped << " files that could not be decoded are left out (--skip-bad)\n";
      return im;
    } catch (const Error& e) {
      log << "cache " << cache.string() << ": " << e.what() << "; decoding the folder again\n";
    }
  }

  // Decode on all threads, each file into its own slot; the first failure by file order is the one reported.
  const std::int64_t n = std::ssize(listing.files);
  std::vector<DecodedImage> images(static_cast<std::size_t>(n));
  std::vector<std::string> failures(static_cast<std::size_t>(n));
  std::atomic<std::int64_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  const int threads = std::max(1, std::min<int>(opt.threads > 0 ? opt.threads : int(std::thread::hardware_concurrency()),
                                                int(std::max<std::int64_t>(n, 1))));
  const bool bar = opt.progress && ::isatty(STDERR_FILENO);
  std::mutex bar_mutex;
  auto last_bar = std::chrono::steady_clock::now();
  auto work = [&] {
    for (std::int64_t i; !stop && (i = next++) < n;) {
      const fs::path file = listing.root / listing.files[std::size_t(i)].path;
      try {
        DecodedImage im = decode_image(file, read_file(file, kMaxImageFileBytes));
        if (opt.channels) im = to_channels(im, opt.channels);
        if (opt.image_size) im = resize_center_crop(im, opt.image_size);
        images[std::size_t(i)] = std::move(im);
      } catch (const std::exception& e) {
        failures[std::size_t(i)] = e.what();
        if (!opt.skip_bad) stop = true;
      }
      const std::int64_t d = ++done;
      if (bar && bar_mutex.try_lock()) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_bar > std::chrono::milliseconds(200) || d == n) {
          last_bar = now;
          std::fprintf(stderr, "\rdecoding %lld/%lld images, %.0f images/s   ", static_cast<long long>(d),
                       static_cast<long long>(n), double(d) / std::max(since(), 1e-9));
        }
        bar_mutex.unlock();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (bar) std::fprintf(stderr, "\r%60s\r", "");

  FolderImages im;
  im.classes = listing.classes, im.has_test_folder = listing.has_test_folder;
  std::vector<std::int64_t> kept;
  std::string first_failure;
  for (std::int64_t i = 0; i < n; ++i) {
    if (failures[std::size_t(i)].empty() && !images[std::size_t(i)].pixels.empty()) {
      kept.push_back(i);
      continue;
    }
    if (failures[std::size_t(i)].empty()) continue;  // not reached after a stop
    if (!opt.skip_bad) throw Error(failures[std::size_t(i)] + " (pass --skip-bad to leave such files out)");
    if (first_failure.empty()) first_failure = failures[std::size_t(i)];
    ++im.skipped;
  }
  if (kept.empty()) throw Error(opt.path.string() + ": none of the " + std::to_string(n) + " images could be decoded (the first: " + first_failure + ")");
  // One shape for all: the size of the first image (or --image-size), the channels asked for or the widest.
  const DecodedImage& first = images[std::size_t(kept.front())];
  int C = opt.channels;
  if (!C) {
    C = 1;
    for (std::int64_t i : kept) C = std::max(C, images[std::size_t(i)].channels);
  }
  for (std::int64_t i : kept) {
    DecodedImage& d = images[std::size_t(i)];
    if (d.width != first.width || d.height != first.height)
      throw Error((listing.root / listing.files[std::size_t(i)].path).string() + ": " + std::to_string(d.width) + "x" +
                  std::to_string(d.height) + " pixels, but " + (listing.root / listing.files[std::size_t(kept.front())].path).string() +
                  " has " + std::to_string(first.width) + "x" + std::to_string(first.height) +
                  "; pass --image-size S to resize and crop every image to S x S");
    if (d.channels != C) d = to_channels(d, C);
  }
  if (first.width > kMaxImageSize || first.height > kMaxImageSize)
    throw Error(opt.path.string() + ": images of " + std::to_string(first.width) + "x" + std::to_string(first.height) +
                " pixels, larger than " + std::to_string(kMaxImageSize) + " a side; pass --image-size S");
  im.shape = ImageShape{C, first.height, first.width};
  im.count = std::ssize(kept);
  for (std::int64_t i : kept) {
    im.labels.push_back(listing.files[std::size_t(i)].label);
    im.test.push_back(listing.files[std::size_t(i)].test ? 1 : 0);
  }
  Assembled a = assemble(im, digest, images, kept);
  images.clear();
  im.pixels_ = reinterpret_cast<const std::uint8_t*>(a.bytes->data() + a.pixels_at);
  im.storage_ = a.bytes;
  const double secs = since();
  log << opt.path.string() << ": decoded " << im.count << " images (" << im.shape.str() << ") in " << seconds_text(secs)
      << ", " << static_cast<long long>(double(n) / std::max(secs, 1e-9)) << " images/s on " << threads << " threads";
  if (use_cache) {
    try {
      fs::create_directories(cache.parent_path());
      write_file_atomic(cache, *a.bytes);
      log << "; cached in " << cache.string();
    } catch (const std::exception& e) {
      log << "; not cached (" << e.what() << ")";
    }
  }
  log << "\n";
  if (im.skipped)
    log << opt.path.string() << ": skipped " << im.skipped << " of " << n << " files that could not be decoded (the first: "
        << first_failure << ")\n";
  return im;
}

}  // namespace cuvae
