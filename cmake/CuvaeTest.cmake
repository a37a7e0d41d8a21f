# cuvae_add_test(NAME SOURCES src... [LIBS lib...] [LABEL label])
# One GoogleTest executable, discovered case by case so a GPU case that calls GTEST_SKIP()
# shows as Skipped in ctest. Discovery runs the binary at build time: no CUDA calls in
# static initializers.
function(cuvae_add_test name)
  # One label: gtest_discover_tests (CMake 3.25) splits a list value into bogus property names.
  cmake_parse_arguments(T "" "LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main ${T_LIBS})
  target_compile_definitions(${name} PRIVATE
    CUVAE_SOURCE_DIR="${PROJECT_SOURCE_DIR}" CUVAE_BINARY_DIR="${PROJECT_BINARY_DIR}")
  cuvae_warnings(${name})
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 120
    PROPERTIES LABELS "${T_LABEL}" SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()
