// kernels/error.hpp: one exception type for the whole project (kernels/ launchers, the SIMT runtime,
// host/ and above). Developer-facing checks carry file:line and the failing expression; user-facing
// input errors carry the thing named and what is wrong. Here, at the bottom, so kernels/ needs
// nothing from host/.
#pragma once
#include <stdexcept>
#include <string>

namespace cuvae {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail_at(const char* file, int line, const std::string& msg) {
  throw Error(msg + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace cuvae

#define CUVAE_FAIL(msg) ::cuvae::fail_at(__FILE__, __LINE__, (msg))
#define CUVAE_CHECK(cond, msg)                                                   \
  do {                                                                           \
    if (!(cond)) CUVAE_FAIL(std::string("check failed: " #cond ": ") + (msg));   \
  } while (0)
