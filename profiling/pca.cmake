# bench_pca (profiling/bench_pca.cpp): closed-form PCA, CPU (and GPU in CUDA builds) on Fashion-MNIST;
# profiling/bench_pca.py runs it next to scikit-learn. Run: <build>/profiling/bench_pca
add_executable(bench_pca bench_pca.cpp)
target_link_libraries(bench_pca PRIVATE cuvae_lib)
cuvae_warnings(bench_pca)
