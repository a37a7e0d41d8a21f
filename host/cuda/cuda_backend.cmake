# host/cuda/cuda_backend.cmake, included by host/CMakeLists.txt: the CUDA backend in its two builds.
#   GPU, when CUVAE_CUDA=ON: host/cuda/cuda_backend.cu compiled by nvcc into cuvae_host, which then
#     defines CUVAE_HAVE_CUDA (host/device.cpp offers --device cuda) and links the CUDA runtime and NVTX.
#   SIMT, always: cuvae_simt_backend, the very same backend source compiled by the host compiler
#     against the SIMT runtime (kernels/simt/), so CI runs the backend and its kernels with no GPU.
#     It holds the GEMM and convolution launchers too, and defines CUVAE_SIMT for its users, which selects the
#     SIMT declarations of host/cuda/cuda_backend.hpp and gemm.hpp (their own inline namespace, so
#     a test may link both builds).
# Why wrapper .cpp files (cuda_backend_simt.cpp, gemm_simt.cpp, conv_simt.cpp, batchnorm_simt.cpp) that #include the .cu files: a
# source file's LANGUAGE property is one per directory, not per target, so cuda_backend.cu cannot
# be CUDA in cuvae_host and C++ here; a one-line wrapper is a C++ source in its own right.
if(CUVAE_CUDA)
  target_sources(cuvae_host PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cuda_backend.cu)
  target_compile_definitions(cuvae_host PUBLIC CUVAE_HAVE_CUDA)
  target_link_libraries(cuvae_host PUBLIC CUDA::cudart_static CUDA::nvtx3)
  # The architectures this build has kernels for, for cuda_unavailable_reason()'s message.
  string(REPLACE ";" " " _cuvae_archs "${CMAKE_CUDA_ARCHITECTURES}")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cuda_backend.cu PROPERTIES
    COMPILE_DEFINITIONS "CUVAE_CUDA_ARCHS=\"${_cuvae_archs}\""
    COMPILE_OPTIONS "$<$<COMPILE_LANGUAGE:CUDA>:-lineinfo>")
endif()

add_library(cuvae_simt_backend STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cuda_backend_simt.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gemm_simt.cpp
  ${CMAKE_CURRENT_LIST_DIR}/conv_simt.cpp
  ${CMAKE_CURRENT_LIST_DIR}/batchnorm_simt.cpp)
target_compile_definitions(cuvae_simt_backend PUBLIC CUVAE_SIMT=1)
target_link_libraries(cuvae_simt_backend PUBLIC cuvae_host cuvae_simt CUDA::nvtx3)
cuvae_warnings(cuvae_simt_backend)
