# Model, trainer and checkpoint tests (CPU backend), PyTorch parity included.
cuvae_add_test(test_training SOURCES test_training.cpp LIBS cuvae_lib GTest::gmock LABEL models)
cuvae_add_test(test_cli SOURCES test_cli.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_cli cuvae)
