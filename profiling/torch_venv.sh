#!/usr/bin/env bash
# profiling/torch_venv.sh [--force]: the PyTorch 2.15 (PyPI) baseline of the CPU benchmarks, in a
# virtual environment of its own at ${CUVAE_TORCH_VENV:-$HOME/.cache/cuvae/torch-2.15}, made with
# the `python3` on the PATH (3.11 or newer; the pyenv 3.11 here). Not part of the tests or CI.
#
# Prints one line on stdout: the Python to run the baseline with, <venv>/bin/torch-python (a
# wrapper that puts the CUDA 13 libraries of ${CUDA_HOME:-/usr/local/cuda}/lib64 on
# LD_LIBRARY_PATH, then runs the venv's python). Everything else goes to stderr. Cached: a venv
# that this script finished and checked (its stamp file matches the pins below) is reused as it
# is (the check is one `import torch`, about 2 s); --force builds it again.
#
# What it installs, all with --no-deps and binary wheels only (PyPI's torch 2.15.0 is the CUDA 13.2
# build; its CPU import needs these, and finds the rest of CUDA 13 under /usr/local/cuda):
#   torch==2.15.0; its pure-Python requirements (numpy, typing-extensions, sympy, mpmath, networkx,
#   jinja2, markupsafe, filelock, fsspec, setuptools>=77.0.3); safetensors (python/cuvae_torch.py
#   reads checkpoints with it); and the four NVIDIA wheels that libtorch links and /usr/local/cuda
#   lacks: nvidia-cufile (libcufile.so.0), nvidia-cusparselt-cu13, nvidia-nvshmem-cu13 and
#   nvidia-nccl-cu13, at the versions torch 2.15.0 pins. Not triton: torch.compile's CPU backend
#   generates C++ and builds it with the system g++, which is checked below.
# Then it checks `import torch` (version 2.15.0), torch.compile of a tiny function on the CPU
# (against eager), and writes <venv>/torch-config.txt: torch.__config__.show() (MKL and oneDNN
# versions), torch.backends.cpu.get_cpu_capability() and the installed packages.
#
# Use: PY=$(profiling/torch_venv.sh) && "$PY" profiling/pytorch_vae.py --bench
# (profiling/bench_train.py and bench_iwae.py find the venv by themselves.)
set -uo pipefail

VENV="${CUVAE_TORCH_VENV:-$HOME/.cache/cuvae/torch-2.15}"
CUDA_LIB="${CUDA_HOME:-/usr/local/cuda}/lib64"
TORCH_PIN="torch==2.15.0"
NVIDIA_PINS=("nvidia-cufile==1.17.1.22.*" "nvidia-cusparselt-cu13==0.8.1" "nvidia-nvshmem-cu13==3.7.2"
             "nvidia-nccl-cu13==2.30.7")
PY_DEPS=("numpy" "typing-extensions>=4.13.0" "sympy>=1.13.3" "mpmath" "networkx>=2.5.1" "jinja2" "markupsafe"
         "filelock" "fsspec>=0.8.5" "setuptools>=77.0.3" "safetensors")
SPEC="$TORCH_PIN ${NVIDIA_PINS[*]} ${PY_DEPS[*]} wrapper-v1"
STAMP="$VENV/cuvae-torch.ok"
WRAPPER="$VENV/bin/torch-python"
LOG="$VENV.log"

die() { echo "torch_venv: $*" >&2; exit 1; }

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (usage: profiling/torch_venv.sh [--force])" ;;
esac

# Cached: the stamp names exactly these pins, and the wrapper still imports torch.
if [ "$force" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SPEC" ] && [ -x "$WRAPPER" ] &&
   "$WRAPPER" -c 'import torch' 2>/dev/null; then
  echo "$WRAPPER"
  exit 0
fi

command -v python3 >/dev/null || die "no python3 on the PATH (want 3.11 or newer, e.g. pyenv's)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  die "python3 is $(python3 -V 2>&1); torch 2.15 wants 3.11 or newer (set the pyenv version or PATH)"
base_python="$(python3 -c 'import sys; print(sys.executable)')"
command -v g++ >/dev/null || die "no g++ on the PATH: torch.compile's CPU backend needs it (apt-get install g++)"

if [ -e "$VENV" ]; then
  [ -f "$VENV/pyvenv.cfg" ] || die "$VENV exists and is not a virtual environment; move it or set CUVAE_TORCH_VENV"
  rm -rf "$VENV" || die "cannot remove the old venv $VENV"
fi
mkdir -p "$(dirname "$VENV")" || die "cannot create $(dirname "$VENV")"
: >"$LOG" || die "cannot write $LOG"
echo "torch_venv: creating $VENV with $base_python ($("$base_python" -V 2>&1)); pip log: $LOG" >&2
"$base_python" -m venv "$VENV" >>"$LOG" 2>&1 || die "python3 -m venv $VENV failed (log: $LOG)"
pip=("$VENV/bin/python" -m pip install --no-deps --only-binary=:all: --disable-pip-version-check)
"${pip[@]}" "$TORCH_PIN" "${NVIDIA_PINS[@]}" "${PY_DEPS[@]}" >>"$LOG" 2>&1 ||
  die "pip install failed: $(grep -m1 -E '^ERROR' "$LOG" || tail -n1 "$LOG") (log: $LOG)"

cat >"$WRAPPER" <<EOF
#!/bin/sh
# Written by profiling/torch_venv.sh: PyPI's torch 2.15 (CUDA 13.2 build) with the CUDA 13
# libraries of $CUDA_LIB (libcudart, cuBLAS, cuDNN, ...), which its import loads even on the CPU.
LD_LIBRARY_PATH="$CUDA_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
exec "$VENV/bin/python" "\$@"
EOF
chmod +x "$WRAPPER" || die "cannot make $WRAPPER executable"

import_err="$("$WRAPPER" -c 'import torch' 2>&1 >/dev/null | tail -n1)" ||
  die "import torch failed in $VENV: $import_err"

# Checks: the version, torch.compile on the CPU with the system g++, and what torch was built with.
"$WRAPPER" - "$VENV/torch-config.txt" >>"$LOG" 2>&1 <<'EOF' || die "check failed: $(tail -n1 "$LOG") (log: $LOG)"
import subprocess, sys, time
import torch
out = sys.argv[1]
if not torch.__version__.startswith("2.15.0"):
    sys.exit(f"torch is {torch.__version__}, not 2.15.0")
def f(x, w):
    return torch.relu(x @ w).sum(1) * 2 + 1
x, w = torch.randn(64, 32), torch.randn(32, 16)
t0 = time.perf_counter()
try:
    y = torch.compile(f)(x, w)
except Exception as e:
    sys.exit(f"torch.compile on the CPU failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
if not torch.allclose(y, f(x, w), rtol=1e-5, atol=1e-4):
    sys.exit("torch.compile on the CPU gave other numbers than eager")
compile_s = time.perf_counter() - t0
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
with open(out, "w") as fh:
    fh.write(f"torch {torch.__version__} (python {sys.version.split()[0]})\n")
    fh.write(f"torch.backends.cpu.get_cpu_capability(): {torch.backends.cpu.get_cpu_capability()}\n")
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    fh.write(f"torch.compile of a tiny CPU function: ok, {compile_s:.1f} s (inductor C++, {gxx})\n\n")
    fh.write(torch.__config__.show())
    fh.write("\npip freeze:\n" + freeze)
print(f"checked: torch {torch.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}, "
      f"torch.compile ok ({compile_s:.1f} s)")
EOF

echo "$SPEC" >"$STAMP" || die "cannot write $STAMP"
tail -n1 "$LOG" | sed 's/^/torch_venv: /' >&2
grep -E 'Math Kernel Library|MKL-DNN|oneDNN|CPU capability' "$VENV/torch-config.txt" | sed 's/^ *- */torch_venv:   /' >&2
echo "torch_venv: details in $VENV/torch-config.txt" >&2
echo "$WRAPPER"
