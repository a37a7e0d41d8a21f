# GEMM tests (tests/test_gemm.cpp): kernels/gemm.cuh through host/cuda/gemm.cu vs the CPU reference.
#   test_gemm       on the SIMT runtime, always: the SIMT build of gemm.cu from cuvae_simt_backend
#                   (host/cuda/cuda_backend.cmake, which defines CUVAE_SIMT for its users);
#                   both thread orders, label `kernels`.
#   test_gemm_cuda  the nvcc build inside cuvae_lib (CUVAE_CUDA=ON), plus cuBLAS(Lt) and `auto`;
#                   every case skips ("no CUDA device") on a machine without a GPU. Label `gpu`.
cuvae_add_kernel_test(test_gemm SOURCES test_gemm.cpp LIBS cuvae_simt_backend)
if(CUVAE_CUDA)
  cuvae_add_test(test_gemm_cuda SOURCES test_gemm.cpp LIBS cuvae_lib CUDA::cudart_static LABEL gpu)
  target_compile_definitions(test_gemm_cuda PRIVATE CUVAE_GEMM_TEST_GPU=1)
endif()
