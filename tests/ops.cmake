# Op tests against the CPU reference (double loops, finite differences).
cuvae_add_test(test_linear SOURCES test_linear.cpp LIBS cuvae_lib GTest::gmock LABEL ops)
cuvae_add_test(test_vae_ops SOURCES test_vae_ops.cpp LIBS cuvae_lib GTest::gmock LABEL ops)
cuvae_add_test(test_adam SOURCES test_adam.cpp LIBS cuvae_lib LABEL ops)
