# CUDA backend tests (host/cuda/cuda_backend.cu and kernels/*.cuh), one source
# per op family, each built twice (tests/device_backend.hpp):
#   test_<family>       the SIMT device (cuvae_simt_backend), always; both thread orders, label `kernels`.
#   test_<family>_cuda  the GPU backend inside cuvae_lib (CUVAE_CUDA=ON); every case skips
#                       ("no CUDA device") on a machine without a usable GPU. Label `gpu`.
# One label each (see cmake/CuvaeTest.cmake).
set(_cuvae_backend_tests ops ops_labels adam_kernel data_kernels cuda_training conv_kernels batchnorm_kernels)  # ops_labels: one_hot, softmax_xent
foreach(family IN LISTS _cuvae_backend_tests)
  cuvae_add_kernel_test(test_${family} SOURCES test_${family}.cpp
                        LIBS cuvae_simt_backend cuvae_app GTest::gmock)
  if(CUVAE_CUDA)
    cuvae_add_test(test_${family}_cuda SOURCES test_${family}.cpp
                   LIBS cuvae_lib GTest::gmock LABEL gpu)
  endif()
endforeach()
# IWAE: the importance-weighted bound end to end on the CPU and SIMT backends (app/iwae.hpp).
cuvae_add_kernel_test(test_iwae SOURCES test_iwae.cpp LIBS cuvae_simt_backend cuvae_app GTest::gmock)
