# SIMT-on-CPU runtime tests: the CUDA subset item by item, misuse reports and planted bugs (death
# tests), sample kernels against plain CPU loops. Each runs in two thread orders (label `kernels`).
cuvae_add_kernel_test(test_simt_runtime SOURCES test_simt_runtime.cpp)
cuvae_add_kernel_test(test_simt_warp SOURCES test_simt_warp.cpp)
cuvae_add_kernel_test(test_simt_atomics_math SOURCES test_simt_atomics_math.cpp)
cuvae_add_kernel_test(test_simt_wmma SOURCES test_simt_wmma.cpp)
cuvae_add_kernel_test(test_simt_samples SOURCES test_simt_samples.cpp)
cuvae_add_kernel_test(test_simt_errors SOURCES test_simt_errors.cpp)
# kernels/conv_bias.cuh (the cuDNN path's bias/activation and act' passes) against CPU loops.
cuvae_add_kernel_test(test_conv_bias_kernels SOURCES test_conv_bias_kernels.cpp)

# The same sample kernels through nvcc on a GPU; every case skips without a device.
if(CUVAE_CUDA)
  cuvae_add_test(test_simt_gpu SOURCES test_simt_gpu.cu LIBS CUDA::cudart LABEL gpu)
  target_include_directories(test_simt_gpu PRIVATE ${PROJECT_SOURCE_DIR})
endif()
