# bench_gemm (profiling/bench_gemm.cu): custom GEMM kernels vs cuBLAS(Lt) with the same epilogues;
# CUDA builds only. Run: <build>/profiling/bench_gemm [--json FILE]
if(CUVAE_CUDA)
  add_executable(bench_gemm bench_gemm.cu)
  target_link_libraries(bench_gemm PRIVATE cuvae_lib)
  cuvae_warnings(bench_gemm)
endif()
