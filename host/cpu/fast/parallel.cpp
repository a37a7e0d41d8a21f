// Whether the fast ops' chunks can run on OpenMP threads in this build (see parallel.hpp).
#include "host/cpu/fast/fast.hpp"

namespace cuvae::cpu::fast {

bool threaded() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

}  // namespace cuvae::cpu::fast
