# Model, trainer and checkpoint tests (CPU backend), PyTorch parity included.
cuvae_add_test(test_training SOURCES test_training.cpp LIBS cuvae_lib GTest::gmock LABEL models)
cuvae_add_test(test_cli SOURCES test_cli.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_cli cuvae)
# python/cuvae_torch.py (the module that loads cuvae checkpoints into torch) and the parity checker,
# against hand-written torch formulas (Debian's /usr/bin/python3 with python3-torch, .ci/setup;
# $CUVAE_PYTHON instead where set, as for every reference script: tests/support.hpp).
add_test(NAME Python.CuvaeTorchModule
         COMMAND sh -c "exec \"\${CUVAE_PYTHON:-/usr/bin/python3}\" \"$0\"" ${PROJECT_SOURCE_DIR}/tests/python/test_cuvae_torch.py)
set_tests_properties(Python.CuvaeTorchModule PROPERTIES LABELS models)
cuvae_add_test(test_compare SOURCES test_compare.cpp LIBS cuvae_app LABEL models)
# Strict checkpoint reading (its own binary: alloc_probe.hpp replaces operator new).
cuvae_add_test(test_checkpoint_strict SOURCES test_checkpoint_strict.cpp LIBS cuvae_models GTest::gmock LABEL models)
# The program killed at every write point, signalled, diverging, and given bad outputs.
add_library(kill_at_rename MODULE kill_at_rename.c)
target_link_libraries(kill_at_rename PRIVATE ${CMAKE_DL_LIBS})
cuvae_add_test(test_reliability SOURCES test_reliability.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
target_compile_definitions(test_reliability PRIVATE CUVAE_KILL_SHIM="$<TARGET_FILE:kill_at_rename>")
add_dependencies(test_reliability cuvae kill_at_rename)
# cvae: the conditional VAE through the program (train, eval, sample --label, encode/decode --labels).
cuvae_add_test(test_cli_cvae SOURCES test_cli_cvae.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_cli_cvae cuvae)
# interpolate and manifold (app/pictures.hpp): the code arithmetic, a strip's ends, both commands
cuvae_add_test(test_pictures SOURCES test_pictures.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_pictures cuvae)
# --data from the command line: image folders (make-shapes, RGB), .npy files, the cache, latent-map.
cuvae_add_test(test_cli_data SOURCES test_cli_data.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_cli_data cuvae)
# --arch conv from the command line (models/arch.hpp), on the CPU and SIMT backends.
cuvae_add_test(test_cli_conv SOURCES test_cli_conv.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_cli_conv cuvae)
