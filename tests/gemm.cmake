# GEMM tests (tests/test_gemm.cpp): kernels/gemm.cuh through host/cuda/gemm.cu vs the CPU reference.
#   test_gemm       on the SIMT runtime, always: gemm.cu built by the host compiler (from
#                   cuvae_simt_backend, else test_gemm_simt.cpp); both thread orders, label `kernels`.
#   test_gemm_cuda  the nvcc build inside cuvae_lib (CUVAE_CUDA=ON), plus cuBLAS(Lt) and `auto`;
#                   every case skips ("no CUDA device") on a machine without a GPU. Label `gpu`.
# cuvae_simt_backend (host/cuda/cuda_backend.cmake) already holds the SIMT build of gemm.cu: link it
# when present rather than compiling the launcher twice (it defines CUVAE_GEMM_SIMT for its users).
if(TARGET cuvae_simt_backend)
  cuvae_add_kernel_test(test_gemm SOURCES test_gemm.cpp LIBS cuvae_simt_backend)
else()
  cuvae_add_kernel_test(test_gemm SOURCES test_gemm.cpp test_gemm_simt.cpp LIBS cuvae_lib CUDA::nvtx3)
  target_compile_definitions(test_gemm PRIVATE CUVAE_GEMM_SIMT=1)
endif()
if(CUVAE_CUDA)
  if(NOT TARGET GTest::gtest)
    find_package(GTest REQUIRED)
  endif()
  cuvae_add_test(test_gemm_cuda SOURCES test_gemm.cpp LIBS cuvae_lib CUDA::cudart_static LABEL gpu)
  target_compile_definitions(test_gemm_cuda PRIVATE CUVAE_GEMM_TEST_GPU=1)
endif()
