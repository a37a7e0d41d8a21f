# cuvae runs OpenBLAS on one thread (the CPU backend's own pool cuts the GEMMs into blocks; see
# host/cpu/fast/pool.hpp), so the build variant matters only for PCA's eigen-solver. The notes
# below on the OpenMP build date from before that pool.
# The OpenBLAS build that cuvae links, named explicitly rather than through Debian's alternatives
# (which pick whichever variant is installed with the highest priority):
#   pthread  (default) libopenblas0-pthread: OpenBLAS's own threads run the GEMMs; the CPU
#            backend's elementwise ops (host/cpu/fast/) run on the calling thread.
#   openmp   libopenblas0-openmp: OpenBLAS's threads are OpenMP's, so the elementwise ops run on
#            the same pool, in parallel. Measured on a 2-core machine shared with other jobs, it
#            ties with pthread when idle OpenMP threads sleep (OMP_WAIT_POLICY=passive) and trains
#            ~5x slower with libgomp's default spinning, which a program cannot change for itself
#            (profiling/RESULTS.md, "One thread pool").
# Either way there is one pool: the backend runs its loops on OpenMP threads only when OpenBLAS
# reports OpenMP's (openblas_get_parallel), so the two builds are also interchangeable at run
# time (LD_LIBRARY_PATH=/usr/lib/<arch>/openblas-openmp).
# Defines the target cuvae_openblas (BLAS, CBLAS and LAPACK in one library, its cblas.h, and an
# RUNPATH to the variant's folder, so the loader does not take the alternatives' libopenblas.so.0)
# and CUVAE_CPU_OPENMP: whether host/cpu/fast/ is built with OpenMP (not under TSan, which cannot
# see libgomp's barriers and would report its threads' writes as races).
include_guard(GLOBAL)

set(CUVAE_OPENBLAS "pthread" CACHE STRING "OpenBLAS build to link: pthread or openmp")
set_property(CACHE CUVAE_OPENBLAS PROPERTY STRINGS pthread openmp)
if(NOT CUVAE_OPENBLAS MATCHES "^(openmp|pthread)$")
  message(FATAL_ERROR "CUVAE_OPENBLAS='${CUVAE_OPENBLAS}': expected pthread or openmp")
endif()

set(_arch "${CMAKE_LIBRARY_ARCHITECTURE}")
if(NOT _arch)
  set(_arch "x86_64-linux-gnu")
endif()
# Under each CMAKE_PREFIX_PATH entry (the variable, then the environment's: a carried tree such as
# profiling/gpu_check.sh's) before the system's /usr.
string(REPLACE ":" ";" _env_prefixes "$ENV{CMAKE_PREFIX_PATH}")
set(_lib_dirs)
set(_inc_dirs)
foreach(_p IN LISTS CMAKE_PREFIX_PATH _env_prefixes ITEMS /usr)
  list(APPEND _lib_dirs "${_p}/lib/${_arch}/openblas-${CUVAE_OPENBLAS}")
  list(APPEND _inc_dirs "${_p}/include/${_arch}/openblas-${CUVAE_OPENBLAS}")
endforeach()
find_library(CUVAE_OPENBLAS_LIBRARY NAMES openblas PATHS ${_lib_dirs} NO_DEFAULT_PATH NO_CACHE)
find_path(CUVAE_OPENBLAS_INCLUDE_DIR cblas.h PATHS ${_inc_dirs} NO_DEFAULT_PATH NO_CACHE)
if(NOT CUVAE_OPENBLAS_LIBRARY OR NOT CUVAE_OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "OpenBLAS ${CUVAE_OPENBLAS} build not found (libopenblas.so under "
                      "/usr/lib/${_arch}/openblas-${CUVAE_OPENBLAS}, cblas.h under "
                      "/usr/include/${_arch}/openblas-${CUVAE_OPENBLAS}, or the same under a CMAKE_PREFIX_PATH): "
                      "install libopenblas-${CUVAE_OPENBLAS}-dev (.ci/setup does)")
endif()
get_filename_component(_dir "${CUVAE_OPENBLAS_LIBRARY}" DIRECTORY)

add_library(cuvae_openblas INTERFACE)
target_link_libraries(cuvae_openblas INTERFACE "${CUVAE_OPENBLAS_LIBRARY}")
target_include_directories(cuvae_openblas SYSTEM INTERFACE "${CUVAE_OPENBLAS_INCLUDE_DIR}")
# CMake puts the folder of a library linked by full path into the build tree's RUNPATH itself;
# the option says so explicitly, for every executable that links cuvae_openblas.
target_link_options(cuvae_openblas INTERFACE "LINKER:-rpath,${_dir}")

if(CUVAE_SANITIZER STREQUAL "thread")
  set(CUVAE_CPU_OPENMP OFF)
else()
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  set(CUVAE_CPU_OPENMP ON)
endif()
message(STATUS "OpenBLAS: ${CUVAE_OPENBLAS} (${CUVAE_OPENBLAS_LIBRARY}); fast CPU ops built with OpenMP: ${CUVAE_CPU_OPENMP}")
