"""Training benchmark: one epoch of the MLP VAE (784-400-20, Adam, Fashion-MNIST; --arch conv: the
conv VAE; --arch conv64: PyTorch-VAE's VanillaVAE on a --data folder of .npy images) with cuvae and with PyTorch on the same device, threads, batch size and data; prints both
and the ratio.

Run with any Python 3 (this script needs only the standard library), after building cuvae:
  profiling/torch_venv.sh                                   # once: the PyTorch 2.15 baseline's venv
  python3 profiling/bench_train.py --device cpu --threads 2 --cuvae build/cpu/cuvae
  python3 profiling/bench_train.py --device cuda --batch-size 128 1024 --compile default reduce-overhead
  python3 profiling/bench_train.py --arch conv64 --data s64npy --baselines torch --cuvae build/cpu/cuvae
  (s64npy: cuvae make-shapes --out s64 --count 2560 --size 64; /usr/bin/python3 profiling/images_to_npy.py s64 s64npy)
Baselines (--baselines, bench_common.py): on the CPU by default PyTorch 2.15 from PyPI eager
("torch") and with torch.compile ("torch-compile", modes from --compile, default "default"), and
Debian's PyTorch 1.13 eager ("debian", /usr/bin/python3). Without the venv the 2.15 rows are
left out with one line saying how to make it, and the 1.13 row runs. On CUDA the 2.15 rows run
with --torch-python or else the Python running this script (Debian's torch has no CUDA).
Every row names its kernel libraries: cuvae's OpenBLAS version and the core type it printed
("cpu (OpenBLAS Zen, 2 threads)"), OPENBLAS_CORETYPE if set; PyTorch's version, BLAS (MKL or
OpenBLAS, with versions), oneDNN version and CPU capability, from pytorch_vae.py's --json.

cuvae's figure is its second epoch (the first includes one-time start-up), training only, as
reported in metrics.jsonl; PyTorch's is profiling/pytorch_vae.py --bench (a warm-up epoch, which
also compiles every batch shape, then one timed epoch, no test pass). cuvae runs again right
before each baseline (--cuvae-once: once per batch size), so every ratio compares two neighbouring
runs: on a shared machine compare the ratios, not the seconds.
--compile-batch-size B limits the torch.compile rows to those batch sizes; --no-pytorch is
--baselines none. --cublas-baseline (cuda) also times cuvae with --gemm cublas, all else the
same: what the custom GEMMs cost or save in the whole training step. --json FILE writes the table
after every row (a run cut short leaves the rows it finished); a run where anything fails exits 1.
"""
import argparse, json, os, sys, tempfile

import bench_common as bc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cuvae_epoch(binary, device, threads, batch, data, extra=(), arch="mlp"):
    """(seconds of the second epoch, the first line cuvae printed, images in the epoch)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [binary, "train", "--device", device, "--threads", str(threads), "--epochs", "2",
               "--batch-size", str(batch), "--test-limit", "512", "--no-progress", "--out", out, "--arch", arch, *extra]
        if data:
            cmd += ["--data", data]
        first = (bc.run(cmd).splitlines() or [""])[0]
        with open(os.path.join(out, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f if line.strip()]
    return records[-1]["seconds"], first, round(records[-1]["seconds"] * records[-1]["images_per_s"])


def pytorch_epoch(python, device, threads, batch, data, compile_mode, arch="mlp"):
    """(seconds of the timed epoch, the libraries torch named) from pytorch_vae.py --bench (the
    conv VAEs: pytorch_models.py --arch conv|conv64 --bench; conv64 reads --data as its --npy folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pt.json")
        script = ["pytorch_vae.py"] if arch == "mlp" else ["pytorch_models.py", "--arch", arch]
        cmd = [python, os.path.join(HERE, script[0]), *script[1:], "--device", device, "--bench",
               "--threads", str(threads), "--batch-size", str(batch), "--json", out]
        if data:
            cmd += ["--npy" if arch == "conv64" else "--data", data]
        if compile_mode:
            cmd += ["--compile", compile_mode]
        bc.run(cmd)
        with open(out) as f:
            result = json.load(f)
    libs = result["config"].get("libs") or {"torch": result["config"].get("torch")}
    if result["config"].get("cuda_device"):
        libs = dict(libs, cuda_device=result["config"]["cuda_device"])
    return result["bench"]["seconds"], libs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuvae", default=os.path.join(ROOT, "build", "default", "cuvae"))
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, nargs="+", default=[128])
    p.add_argument("--data", default="")
    p.add_argument("--arch", choices=["mlp", "conv", "conv64"], default="mlp",
                   help="mlp: the MLP VAE (against pytorch_vae.py); conv, conv64: the conv VAEs (against "
                        "pytorch_models.py --arch; conv64 needs --data, a folder of train.npy and test.npy)")
    bc.add_baseline_args(p, default=(), default_text="on cpu torch torch-compile debian, on cuda torch torch-compile")
    p.add_argument("--compile", nargs="*", metavar="MODE",
                   help="torch.compile modes of the torch-compile baseline (default: default); "
                        "naming this adds torch-compile to the baselines")
    p.add_argument("--compile-batch-size", type=int, nargs="+", metavar="B",
                   help="run the torch.compile baselines only at these batch sizes (default: all)")
    p.add_argument("--no-pytorch", action="store_true", help="no PyTorch baseline (--baselines none)")
    p.add_argument("--cublas-baseline", action="store_true",
                   help="also time cuvae --gemm cublas (cuBLASLt GEMMs, the rest the same) as a baseline")
    p.add_argument("--cuvae-once", action="store_true",
                   help="time cuvae once per batch size (default: again right before each baseline, so each "
                        "ratio compares two neighbouring runs on a shared machine)")
    p.add_argument("--json")
    a = p.parse_args()
    if a.cublas_baseline and a.device != "cuda":
        p.error("--cublas-baseline needs --device cuda")
    if not a.baselines:
        a.baselines = list(bc.BASELINES) if a.device == "cpu" else ["torch", "torch-compile"]
    if a.compile is not None and "torch-compile" not in a.baselines and "none" not in a.baselines:
        a.baselines.append("torch-compile")
    if a.no_pytorch:
        a.baselines = ["none"]
    if a.arch == "conv64" and not a.data:
        p.error("--arch conv64 needs --data, a folder with train.npy and test.npy (profiling/images_to_npy.py)")
    if a.device == "cuda" and "debian" in a.baselines:
        p.error("--baselines debian is CPU only (Debian's PyTorch 1.13 has no CUDA)")
    if a.device == "cuda" and not a.torch_python:
        a.torch_python = sys.executable
    if not os.path.exists(a.cuvae):
        sys.exit(f"bench_train: {a.cuvae}: no such binary; build first (README) or pass --cuvae")
    modes = a.compile or ["default"]
    baselines = []  # (key, python, compile mode, what the row calls it after the version)
    for b, python in bc.resolve_baselines(a, "bench_train"):
        for m in (modes if b == "torch-compile" else [None]):
            baselines.append((b if m in (None, "default") else f"{b}:{m}", python, m,
                              "eager" if m is None else "compile" if m == "default" else f"compile:{m}"))
    rows, failed, cuvae_libs = [], False, None

    def emit(row, text):
        rows.append(row)
        print(f"{a.device:6} {row['batch']:5d} {text}", flush=True)
        bc.write_json(a.json, rows)

    for key, python, _, _ in baselines:
        print(f"baseline {key}: {python}")
    print(f"{'device':6} {'batch':>5} {'cuvae s':>9} {'img/s':>9} {'baseline':>26} {'base s':>9} {'img/s':>9} "
          f"{'speed-up':>8}  baseline's libraries", flush=True)
    def time_cuvae(row):
        """cuvae's epoch into row; False (and the row emitted) if it failed."""
        nonlocal cuvae_libs, failed
        try:
            ours, first, images = cuvae_epoch(a.cuvae, a.device, a.threads, row["batch"], a.data, arch=a.arch)
        except bc.RunFailed as e:
            failed = True
            emit(row, f"cuvae failed ({e})")
            return False
        if cuvae_libs is None:
            cuvae_libs = bc.cuvae_libs(a.cuvae, first)
            print(f"{'':12} cuvae: {cuvae_libs['blas']}; it printed: {cuvae_libs['device_info']}", flush=True)
        row.update(cuvae_s=ours, cuvae_libs=cuvae_libs, images=images)
        return True

    for batch in a.batch_size:
        row = dict(device=a.device, batch=batch, threads=a.threads, cuvae_s=None, baseline=None)
        todo = [(key, py, kind, lambda py=py, m=m: pytorch_epoch(py, a.device, a.threads, batch, a.data, m, a.arch))
                for key, py, m, kind in baselines
                if m is None or not a.compile_batch_size or batch in a.compile_batch_size]
        if a.cublas_baseline:
            todo.append(("cuvae --gemm cublas", None, None,
                         lambda: (cuvae_epoch(a.cuvae, a.device, a.threads, batch, a.data, ["--gemm", "cublas"], a.arch)[0],
                                  cuvae_libs)))
        done = False
        for i, (key, python, kind, time_it) in enumerate(todo):
            if (i == 0 or not a.cuvae_once) and not time_cuvae(row):  # cuvae right before each baseline
                break
            ours = row["cuvae_s"]
            try:
                theirs, libs = time_it()
            except (bc.RunFailed, OSError, KeyError, ValueError) as e:
                failed = True
                print(f"{a.device:6} {batch:5d} {key}: failed ({e})", flush=True)
                continue
            if python is None:  # cuvae --gemm cublas
                label, lib_text = key, cuvae_libs["blas"]
            else:
                label = f"PyTorch {libs.get('torch', '?').split('+')[0]} {kind}"
                lib_text = bc.torch_name(libs) + (f", {libs['cuda_device']}" if libs.get("cuda_device") else "")
            emit(dict(row, baseline=label, baseline_key=key, baseline_python=python, baseline_libs=libs,
                      baseline_s=theirs, speedup=theirs / ours),
                 f"{ours:9.3f} {row['images'] / ours:9.0f} {label:>26} {theirs:9.3f} {row['images'] / theirs:9.0f} "
                 f"{theirs / ours:7.2f}x  {lib_text}")
            done = True
        if not todo and time_cuvae(row):  # no baseline asked for: cuvae's figure alone
            emit(row, f"{row['cuvae_s']:9.3f} {row['images'] / row['cuvae_s']:9.0f}")
        elif todo and not done and row["cuvae_s"] is not None:  # every baseline failed
            emit(row, f"{row['cuvae_s']:9.3f} {row['images'] / row['cuvae_s']:9.0f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
