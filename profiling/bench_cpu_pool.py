#!/usr/bin/env python3
"""One thread pool or two: the CPU backend's configurations, run alternately (the machine's
cores are shared, so each round runs every configuration once, back to back, and the table gives
the median and the range over rounds).

  /usr/bin/python3 profiling/bench_cpu_pool.py --cuvae build/cpu/cuvae --ckpt CKPT [--old OLD_CUVAE]
      [--rounds 3] [--threads 2] [--images 20 200] [--what train,iwae] [--only pthread,old]

Configurations, all of the one binary (the backend runs its elementwise loops on OpenMP threads
exactly when the OpenBLAS it finds is the OpenMP build; LD_LIBRARY_PATH picks the build):
`pthread` (OpenBLAS's pthread build: its own threads for the GEMMs, the loops on the calling
thread), `openmp` (OpenBLAS's OpenMP build: the GEMMs and the loops on one OpenMP pool, libgomp's
default wait policy: idle threads spin for a while), `passive` (openmp with OMP_WAIT_POLICY=passive:
idle threads sleep at once), and `old` (another cuvae binary, e.g. the build before the fast ops,
as it runs). Figures: the second training epoch's seconds from metrics.jsonl (`train --model vae
--epochs 2 --test-limit 512`) and the wall time of `eval CKPT --iwae 5000 --test-limit N`.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

LIB = "/usr/lib/x86_64-linux-gnu/openblas-"


def configs(args):
    c = [("pthread", args.cuvae, {"LD_LIBRARY_PATH": LIB + "pthread"}),
         ("openmp", args.cuvae, {"LD_LIBRARY_PATH": LIB + "openmp"}),
         ("passive", args.cuvae, {"LD_LIBRARY_PATH": LIB + "openmp", "OMP_WAIT_POLICY": "passive"})]
    if args.old:
        c.append(("old", args.old, {}))
    return c


def run(cmd, env_extra):
    env = dict(os.environ, **env_extra)
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}")
    return wall, p.stdout


def train_epoch(binary, env, threads, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    run([binary, "train", "--model", "vae", "--epochs", "2", "--threads", str(threads), "--no-progress",
         "--test-limit", "512", "--out", out], env)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    last = [r for r in records if r.get("epoch") == 2][-1]
    return last["seconds"], last["test_elbo"]


def iwae(binary, env, threads, ckpt, images):
    wall, out = run([binary, "eval", ckpt, "--iwae", "5000", "--test-limit", str(images), "--threads", str(threads)],
                    env)
    return wall, out.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cuvae", required=True)
    ap.add_argument("--old")
    ap.add_argument("--ckpt")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, nargs="+", default=[20])
    ap.add_argument("--what", default="train,iwae")
    ap.add_argument("--only", help="comma-separated configurations to run (default: all)")
    args = ap.parse_args()
    what = args.what.split(",")
    if "iwae" in what and not args.ckpt:
        ap.error("--what iwae needs --ckpt")
    cfgs = configs(args)
    if args.only:
        keep = args.only.split(",")
        cfgs = [c for c in cfgs if c[0] in keep]
    results = {}  # (measure, config) -> [seconds]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, binary, env in cfgs:
                if "train" in what:
                    s, elbo = train_epoch(binary, env, args.threads, tmp)
                    results.setdefault(("train epoch 2 (s)", name), []).append(s)
                    print(f"round {r + 1} {name:8s} train epoch 2: {s:.2f} s  test -ELBO {elbo:.4f}", flush=True)
                if "iwae" in what:
                    for n in args.images:
                        s, line = iwae(binary, env, args.threads, args.ckpt, n)
                        results.setdefault((f"iwae K=5000, {n} images, wall (s)", name), []).append(s)
                        print(f"round {r + 1} {name:8s} iwae {n} images: {s:.2f} s  {line}", flush=True)
    print()
    names = [c[0] for c in cfgs]
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for measure in dict.fromkeys(m for m, _ in results):
        cells = []
        for n in names:
            v = results[(measure, n)]
            cells.append(f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})")
        print(f"| {measure} | " + " | ".join(cells) + " |")
    print(f"\nload average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
