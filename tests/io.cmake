# I/O and data tests: IDX datasets (raw/gzip, bad input), PNG grids, JSONL metrics, the epoch shuffle.
cuvae_add_test(test_idx SOURCES test_idx.cpp LIBS cuvae_lib LABEL io)
cuvae_add_test(test_image SOURCES test_image.cpp LIBS cuvae_lib LABEL io)
cuvae_add_test(test_metrics SOURCES test_metrics.cpp LIBS cuvae_lib LABEL io)
cuvae_add_test(test_shuffle SOURCES test_shuffle.cpp LIBS cuvae_lib GTest::gmock LABEL io)
cuvae_add_test(test_npy SOURCES test_npy.cpp LIBS cuvae_datasets LABEL io)
# PNG/JPEG decoding and the resize + centre crop (datasets/image_decode.hpp), bit for bit with PIL (.ci/setup).
cuvae_add_test(test_image_decode SOURCES test_image_decode.cpp LIBS cuvae_datasets LABEL io)
# The generated shapes data set (datasets/shapes.hpp) and `cuvae make-shapes`.
cuvae_add_test(test_shapes SOURCES test_shapes.cpp LIBS cuvae_lib GTest::gmock LABEL io)
add_dependencies(test_shapes cuvae)
# TensorBoard event files (host/tensorboard.hpp), read back by PyPI's tensorboard (.ci/setup).
cuvae_add_test(test_tensorboard SOURCES test_tensorboard.cpp LIBS cuvae_lib GTest::gmock LABEL io)
add_dependencies(test_tensorboard cuvae)
target_compile_definitions(test_tensorboard PRIVATE CUVAE_KILL_SHIM="$<TARGET_FILE:kill_at_rename>")
add_dependencies(test_tensorboard kill_at_rename)
# Line charts with Cairo (host/plot.hpp): loss_curves.png.
cuvae_add_test(test_plot SOURCES test_plot.cpp LIBS cuvae_lib GTest::gmock LABEL io)
# The data loader (datasets/source.hpp, image_folder.hpp): image folders, the test fraction, the cache, .npy data.
cuvae_add_test(test_data_sources SOURCES test_data_sources.cpp LIBS cuvae_datasets GTest::gmock LABEL io)
