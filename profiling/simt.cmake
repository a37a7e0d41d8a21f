# bench_simt: the SIMT-on-CPU runtime's speed (tiled SGEMM 512^3, warp-shuffle reduction). A
# benchmark, not a test: run build/<preset>/profiling/bench_simt [SIMT_THREADS=n].
add_executable(bench_simt bench_simt.cpp)
target_link_libraries(bench_simt PRIVATE cuvae_simt)
cuvae_warnings(bench_simt)
