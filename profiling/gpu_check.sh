#!/usr/bin/env bash
# profiling/gpu_check.sh: the one-call GPU check, for a GPU machine that can download nothing.
# Configures the default preset for the GPU that is present (CMAKE_CUDA_ARCHITECTURES from
# nvidia-smi), builds, runs the whole ctest suite and every benchmark (bench_gemm; bench_train.py
# against PyTorch when a Python with CUDA torch is there, else cuvae alone), and writes ONE JSON
# file of results plus the logs, then prints a short summary table. About 4-6 minutes on an H100
# with 16 cores.
#
# Dependencies: where the system lacks the build's packages (OpenBLAS, GoogleTest, Boost.Context,
# CLI11, nlohmann-json, libpng) or the data, it uses .gpu-carry/ made beforehand on a networked
# machine by profiling/gather_gpu_deps.sh (CMAKE_PREFIX_PATH, CPATH, LIBRARY_PATH,
# LD_LIBRARY_PATH, CUVAE_DATA, CUVAE_PYDEPS point there).
#
# Usage: profiling/gpu_check.sh [--probe] [RESULT_DIR]   (default: $OUT if set, else build/gpu-check)
#   writes RESULT_DIR/gpu_check.json, RESULT_DIR/{configure,build,ctest,bench_gemm,conv_layers,bench_train,kernel_times,models}.log,
#   bench_{gemm,train,train_conv}.json and kernel_times.csv (per-kernel times of 5 batch-128 steps, from ncu
#   when it is there): 13 files, what the device tool brings back from $OUT
#   --probe: only the dependencies, the GPU query and a configure (in build/gpu-check-probe); no build.
# Through the device tool: run(command="profiling/gpu_check.sh", carry=[".gpu-carry"], timeout_s=540)
# Env: CUVAE_GPU_CHECK_FORCE_CARRY=1 uses .gpu-carry even where the system has the packages;
#      CUVAE_GPU_CHECK_JOBS=N build/test parallelism (default: all cores);
#      CUVAE_GPU_CHECK_BUILD_DIR=DIR build folder (default: build/default, the default preset's);
#      CUVAE_GPU_CHECK_DEADLINE_S=S (default 450): the tests and benchmarks are cut or skipped so that
#      the check ends, with its JSON, about S seconds after it starts.
# Exit codes: 0 all passed; 1 a step failed (see the JSON and logs); 3 no GPU (nothing run).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
probe=0
[[ ${1:-} == --probe ]] && { probe=1; shift; }
out_dir=${1:-${OUT:-$repo/build/gpu-check}}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
json="$out_dir/gpu_check.json"
jobs=${CUVAE_GPU_CHECK_JOBS:-$(nproc)}
build=${CUVAE_GPU_CHECK_BUILD_DIR:-$repo/build/default}  # the default preset's folder (bench_train.py's default)
deadline=${CUVAE_GPU_CHECK_DEADLINE_S:-450}
t_start=$SECONDS
say() { echo "gpu_check: $*" >&2; }
left() { echo $((deadline - (SECONDS - t_start))); }  # seconds to the deadline

# ---- 1. dependencies: the system's, or the carried ones -----------------------------------------
have_header() {  # a header in the compiler's default search path
  echo "#include <$1>" | ${CXX:-c++} -x c++ -std=c++20 -fsyntax-only - >/dev/null 2>&1
}
have_library() {  # a linkable (development) library
  echo 'int main() { return 0; }' | ${CXX:-c++} -x c++ - -o /dev/null "-l$1" >/dev/null 2>&1
}
missing=()
for h in cblas.h gtest/gtest.h gmock/gmock.h boost/context/fiber.hpp CLI/CLI.hpp nlohmann/json.hpp png.h zlib.h jpeglib.h; do
  have_header "$h" || missing+=("$h")
done
for l in openblas boost_context gtest png z jpeg cairo; do
  have_library "$l" || missing+=("lib$l")
done
# cairo's headers are found through pkg-config (host/CMakeLists.txt): both must be there.
pkg-config --exists cairo 2>/dev/null || missing+=("cairo.pc (pkg-config)")
carry="$repo/.gpu-carry"
carry_used=false
# Points CMake, the compilers and the loader at the packages of .gpu-carry/root.tar.xz, unpacked
# outside the checkout (it is bigger than what travels), once per archive. They then take
# precedence over the system's for every package, so the build never mixes the two.
use_carry() {
  [[ -f $carry/root.tar.xz ]] ||
    { say "no $carry/root.tar.xz: run profiling/gather_gpu_deps.sh on a networked machine and carry .gpu-carry"; return 1; }
  local root="${TMPDIR:-/tmp}/cuvae-gpu-carry/root" stamp lib
  stamp=$(stat -c %Y-%s "$carry/root.tar.xz")
  if [[ ! -f $root/.stamp || $(cat "$root/.stamp") != "$stamp" ]]; then
    rm -rf "$root" && mkdir -p "$root"
    tar -C "$root" -xJf "$carry/root.tar.xz"
    echo "$stamp" > "$root/.stamp"
  fi
  lib="$root/usr/lib/x86_64-linux-gnu"
  export CMAKE_PREFIX_PATH="$root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  # and the multiarch folder, which the compiler searches only under /usr (jconfig.h, openblas)
  export CPATH="$root/usr/include:$root/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$lib:$lib/openblas-pthread${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$lib:$lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # pkg-config (the system's, else the carried pkgconf at the end of PATH) reads only the carried
  # .pc files, and the sysroot puts their -I/-L paths (prefix=/usr) inside the unpacked tree.
  export PATH="$PATH:$root/usr/bin"
  export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$root/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$root"
  carry_used=true
}
if ((${#missing[@]})) || [[ ${CUVAE_GPU_CHECK_FORCE_CARRY:-0} == 1 ]]; then
  ((${#missing[@]})) && say "the system lacks ${missing[*]}; using $carry"
  use_carry || exit 1
fi
# Configures build dir $1 (extra CMake arguments after it) into $out_dir/configure.log; when the
# system's packages do not configure and the carried ones were not used yet, tries those.
configure() {
  local dir=$1; shift
  if cmake "$@" > "$out_dir/configure.log" 2>&1; then return 0; fi
  [[ $carry_used == false && -f $carry/root.tar.xz ]] || return 1
  say "configure failed with the system's packages ($(grep -m1 -A2 'CMake Error' "$out_dir/configure.log" | tr -s ' \n' ' ' | cut -c1-160)); retrying with $carry"
  use_carry || return 1
  rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  cmake "$@" > "$out_dir/configure.log" 2>&1
}
if [[ -z ${CUVAE_DATA:-} && ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  if [[ -f $carry/data/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    export CUVAE_DATA="$carry/data/fashion-mnist"
  else
    say "warning: no Fashion-MNIST (install dataset-fashion-mnist or carry .gpu-carry/data); data tests will fail"
  fi
fi
[[ -z ${CUVAE_PYDEPS:-} && -d $carry/pydeps ]] && export CUVAE_PYDEPS="$carry/pydeps"
# The tests' reference scripts run under /usr/bin/python3 (Debian's, with numpy, PIL, scipy, torch);
# on an image whose python3 with those is elsewhere (the CUDA image's /opt/torch/.venv), that one.
ref_mods='import numpy, PIL, scipy, torch'
if [[ -z ${CUVAE_PYTHON:-} ]] && ! /usr/bin/python3 -c "$ref_mods" >/dev/null 2>&1; then
  py=$(command -v python3 || true)
  if [[ -n $py && $py != /usr/bin/python3 ]] && "$py" -c "$ref_mods" >/dev/null 2>&1; then
    export CUVAE_PYTHON="$py"
    say "reference scripts: $py (/usr/bin/python3 lacks numpy, PIL, scipy or torch)"
  else
    say "warning: no python3 with numpy, PIL, scipy and torch; the tests against Python references will fail"
  fi
fi

# ---- 2. the GPU ---------------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
  say "no GPU: nvidia-smi not found (this check needs an NVIDIA GPU machine; nothing was run)"
  exit 3
fi
if ! gpu_line=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1 | head -1) ||
   [[ -z $gpu_line || $gpu_line == *"failed"* || $gpu_line == *"No devices"* ]]; then
  say "no GPU: nvidia-smi: ${gpu_line:-no output}"
  exit 3
fi
IFS=',' read -r gpu_name compute_cap driver memory <<< "$gpu_line"
gpu_name=$(echo "$gpu_name" | xargs); compute_cap=$(echo "$compute_cap" | xargs)
arch=${compute_cap/./}
say "GPU: $gpu_name (sm_$arch), driver$(echo "$driver" | sed 's/^ */ /'), $memory; $jobs jobs"

# generator: Ninja where it is there (the CUDA image has it; make may be absent) for build folder $1
# not yet configured; else CMake's default, or what the folder was configured with.
pick_generator() {
  generator=()
  if [[ ! -f $1/CMakeCache.txt ]] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
}
if [[ $probe == 1 ]]; then
  rc=0
  probe_dir="$repo/build/gpu-check-probe"
  pick_generator "$probe_dir"
  configure "$probe_dir" -S "$repo" -B "$probe_dir" "${generator[@]}" -DCUVAE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" || rc=1
  say "probe: carried deps $carry_used${missing:+ (the system lacks ${missing[*]})}; configure $([[ $rc == 0 ]] && echo ok || echo failed) ($out_dir/configure.log)"
  exit $rc
fi

status=0
step_status() { if [[ $1 == 0 ]]; then echo ok; else echo failed; fi; }  # runs in $(...): sets no status

# ---- 3. configure and build ---------------------------------------------------------------------
pick_generator "$build"
t0=$SECONDS
set +e
cd "$repo"  # cmake --preset reads ./CMakePresets.json
configure "$build" --preset default -B "$build" "${generator[@]}" -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCUVAE_BUILD_BENCHMARKS=ON
configure_rc=$?
build_rc=1
if [[ $configure_rc == 0 ]]; then
  timeout "$(left)" cmake --build "$build" -j "$jobs" > "$out_dir/build.log" 2>&1
  build_rc=$?
  [[ $build_rc == 124 ]] && echo "gpu_check: build stopped at the deadline (CUVAE_GPU_CHECK_DEADLINE_S=$deadline)" >> "$out_dir/build.log"
fi
set -e
build_s=$((SECONDS - t0))
configure_status=$(step_status $configure_rc)
build_status=$(step_status $build_rc)
[[ $configure_rc == 0 && $build_rc == 0 ]] || status=1
say "configure $configure_status, build $build_status (${build_s} s)"

# ---- 4. tests -----------------------------------------------------------------------------------
tests_json='null'
if [[ $build_rc == 0 ]]; then
  t0=$SECONDS
  set +e
  # SIMT kernel tests each start a pool of threads: keep them from oversubscribing the cores.
  budget=$(( $(left) - 120 ))  # keep two minutes for the benchmarks
  ((budget > 60)) || budget=60
  SIMT_THREADS=2 timeout "$budget" ctest --test-dir "$build" -j "$jobs" --timeout 300 --output-on-failure \
    --output-junit "$build/gpu_check_ctest.xml" > "$out_dir/ctest.log" 2>&1
  ctest_rc=$?
  set -e
  tests_s=$((SECONDS - t0))
  tests_json=$(python3 - "$build/gpu_check_ctest.xml" "$ctest_rc" "$tests_s" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
path, rc, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    cases = ET.parse(path).getroot().iter("testcase")
except Exception as e:
    print(json.dumps({"rc": rc, "seconds": secs, "error": f"no junit output: {e}"})); sys.exit()
counts = {"passed": 0, "failed": 0, "skipped": 0}
failed, gpu_skipped = [], 0
for c in cases:
    s = c.get("status", "run")
    if s in ("fail", "failed") or c.find("failure") is not None:
        counts["failed"] += 1; failed.append(c.get("name"))
    elif s in ("disabled", "notrun", "skipped") or c.find("skipped") is not None:
        counts["skipped"] += 1
    else:
        counts["passed"] += 1
print(json.dumps({"rc": rc, "seconds": secs, **counts, "total": sum(counts.values()), "failed_tests": failed[:50]}))
EOF
)
  [[ $ctest_rc == 0 ]] || status=1
  say "ctest: $tests_json"
fi

# ---- 5. benchmarks ------------------------------------------------------------------------------
data_args=()
[[ -n ${CUVAE_DATA:-} ]] && data_args=(--data "$CUVAE_DATA")
gemm_json='null'
if [[ -x $build/profiling/bench_gemm ]] && (($(left) > 60)); then
  set +e
  timeout $(( $(left) / 3 )) "$build/profiling/bench_gemm" --json "$out_dir/bench_gemm.json" > "$out_dir/bench_gemm.log" 2>&1
  gemm_rc=$?
  set -e
  [[ $gemm_rc == 0 ]] || status=1
  gemm_json=$(python3 -c 'import json,sys; print(json.dumps({"rc": int(sys.argv[1]), "file": "bench_gemm.json"}))' "$gemm_rc")
  say "bench_gemm: exit $gemm_rc"
else
  say "bench_gemm: not built, or no time left"
fi

# ---- 5a'. the conv layers, ours against cuDNN (issue 11): bench_conv_layers' JSON lines -------
# The conv VAE's four layers and conv64's eleven at batch 128, --conv custom then --conv cudnn,
# into conv_layers.log (each line names its backend: "... custom fp32 implicit-GEMM conv" or "cuDNN").
if [[ -x $build/profiling/bench_conv_layers ]] && (($(left) > 90)); then
  set +e
  : > "$out_dir/conv_layers.log"
  for arch in conv conv64; do
    for impl in custom cudnn; do
      timeout 45 "$build/profiling/bench_conv_layers" --device cuda --conv "$impl" --arch "$arch" --batch 128 --reps 20 \
        >> "$out_dir/conv_layers.log" 2>&1
    done
  done
  set -e
  say "bench_conv_layers: ours and cuDNN per layer (conv_layers.log)"
else
  say "bench_conv_layers: not built, or no time left"
fi

# ---- 5b. per-kernel times of training steps (Nsight Compute, when it is there) ------------------
# Before the training benchmark, the longest step, which the deadline may cut (keeping its rows).
# Only gpu__time_duration, caches and clocks left as they are (so small kernels are not timed
# cold): a few seconds, and the breakdown of a batch-128 step that says where the time goes.
kernels_json='null'
ncu=$(command -v ncu || { ls -d /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null || true; } | sort -V | tail -1)
if [[ -n $ncu && -x $build/cuvae ]] && (($(left) > 40)); then
  set +e
  # --log-file: ncu's CSV goes there, cuvae's own output to kernel_times.log.
  rm -rf "$build/gpu-check-ncu"
  ncu_limit=$(( $(left) - 10 < 120 ? $(left) - 10 : 120 ))
  timeout "$ncu_limit" "$ncu" --metrics gpu__time_duration.sum --cache-control none --clock-control none --nvtx \
    --csv --page raw --log-file "$out_dir/kernel_times.csv" "$build/cuvae" train --device cuda --no-graph --epochs 1 \
    --train-limit 640 --test-limit 128 --max-steps 5 --no-progress "${data_args[@]}" --out "$build/gpu-check-ncu" \
    > "$out_dir/kernel_times.log" 2>&1
  ncu_rc=$?
  set -e
  kernels_json=$(python3 -c 'import json,sys; print(json.dumps({"rc": int(sys.argv[1]), "file": "kernel_times.csv"}))' "$ncu_rc")
  say "kernel times (ncu): exit $ncu_rc (kernel_times.csv)"
else
  say "kernel times: no ncu, or no time left"
fi

# ---- 5b'. every model from the command line on the GPU: one short epoch each -------------------
# (ctest already checks every op and each model's training steps against the CPU; this is the
# programs themselves on the device, with their test figures and epoch times.)
models_json='null'
if [[ -x $build/cuvae ]] && (($(left) > 60)); then
  rm -rf "$build/gpu-check-models"
  set +e
  for m in pca ae linear-ae dae vae; do
    timeout 60 "$build/cuvae" train --model "$m" --device cuda --epochs 1 --train-limit 20000 --test-limit 2000 \
      --no-progress "${data_args[@]}" --out "$build/gpu-check-models/$m" >> "$out_dir/models.log" 2>&1 ||
      { echo "gpu_check: $m failed" >> "$out_dir/models.log"; status=1; }
  done
  set -e
  models_json=$(python3 - "$build/gpu-check-models" <<'EOF'
import json, os, sys
rows = {}
for m in ("pca", "ae", "linear-ae", "dae", "vae"):
    try:
        rows[m] = [json.loads(l) for l in open(os.path.join(sys.argv[1], m, "metrics.jsonl")) if l.strip()][-1]
    except Exception as e:
        rows[m] = {"error": str(e)}
print(json.dumps(rows))
EOF
)
  say "models: $(echo "$models_json" | head -c 300)"
fi

# ---- 5c. the training benchmark -----------------------------------------------------------------
# A Python with torch on CUDA for the PyTorch baseline: the PATH one, then Debian's.
torch_py=$("$repo/profiling/torch_cuda_python.sh" || true)
train_json='null'
if [[ -x $build/cuvae ]] && (($(left) > 20)); then
  # With a CUDA torch: eager at batch 128 and 1024, and torch.compile (default mode, and
  # reduce-overhead = CUDA graphs, like cuvae's) at 128, the issue's target. Without one: no
  # PyTorch baseline. Always cuvae --gemm cublas (last at each batch size): the custom GEMMs'
  # cost or gain in the whole step. Rows are written as they finish, so the deadline keeps what
  # is done.
  baseline_args=(--no-pytorch --cublas-baseline)
  if [[ -n $torch_py ]]; then
    baseline_args=(--compile default reduce-overhead --compile-batch-size 128 --cublas-baseline)
    say "bench_train: cuvae vs PyTorch ($torch_py) and vs cuvae --gemm cublas"
  else
    say "bench_train: no Python with CUDA torch here: cuvae vs cuvae --gemm cublas only (no PyTorch baseline)"
  fi
  rm -f "$out_dir/bench_train.json"
  set +e
  timeout "$(left)" "${torch_py:-python3}" "$repo/profiling/bench_train.py" --cuvae "$build/cuvae" --device cuda \
    --batch-size 128 1024 "${baseline_args[@]}" "${data_args[@]}" --json "$out_dir/bench_train.json" \
    > "$out_dir/bench_train.log" 2>&1
  train_rc=$?
  set -e
  [[ $train_rc == 0 ]] || status=1
  train_json=$(python3 - "$out_dir/bench_train.json" "$train_rc" "$torch_py" <<'EOF'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception:
    rows = []
print(json.dumps({"rc": int(sys.argv[2]), "pytorch": sys.argv[3] or None, "rows": rows}))
EOF
)
fi
# The conv VAE's epoch (issue 11): cuvae (our kernels; conv_layers.log has them per layer against
# cuDNN) against PyTorch + cuDNN eager and torch.compile reduce-overhead at batch 128, appended to
# bench_train.log, its rows in bench_train_conv.json.
conv_train_json='null'
if [[ -x $build/cuvae && -n $torch_py ]] && (($(left) > 60)); then
  say "bench_train --arch conv: cuvae vs PyTorch ($torch_py)"
  rm -f "$out_dir/bench_train_conv.json"
  set +e
  timeout "$(left)" "$torch_py" "$repo/profiling/bench_train.py" --cuvae "$build/cuvae" --device cuda --arch conv \
    --batch-size 128 --baselines torch torch-compile --compile reduce-overhead "${data_args[@]}" \
    --json "$out_dir/bench_train_conv.json" >> "$out_dir/bench_train.log" 2>&1
  conv_rc=$?
  set -e
  [[ $conv_rc == 0 ]] || status=1
  conv_train_json=$(python3 - "$out_dir/bench_train_conv.json" "$conv_rc" <<'EOF'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception:
    rows = []
print(json.dumps({"rc": int(sys.argv[2]), "rows": rows}))
EOF
)
fi

# ---- 6. one JSON, then the summary --------------------------------------------------------------
GPU_NAME="$gpu_name" COMPUTE_CAP="$compute_cap" DRIVER="$(echo "$driver" | xargs)" MEMORY="$(echo "$memory" | xargs)" \
CARRY_USED="$carry_used" CONFIGURE="$configure_status" BUILD="$build_status" BUILD_S="$build_s" \
CTEST="$tests_json" GEMM="$gemm_json" TRAIN="$train_json" CONV_TRAIN="$conv_train_json" KERNELS="$kernels_json" MODELS="$models_json" SECONDS_ALL="$((SECONDS - t_start))" STATUS="$status" \
python3 - "$json" <<'EOF'
import json, os, sys
e = os.environ
result = {
  "gpu": {"name": e["GPU_NAME"], "compute_cap": e["COMPUTE_CAP"], "driver": e["DRIVER"], "memory": e["MEMORY"]},
  "carried_deps": e["CARRY_USED"] == "true",
  "configure": e["CONFIGURE"], "build": e["BUILD"], "build_seconds": int(e["BUILD_S"]),
  "ctest": json.loads(e["CTEST"]), "bench_gemm": json.loads(e["GEMM"]), "bench_train": json.loads(e["TRAIN"]),
  "bench_train_conv": json.loads(e["CONV_TRAIN"]),
  "kernel_times": json.loads(e["KERNELS"]), "models": json.loads(e["MODELS"]),
  "seconds": int(e["SECONDS_ALL"]), "ok": e["STATUS"] == "0",
  "logs": ["configure.log", "build.log", "ctest.log", "bench_gemm.log", "bench_gemm.json", "conv_layers.log", "bench_train.log", "bench_train.json",
           "bench_train_conv.json", "kernel_times.csv", "kernel_times.log", "models.log"],
}
json.dump(result, open(sys.argv[1], "w"), indent=1)
EOF
python3 - "$json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
t = r.get("ctest") or {}
print(f"\n== gpu_check: {r['gpu']['name']} (sm_{r['gpu']['compute_cap'].replace('.', '')}), {r['seconds']} s, "
      f"{'OK' if r['ok'] else 'FAILED'}")
print(f"{'build':<12} {r['build']} ({r['build_seconds']} s)")
if t:
    print(f"{'ctest':<12} {t.get('passed', 0)} passed, {t.get('failed', 0)} failed, {t.get('skipped', 0)} skipped"
          + (f": {', '.join(t['failed_tests'][:5])}" if t.get("failed_tests") else ""))
g = r.get("bench_gemm")
print(f"{'bench_gemm':<12} " + ("not built" if not g else f"exit {g['rc']} (bench_gemm.json)"))
for m, rec in (r.get("models") or {}).items():
    figs = ", ".join(f"{k[5:]} {v:.2f}" for k, v in rec.items() if k.startswith("test_"))
    print(f"{'model ' + m:<12} " + (rec["error"] if "error" in rec else f"{figs}; {rec.get('seconds', 0):.2f} s"))
for key, name in (("bench_train", "train"), ("bench_train_conv", "conv")):
    for row in (r.get(key) or {}).get("rows", []):
        if not row.get("cuvae_s"):
            print(f"{name + ' b=' + str(row['batch']):<12} cuvae failed"); continue
        base = (f"{row['baseline']} {row['baseline_s']:.3f} s, speed-up {row['speedup']:.2f}x" if row.get("speedup")
                else "no PyTorch baseline")
        print(f"{name + ' b=' + str(row['batch']):<12} cuvae {row['cuvae_s']:.3f} s/epoch "
              f"({row['images'] / row['cuvae_s']:.0f} img/s); {base}")
print(f"results: {sys.argv[1]}")
EOF
exit $status
