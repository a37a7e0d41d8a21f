"""Training benchmark: one epoch of the MLP VAE (784-400-20, Adam, Fashion-MNIST) with cuvae and
with PyTorch on the same device, threads, batch size and data; prints both and the ratio.

Run (Debian's Python, which has torch), after building cuvae:
  /usr/bin/python3 profiling/bench_train.py --device cpu --threads 2            # CPU backend vs PyTorch CPU
  /usr/bin/python3 profiling/bench_train.py --device cuda --batch-size 128 1024 --compile default reduce-overhead
cuvae's figure is its second epoch (the first includes one-time start-up), training only, as
reported in metrics.jsonl; PyTorch's is profiling/pytorch_vae.py --bench (a warm-up epoch, which
also compiles every batch shape, then one timed epoch, no test pass). --compile [MODE ...] adds
torch.compile baselines (mode "default" when none is named); --no-pytorch leaves PyTorch out
(a machine without torch). --cublas-baseline (cuda) also times cuvae with --gemm cublas, all else
the same: what the custom GEMMs cost or save in the whole training step. --json FILE writes the
table after every row (a run cut short leaves the rows it finished); a run that fails (cuvae's
row then has cuvae_s null) exits 1.
"""
import argparse, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cuvae_epoch(binary, device, threads, batch, data, extra=()):
    with tempfile.TemporaryDirectory() as out:
        cmd = [binary, "train", "--device", device, "--threads", str(threads), "--epochs", "2",
               "--batch-size", str(batch), "--test-limit", "512", "--no-progress", "--out", out, *extra]
        if data:
            cmd += ["--data", data]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f if line.strip()]
    return records[-1]["seconds"]


def pytorch_epoch(device, threads, batch, data, compile_mode):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pt.json")
        cmd = [sys.executable, os.path.join(HERE, "pytorch_vae.py"), "--bench", "--device", device,
               "--threads", str(threads), "--batch-size", str(batch), "--json", out]
        if data:
            cmd += ["--data", data]
        if compile_mode:
            cmd += ["--compile", compile_mode]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)["bench"]["seconds"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuvae", default=os.path.join(ROOT, "build", "default", "cuvae"))
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, nargs="+", default=[128])
    p.add_argument("--data", default="")
    p.add_argument("--compile", nargs="*", metavar="MODE",
                   help="also time torch.compile (torch >= 2) in these modes (default: 'default')")
    p.add_argument("--compile-batch-size", type=int, nargs="+", metavar="B",
                   help="run the torch.compile baselines only at these batch sizes (default: all)")
    p.add_argument("--no-pytorch", action="store_true", help="no PyTorch baseline")
    p.add_argument("--cublas-baseline", action="store_true",
                   help="also time cuvae --gemm cublas (cuBLASLt GEMMs, the rest the same) as a baseline")
    p.add_argument("--json")
    a = p.parse_args()
    if a.cublas_baseline and a.device != "cuda":
        p.error("--cublas-baseline needs --device cuda")
    if not os.path.exists(a.cuvae):
        sys.exit(f"bench_train: {a.cuvae}: no such binary; build first (README) or pass --cuvae")
    n = 60000
    rows, failed = [], False

    def emit(row, text):
        rows.append(row)
        print(f"{a.device:6} {row['batch']:5d} {text}", flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1)

    print(f"{'device':6} {'batch':>5} {'cuvae s':>9} {'img/s':>9} {'baseline':>24} {'base s':>9} {'img/s':>9} {'speed-up':>8}")
    for batch in a.batch_size:
        row = dict(device=a.device, batch=batch, threads=a.threads, cuvae_s=None, baseline=None)
        try:
            ours = cuvae_epoch(a.cuvae, a.device, a.threads, batch, a.data)
        except subprocess.CalledProcessError as e:
            failed = True
            emit(row, f"cuvae failed ({e})")
            continue
        row["cuvae_s"] = ours
        modes = [] if a.compile is None else (a.compile or ["default"])
        if a.compile_batch_size and batch not in a.compile_batch_size:
            modes = []
        baselines = []  # (name, a function that times one epoch)
        if not a.no_pytorch:
            for m in [None] + modes:
                name = "pytorch eager" if m is None else "torch.compile" if m == "default" else f"compile:{m}"
                baselines.append((name, lambda m=m: pytorch_epoch(a.device, a.threads, batch, a.data, m)))
        if a.cublas_baseline:
            baselines.append(("cuvae --gemm cublas",
                              lambda: cuvae_epoch(a.cuvae, a.device, a.threads, batch, a.data, ["--gemm", "cublas"])))
        if not baselines:
            emit(row, f"{ours:9.3f} {n / ours:9.0f}")
            continue
        for name, run in baselines:
            try:
                theirs = run()
            except subprocess.CalledProcessError as e:
                failed = True
                print(f"{a.device:6} {batch:5d} {name}: failed ({e})", flush=True)
                continue
            emit(dict(row, baseline=name, baseline_s=theirs, speedup=theirs / ours),
                 f"{ours:9.3f} {n / ours:9.0f} {name:>24} {theirs:9.3f} {n / theirs:9.0f} {theirs / ours:7.2f}x")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
