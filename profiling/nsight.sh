#!/usr/bin/env bash
# profiling/nsight.sh: profiles cuvae on the GPU with Nsight Systems (timeline of a short training
# run: NVTX ranges per op, kernels, graph launches) and Nsight Compute (every kernel of one
# training step, full metric set), and the benchmarks likewise: bench_gemm (an NVTX range per
# shape; ncu on our GEMM kernels) and the PyTorch side of bench_train (nsys of pytorch_vae.py
# --bench, to set its kernels beside cuvae's). The training commands, to run by hand:
#
#   nsys profile --trace=cuda,nvtx,osrt --cuda-graph-trace=node -o OUT/cuvae_train \
#       build/default/cuvae train --device cuda --epochs 1 --train-limit 5000 --no-progress --out OUT/run
#   nsys stats --report cuda_gpu_kern_sum,nvtx_sum OUT/cuvae_train.nsys-rep
#   ncu --set full --nvtx --kernel-name regex:. --launch-skip 0 --launch-count 40 -o OUT/cuvae_step \
#       build/default/cuvae train --device cuda --no-graph --epochs 1 --train-limit 256 --max-steps 3 \
#       --no-progress --out OUT/run-ncu
#
# ncu --set full replays each kernel ~40 times: about 2-3 minutes for the 40 kernels on an H100.
# ncu profiles the kernels of the first steps without graphs (--no-graph: one launch per op, so
# each kernel is attributed to its NVTX op range); with graphs, nsys shows the per-node kernels
# through --cuda-graph-trace=node. Open the reports in nsys-ui / ncu-ui.
# Usage: profiling/nsight.sh [train|gemm|pytorch|all] [OUT_DIR]   (default: all; OUT_DIR: $OUT if
#        set, else build/nsight); needs a build of build/default with CUDA (cmake --preset default
#        && cmake --build --preset default) and a GPU; pytorch needs a Python with CUDA torch.
#        Env: CUVAE=path/to/cuvae, BENCH_GEMM=..., NSYS=..., NCU=..., PYTHON=... override the tools.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
what=all
case ${1:-} in
  train|gemm|pytorch|all) what=$1; shift ;;
  -*) echo "usage: profiling/nsight.sh [train|gemm|pytorch|all] [OUT_DIR]" >&2; exit 2 ;;
esac
out=${1:-${OUT:-$repo/build/nsight}}
mkdir -p "$out"
cuvae=${CUVAE:-$repo/build/default/cuvae}
bench_gemm=${BENCH_GEMM:-$repo/build/default/profiling/bench_gemm}
die() { echo "nsight: $*" >&2; exit 1; }
wants() { [[ $what == all || $what == "$1" ]]; }

wants train && { [[ -x $cuvae ]] || die "$cuvae not built: cmake --preset default && cmake --build --preset default"; }
wants gemm && { [[ -x $bench_gemm ]] || die "$bench_gemm not built: cmake --build --preset default"; }
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || { echo "nsight: no GPU (nvidia-smi found none); nothing profiled" >&2; exit 3; }
data_args=()
[[ -n ${CUVAE_DATA:-} ]] && data_args=(--data "$CUVAE_DATA")

# nsys is not always on the PATH: it also ships inside Nsight Compute and the CUDA toolkit.
find_tool() {
  local name=$1 override=$2
  if [[ -n $override ]]; then echo "$override"; return; fi
  if command -v "$name" >/dev/null; then command -v "$name"; return; fi
  compgen -G "/usr/local/cuda/bin/$name" >/dev/null && { echo "/usr/local/cuda/bin/$name"; return; }
  { ls -d /opt/nvidia/nsight-systems/*/bin/"$name" /opt/nvidia/nsight-compute/*/host/target-linux-x64/"$name" \
      /opt/nvidia/nsight-compute/*/"$name" 2>/dev/null || true; } | sort -V | tail -1
}
nsys=$(find_tool nsys "${NSYS:-}")
ncu=$(find_tool ncu "${NCU:-}")
[[ -n $nsys ]] || echo "nsight: nsys not found (set NSYS=...); no timelines" >&2
[[ -n $ncu ]] || echo "nsight: ncu not found (set NCU=...); no kernel reports" >&2
# The per-kernel columns exported next to each ncu report.
ncu_csv_metrics=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__throughput.avg.pct_of_peak_sustained_elapsed
rc=0
# Nsight Compute, full set, into $out/NAME.ncu-rep plus its per-kernel columns in $out/NAME.csv; the
# tool's and the program's output go to $out/LOG. Arguments: NAME LOG [ncu options...] -- PROGRAM...
ncu_report() {
  local name=$1 log=$2 opts=()
  shift 2
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  if "$ncu" --set full --nvtx "${opts[@]}" -f -o "$out/$name" "$@" > "$out/$log" 2>&1; then
    "$ncu" --import "$out/$name.ncu-rep" --page raw --csv --metrics "$ncu_csv_metrics" > "$out/$name.csv" 2>>"$out/$log" || true
  else
    echo "nsight: ncu failed (see $out/$log)" >&2; rc=1
  fi
}

# ---- the training run --------------------------------------------------------------------------
if wants train; then
  if [[ -n $nsys ]]; then
    echo "nsight: nsys ($nsys): 1 epoch of 5000 images" >&2
    if "$nsys" profile --force-overwrite true --trace=cuda,nvtx,osrt --cuda-graph-trace=node -o "$out/cuvae_train" \
         "$cuvae" train --device cuda --epochs 1 --train-limit 5000 --test-limit 512 --no-progress "${data_args[@]}" \
         --out "$out/run-nsys" > "$out/nsys.log" 2>&1; then
      if [[ -f $out/cuvae_train.nsys-rep ]]; then
        "$nsys" stats --report cuda_gpu_kern_sum,nvtx_sum --format csv -o "$out/cuvae_train" "$out/cuvae_train.nsys-rep" \
          >> "$out/nsys.log" 2>&1 || echo "nsight: nsys stats failed (see $out/nsys.log)" >&2
      else  # the nsys bundled with Nsight Compute may record but not import (seen on the H100 machines)
        echo "nsight: nsys wrote only $(ls "$out"/cuvae_train.qdstrm 2>/dev/null || echo 'a raw trace'); import it with a" \
             "full Nsight Systems (QdstrmImporter -i FILE, or open it in nsys-ui)" >&2
      fi
    else
      echo "nsight: nsys profile failed (see $out/nsys.log)" >&2; rc=1
    fi
  fi

  graph_args=()
  "$cuvae" train --help 2>/dev/null | grep -q -- --no-graph && graph_args=(--no-graph)
  if [[ -n $ncu ]]; then
    echo "nsight: ncu ($ncu): the kernels of the first training steps ${graph_args[*]}" >&2
    ncu_report cuvae_step ncu.log --launch-count 40 -- \
      "$cuvae" train --device cuda "${graph_args[@]}" --epochs 1 --train-limit 256 --test-limit 128 --max-steps 3 --no-progress \
      "${data_args[@]}" --out "$out/run-ncu"
  fi
fi

# ---- bench_gemm: nsys timeline (an NVTX range per shape, one per launcher call inside), ncu of our
# GEMM kernels (the first launches: each version's check run at the first shapes) -----------------
if wants gemm; then
  if [[ -n $nsys ]]; then
    echo "nsight: nsys: bench_gemm at batch 128" >&2
    "$nsys" profile --force-overwrite true --trace=cuda,nvtx -o "$out/bench_gemm" "$bench_gemm" --batch 128 \
      > "$out/nsys_gemm.log" 2>&1 || { echo "nsight: nsys on bench_gemm failed (see $out/nsys_gemm.log)" >&2; rc=1; }
  fi
  if [[ -n $ncu ]]; then
    echo "nsight: ncu: our GEMM kernels in bench_gemm, fp32 at batch 128" >&2
    ncu_report bench_gemm_kernels ncu_gemm.log --kernel-name regex:'gemm_(tiled|wmma|naive)' --launch-count 24 -- \
      "$bench_gemm" --batch 128 --precision fp32 --reps-ms 0.1
  fi
fi

# ---- the PyTorch baseline of bench_train: its kernels and launches, beside cuvae's ---------------
if wants pytorch; then
  python=${PYTHON:-$("$repo/profiling/torch_cuda_python.sh" || true)}
  if [[ -z $python ]]; then
    echo "nsight: no Python with CUDA torch (set PYTHON=...); PyTorch not profiled" >&2
    [[ $what == pytorch ]] && rc=1
  elif [[ -n $nsys ]]; then
    echo "nsight: nsys: pytorch_vae.py --bench, batch 128, 12800 images" >&2
    "$nsys" profile --force-overwrite true --trace=cuda,nvtx,osrt -o "$out/pytorch_vae" \
      "$python" "$repo/profiling/pytorch_vae.py" --bench --device cuda --batch-size 128 --limit 12800 "${data_args[@]}" \
      > "$out/nsys_pytorch.log" 2>&1 || { echo "nsight: nsys on pytorch_vae.py failed (see $out/nsys_pytorch.log)" >&2; rc=1; }
  fi
fi

echo "nsight: reports in $out" >&2
exit $rc
