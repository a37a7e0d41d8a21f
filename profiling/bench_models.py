"""Training benchmark of every trained model: one epoch of vae, ae, dae and linear-ae with cuvae and
with its PyTorch equivalent (profiling/pytorch_models.py: python/cuvae_torch.py's modules, the same
optimiser, batch and data) on the CPU, side by side, with the ratio; --old-cuvae BINARY adds the
vae of an older cuvae build as a row (what the layers redesign costs or saves).

Run (Debian's Python, which has torch), after building cuvae:
  /usr/bin/python3 profiling/bench_models.py --threads 2 [--models vae ae dae] [--json out.json]
cuvae's figure is its second epoch (training only, from metrics.jsonl); PyTorch's is one timed
epoch after a warm-up epoch. The OpenBLAS kernel family cuvae ran is printed with the table
(OPENBLAS_CORETYPE, if set, is named too).
"""
import argparse, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_train import cuvae_epoch  # noqa: E402

# cuvae flags and the same model for pytorch_models.py.
MODELS = {
    "vae": ["--model", "vae"],
    "ae": ["--model", "ae"],
    "dae": ["--model", "dae", "--noise", "mask:0.25"],
    "linear-ae": ["--model", "linear-ae"],
}


def pytorch_epoch(model_flags, threads, batch, data):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pt.json")
        cmd = [sys.executable, os.path.join(HERE, "pytorch_models.py"), "--bench", "--threads", str(threads),
               "--batch-size", str(batch), "--json", out, *model_flags]
        if data:
            cmd += ["--data", data]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)["bench"]["seconds"]


def blas_core(binary):
    """The OpenBLAS kernel family cuvae reports at start-up ("cpu (OpenBLAS Zen, 2 threads)")."""
    r = subprocess.run([binary, "train", "--device", "cpu", "--epochs", "1", "--train-limit", "1", "--test-limit", "1",
                        "--out", tempfile.mkdtemp(), "--no-progress"], capture_output=True, text=True)
    for word in r.stdout.split("(OpenBLAS ")[1:2]:
        return word.split(",")[0]
    return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuvae", default=os.path.join(ROOT, "build", "default", "cuvae"))
    p.add_argument("--old-cuvae", help="an older cuvae binary: its vae epoch as another row")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data", default="")
    p.add_argument("--no-pytorch", action="store_true")
    p.add_argument("--json")
    a = p.parse_args()
    if not os.path.exists(a.cuvae):
        sys.exit(f"bench_models: {a.cuvae}: no such binary; build first (README) or pass --cuvae")
    n, rows = 60000, []
    core = os.environ.get("OPENBLAS_CORETYPE")
    print(f"# CPU, {a.threads} threads, batch {a.batch_size}; cuvae's OpenBLAS kernels: {blas_core(a.cuvae)}"
          f" (OPENBLAS_CORETYPE={core if core else 'unset'})")
    print(f"{'model':10} {'cuvae s':>9} {'img/s':>9} {'baseline':>14} {'base s':>9} {'img/s':>9} {'speed-up':>8}")
    runs = [(m, a.cuvae, MODELS[m]) for m in a.models]
    if a.old_cuvae:
        runs.append(("vae (old)", a.old_cuvae, []))
    for name, binary, flags in runs:
        ours = cuvae_epoch(binary, "cpu", a.threads, a.batch_size, a.data, flags)
        row = dict(model=name, threads=a.threads, batch=a.batch_size, cuvae_s=ours)
        text = f"{name:10} {ours:9.3f} {n / ours:9.0f}"
        if not a.no_pytorch and not name.endswith("(old)"):
            theirs = pytorch_epoch(MODELS[name], a.threads, a.batch_size, a.data)
            row.update(baseline="pytorch eager", baseline_s=theirs, speedup=theirs / ours)
            text += f" {'pytorch eager':>14} {theirs:9.3f} {n / theirs:9.0f} {theirs / ours:7.2f}x"
        rows.append(row)
        print(text, flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
