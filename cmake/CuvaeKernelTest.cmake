# cuvae_add_kernel_test(NAME SOURCES src... [LIBS lib...])
#
# A GoogleTest executable for kernels that run on the SIMT-on-CPU runtime. It is cuvae_add_test
# (cmake/CuvaeTest.cmake) plus: the target links cuvae_simt, and every discovered case is
# registered twice, because ascending thread order hides races:
#   Suite.Case          SIMT_ORDER from the caller's environment (default: asc)
#   Suite.Case@random   SIMT_ORDER=random (the runtime's default SIMT_SEED, 1)
# Both carry the label `kernels` (`ctest -L kernels`), and the target `kernel_tests` builds every
# kernel test (the sanitizer presets build only that). In the TSan build (CUVAE_SANITIZER=thread)
# the second order is not registered: with fiber-annotated TSan a race is reported in any order.
#
#   cuvae_add_kernel_test(test_gemm SOURCES test_gemm.cpp LIBS cuvae_lib)
include_guard(GLOBAL)

function(cuvae_add_kernel_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  cuvae_add_test(${name} SOURCES ${T_SOURCES} LIBS cuvae_simt ${T_LIBS} LABEL kernels)
  if(NOT TARGET kernel_tests)
    add_custom_target(kernel_tests)
  endif()
  add_dependencies(kernel_tests ${name})
  if(NOT CUVAE_SANITIZER STREQUAL "thread")
    gtest_discover_tests(${name}
      TEST_SUFFIX "@random"
      DISCOVERY_TIMEOUT 120
      # One value per property: gtest_discover_tests (CMake 3.25) splits lists.
      PROPERTIES LABELS kernels ENVIRONMENT "SIMT_ORDER=random" SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  endif()
endfunction()
