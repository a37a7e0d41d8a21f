# GEMM tests (tests/test_gemm.cpp): kernels/gemm.cuh through host/cuda/gemm.cu vs the CPU reference.
#   test_gemm       on the SIMT runtime, always: gemm.cu built by the host compiler via
#                   test_gemm_simt.cpp (CUVAE_GEMM_SIMT); both thread orders, label `kernels`.
#   test_gemm_cuda  the nvcc build inside cuvae_lib (CUVAE_CUDA=ON), plus cuBLAS(Lt) and `auto`;
#                   every case skips ("no CUDA device") on a machine without a GPU. Label `gpu`.
cuvae_add_kernel_test(test_gemm SOURCES test_gemm.cpp test_gemm_simt.cpp LIBS cuvae_lib CUDA::nvtx3 LABELS gemm)
target_compile_definitions(test_gemm PRIVATE CUVAE_GEMM_SIMT=1)
if(CUVAE_CUDA)
  if(NOT TARGET GTest::gtest)
    find_package(GTest REQUIRED)
  endif()
  cuvae_add_test(test_gemm_cuda SOURCES test_gemm.cpp LIBS cuvae_lib CUDA::cudart_static LABELS gpu gemm)
  target_compile_definitions(test_gemm_cuda PRIVATE CUVAE_GEMM_TEST_GPU=1)
endif()
