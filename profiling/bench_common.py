"""What bench_train.py and bench_iwae.py share: which PyTorch baselines to run with which Python,
and the name of the kernel library, version and ISA behind every CPU figure.

Baselines (--baselines):
  torch          PyTorch 2.15 from PyPI, eager: the venv of profiling/torch_venv.sh
                 (${CUVAE_TORCH_VENV:-~/.cache/cuvae/torch-2.15}), or --torch-python PY
  torch-compile  the same Python with torch.compile (bench_train.py only)
  debian         Debian's PyTorch 1.13 (/usr/bin/python3), eager
Without the venv the PyPI rows are dropped with one line saying how to make it, and the Debian
row is run instead.

Library names: cuvae's is the OpenBLAS it links (the version from openblas_get_config() of that
library, found with ldd), the core type cuvae printed ("cpu (OpenBLAS Zen, 2 threads)"; where the
command prints none, the core that library picks in a probe process with the same environment,
which is what it picks in cuvae) and OPENBLAS_CORETYPE if the environment sets it (this module
never sets it). PyTorch's come from torch_libs(), run inside the baseline's own process.
This module imports nothing outside the standard library (torch only through torch_libs' argument).
"""
import ctypes, json, os, re, subprocess, sys

DEBIAN_PYTHON = "/usr/bin/python3"
VENV = os.environ.get("CUVAE_TORCH_VENV") or os.path.expanduser("~/.cache/cuvae/torch-2.15")
VENV_SCRIPT = "profiling/torch_venv.sh"
BASELINES = ("torch", "torch-compile", "debian")
# OpenBLAS core type -> the widest vector ISA of its kernels (DYNAMIC_ARCH builds).
CORE_ISA = {"Prescott": "SSE3", "Core2": "SSSE3", "Penryn": "SSSE3", "Nehalem": "SSE4.2",
            "Barcelona": "SSE4a", "Bulldozer": "AVX", "Piledriver": "AVX", "Steamroller": "AVX",
            "Excavator": "AVX2", "Sandybridge": "AVX", "Haswell": "AVX2", "Zen": "AVX2",
            "SkylakeX": "AVX-512", "Cooperlake": "AVX-512 BF16", "SapphireRapids": "AVX-512 BF16"}


# ------------------------------------------------------------------ which baselines, which Python

def venv_python():
    """The venv's wrapper if torch_venv.sh finished it (its stamp is there), else None."""
    py = os.path.join(VENV, "bin", "torch-python")
    return py if os.access(py, os.X_OK) and os.path.exists(os.path.join(VENV, "cuvae-torch.ok")) else None


def add_baseline_args(p, choices=BASELINES, default=BASELINES, default_text=None):
    p.add_argument("--baselines", nargs="+", choices=choices + ("none",), default=list(default), metavar="B",
                   help=f"PyTorch baselines to run, from {', '.join(choices)}, or none "
                        f"(default: {default_text or ' '.join(default)})")
    p.add_argument("--torch-python", metavar="PY",
                   help=f"the Python of the 'torch' baselines (default: the venv of {VENV_SCRIPT}, {VENV})")


def resolve_baselines(args, prog):
    """[(baseline, python)] in the order asked; the PyPI ones fall back to Debian's when there is
    no venv (one line on stderr says so and how to make it)."""
    wanted = [] if "none" in args.baselines else list(dict.fromkeys(args.baselines))
    pypi = args.torch_python or venv_python()
    if pypi is None and any(b != "debian" for b in wanted):
        print(f"{prog}: no PyTorch 2.15 venv at {VENV} (create it: {VENV_SCRIPT}, or pass --torch-python PY); "
              f"falling back to Debian's PyTorch 1.13 ({DEBIAN_PYTHON}) only", file=sys.stderr, flush=True)
        wanted = ["debian"]
    return [(b, DEBIAN_PYTHON if b == "debian" else pypi) for b in wanted]


class RunFailed(Exception):
    """A command that exited non-zero; the message is its exit code and last line of output."""


def run(cmd):
    """cmd's stdout; RunFailed naming the exit code and the last line it printed otherwise."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise RunFailed(f"{cmd[0]}: {e.strerror}") from None
    if r.returncode != 0:
        raise RunFailed(f"exit {r.returncode}: " + (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1])
    return r.stdout


# ------------------------------------------------------------------ library names

def _ldd_openblas(binary):
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"libopenblas\S*\s*=>\s*(\S+)", out)
    return m.group(1) if m else None


_PROBE = ("import ctypes, sys; l = ctypes.CDLL(sys.argv[1]); "
          "[setattr(f, 'restype', ctypes.c_char_p) for f in (l.openblas_get_config, l.openblas_get_corename)]; "
          "print(l.openblas_get_config().decode()); print(l.openblas_get_corename().decode())")


def openblas_config(lib):
    """(config string, core name) of an OpenBLAS library file, from a short probe process (so
    this process starts no OpenBLAS threads); (None, None) if it cannot tell."""
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE, lib], capture_output=True, text=True, timeout=60)
        config, core = r.stdout.splitlines()[:2]
        return config, core
    except (OSError, subprocess.SubprocessError, ValueError):
        return None, None


def _isa(core):
    # DYNAMIC_ARCH reports the core capitalised ("Zen"); corename gives it lower-case ("zen").
    for name, isa in CORE_ISA.items():
        if core and core.lower() == name.lower():
            return name, isa
    return core, None


def _openblas_name(version, core, env_core):
    core, isa = _isa(core)
    s = f"{version or 'OpenBLAS (version unknown)'}, {core or '?'} kernels" + (f" ({isa})" if isa else "")
    return s + (f", OPENBLAS_CORETYPE={env_core}" if env_core else "")


def cuvae_libs(binary, printed_line=None):
    """{'blas': ..., 'device_info': ...} of a cuvae binary. printed_line: the first line of a
    `cuvae train` run, "... on cpu (OpenBLAS Zen, 2 threads); ...", whose core type wins."""
    info = None
    if printed_line:
        m = re.search(r" on \w+ \(([^)]*)\)", printed_line)
        info = m.group(1) if m else None
    lib = _ldd_openblas(binary)
    config, core = openblas_config(lib) if lib else (None, None)
    version = " ".join(config.split()[:2]) if config else None
    m = re.search(r"OpenBLAS (\w+)", info or "")
    if m:
        core = m.group(1)
    if lib is None and info is None:
        return {"blas": "unknown (no OpenBLAS in ldd)", "device_info": None}
    return {"blas": _openblas_name(version, core, os.environ.get("OPENBLAS_CORETYPE")),
            "openblas_lib": lib, "openblas_config": config, "device_info": info}


def torch_libs(torch):
    """Kernel libraries of the running torch (call it in the baseline's own process): version,
    BLAS (MKL's version, or the OpenBLAS this process loaded), oneDNN's version, CPU capability."""
    cfg = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([0-9.]+)", cfg)
    dnn = re.search(r"(?:MKL-DNN|oneDNN) (v[0-9.]+)", cfg)
    try:
        cap = torch.backends.cpu.get_cpu_capability()  # torch >= 2.0
    except AttributeError:
        m = re.search(r"CPU capability usage: (\S+)", cfg)
        cap = m.group(1) if m else "unknown"
    blas = None
    if mkl:
        blas = f"MKL {mkl.group(1)}"
    else:  # Debian's builds: BLAS_INFO=generic, i.e. whatever libblas.so.3 is (OpenBLAS here)
        try:
            with open("/proc/self/maps") as f:
                libs = sorted({l.split()[-1] for l in f if "openblas" in l and ".so" in l})
        except OSError:
            libs = []
        for lib in libs:
            try:
                l = ctypes.CDLL(lib)  # already loaded: the same handle, nothing new starts
                l.openblas_get_config.restype = l.openblas_get_corename.restype = ctypes.c_char_p
            except (OSError, AttributeError):
                continue
            version = " ".join(l.openblas_get_config().decode().split()[:2])
            blas = _openblas_name(version, l.openblas_get_corename().decode(), os.environ.get("OPENBLAS_CORETYPE"))
            break
        if blas is None:
            m = re.search(r"BLAS_INFO=(\w+)", cfg)
            blas = f"BLAS_INFO={m.group(1) if m else 'unknown'}"
    return {"torch": torch.__version__, "blas": blas, "onednn": dnn.group(1) if dnn else None, "cpu_capability": cap}


def torch_name(libs):
    """'PyTorch 2.15.0+cu132 (MKL 2024.2, oneDNN v3.13.3, AVX2)' from torch_libs()."""
    if not libs:
        return "PyTorch (libraries unknown)"
    parts = [libs.get("blas"), f"oneDNN {libs['onednn']}" if libs.get("onednn") else None, libs.get("cpu_capability")]
    return f"PyTorch {libs.get('torch')} ({', '.join(p for p in parts if p)})"


def write_json(path, obj):
    """Rewrite path with obj (after every row, so a run cut short leaves what it finished)."""
    if path:
        with open(path, "w") as f:
            json.dump(obj, f, indent=1)
