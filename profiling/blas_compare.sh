#!/usr/bin/env bash
# profiling/blas_compare.sh: the CPU kernel-library comparison of issue 14, side by side from one
# run: single-threaded cblas_sgemm GFLOP/s at the shapes the CPU backend hands its BLAS
# (profiling/bench_blas.cpp) for
#   OpenBLAS 0.3.21 (Debian's libopenblas0-pthread, what cuvae links),
#   BLIS 0.9.0      (Debian's libblis4-pthread; installed with apt-get if missing),
#   MKL 2024.2      (PyPI's mkl wheel, the version PyTorch 2.15 ships with, with intel-openmp
#                    and tbb; its libraries unpacked into ${CUVAE_MKL_DIR:-$HOME/.cache/cuvae/mkl-2024.2}/lib, cached).
# Not part of the tests or CI. Prints the CPU, OPENBLAS_CORETYPE and each library's rows.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
g++ -O2 -std=c++17 -o "$out/bench_blas" profiling/bench_blas.cpp -ldl

openblas=$(ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 2>/dev/null || true)
blis=/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4
if [[ ! -e "$blis" ]]; then
  echo "blas_compare: installing libblis4-pthread (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libblis4-pthread >/dev/null
fi
mkl_dir="${CUVAE_MKL_DIR:-$HOME/.cache/cuvae/mkl-2024.2}"
if [[ ! -e "$mkl_dir/lib/libmkl_rt.so.2" ]]; then
  echo "blas_compare: installing mkl==2024.2.0 into $mkl_dir (pip, about 200 MB)" >&2
  rm -rf "$mkl_dir" && mkdir -p "$mkl_dir/wheels" "$mkl_dir/lib"
  python3 -m pip download -q --no-deps -d "$mkl_dir/wheels" mkl==2024.2.0 intel-openmp==2024.2.0 tbb==2021.13.0
  for w in "$mkl_dir"/wheels/*.whl; do python3 -m zipfile -e "$w" "$mkl_dir/unpacked"; done
  find "$mkl_dir/unpacked" -name 'lib*.so*' -exec mv {} "$mkl_dir/lib/" \;
  rm -rf "$mkl_dir/wheels" "$mkl_dir/unpacked"
fi

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "# one thread each; GFLOP/s = 2 m n k / best time of 5"
[[ -n "$openblas" ]] && "$out/bench_blas" "$openblas" "OpenBLAS"
"$out/bench_blas" "$blis" "BLIS"
LD_LIBRARY_PATH="$mkl_dir/lib" MKL_NUM_THREADS=1 MKL_THREADING_LAYER=SEQUENTIAL "$out/bench_blas" "$mkl_dir/lib/libmkl_rt.so.2" "MKL"
