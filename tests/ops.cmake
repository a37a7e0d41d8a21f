# Op tests against the CPU reference (double loops, finite differences).
cuvae_add_test(test_linear SOURCES test_linear.cpp LIBS cuvae_lib GTest::gmock LABEL ops)
cuvae_add_test(test_conv SOURCES test_conv.cpp LIBS cuvae_lib GTest::gmock LABEL ops)
# BatchNorm2d (host/cpu/batchnorm.cpp): double loops, finite differences, PyTorch (tests/python/batchnorm_reference.py).
cuvae_add_test(test_batchnorm SOURCES test_batchnorm.cpp LIBS cuvae_lib GTest::gmock LABEL ops)
cuvae_add_test(test_adam SOURCES test_adam.cpp LIBS cuvae_lib LABEL ops)
cuvae_add_test(test_pca SOURCES test_pca.cpp LIBS cuvae_datasets LABEL ops)
if(CUVAE_CUDA)
  cuvae_add_test(test_pca_cuda SOURCES test_pca_cuda.cpp LIBS cuvae_datasets LABEL gpu)
endif()
# The fast CPU ops (host/cpu/fast/) against the references above them, and their elementwise math;
# the math test is built without FMA contraction, as host/cpu/fast/ is (host/CMakeLists.txt).
cuvae_add_test(test_fast_ops SOURCES test_fast_ops.cpp LIBS cuvae_lib LABEL ops)
cuvae_add_test(test_fast_math SOURCES test_fast_math.cpp LIBS cuvae_lib LABEL ops)
set_source_files_properties(test_fast_math.cpp PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
