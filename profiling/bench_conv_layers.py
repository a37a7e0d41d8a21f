#!/usr/bin/env python3
"""The conv VAE's conv layers, pass by pass, cuvae's CPU backend next to PyTorch on the CPU, from
one run: the same shapes (batch B; Conv2d(1, 32, 4, 2, 1) on 28x28, Conv2d(32, 64, 4, 2, 1),
ConvTranspose2d(64, 32, 4, 2, 1), ConvTranspose2d(32, 1, 4, 2, 1)), the same thread count, each
pass timed alone (the median of --reps after a warm-up): forward with bias and ReLU, backward
(weight and bias gradients, and the input gradient except for the first layer). GFLOP/s counts
2 flops per multiply-add of the GEMMs.

  /usr/bin/python3 profiling/bench_conv_layers.py [--cuvae-bench build/cpu/profiling/bench_conv_layers]
      [--batch 128] [--threads 2] [--reps 20] [--baselines torch debian] [--json FILE]
"""
import argparse, json, os, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as bc

LAYERS = [("encoder.0", "conv", 1, 32, 28, False), ("encoder.2", "conv", 32, 64, 14, True),
          ("decoder.5", "convT", 64, 32, 7, True), ("decoder.7", "convT", 32, 1, 14, True)]

# Runs in the baseline's Python: prints one JSON line per layer and pass, then one with its libraries.
TORCH_SIDE = r'''
import json, statistics, sys, time, torch
sys.path.insert(0, sys.argv[1])
import bench_common as bc
batch, threads, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
layers = json.loads(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(1)
def median_ms(f):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)
for name, kind, cin, cout, size, dx in layers:
    mod = (torch.nn.Conv2d if kind == "conv" else torch.nn.ConvTranspose2d)(cin, cout, 4, 2, 1)
    x = torch.randn(batch, cin, size, size, requires_grad=dx)
    with torch.no_grad():
        y = torch.relu(mod(x))
    dy = torch.randn_like(y)
    def fwd():
        with torch.no_grad():
            torch.relu(mod(x))
    def bwd():
        y = torch.relu(mod(x))
        y.backward(dy)
    f, b = median_ms(fwd), median_ms(bwd) - median_ms(lambda: torch.relu(mod(x)))
    print(json.dumps({"layer": name, "pass": "forward", "ms": f}))
    print(json.dumps({"layer": name, "pass": "backward", "ms": b}))
print(json.dumps({"libs": bc.torch_libs(torch), "version": torch.__version__}))
'''


def macs(kind, cin, cout, size):
    small = size // 2 if kind == "conv" else size  # the small side's planes
    big_c, small_c = (cin, cout) if kind == "conv" else (cout, cin)
    return small_c * big_c * 16 * small * small


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cuvae-bench", default="build/cpu/profiling/bench_conv_layers")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--json", help="also write the table here")
    bc.add_baseline_args(p, choices=("torch", "debian"), default=("torch", "debian"))
    args = p.parse_args()
    rows = {}
    out = bc.run([args.cuvae_bench, "--batch", str(args.batch), "--threads", str(args.threads), "--reps", str(args.reps)])
    for line in out.splitlines():
        r = json.loads(line)
        rows[(r["layer"], r["pass"])] = {"cuvae": r["ms"]}
    libs = {"cuvae": bc.cuvae_libs(args.cuvae_bench)["blas"]}
    here = os.path.dirname(os.path.abspath(__file__))
    baselines = bc.resolve_baselines(args, "bench_conv_layers")
    for name, py in baselines:
        out = bc.run([py, "-c", TORCH_SIDE, here, str(args.batch), str(args.threads), str(args.reps), json.dumps(LAYERS)])
        for line in out.splitlines():
            r = json.loads(line)
            if "libs" in r:
                libs[name] = f"PyTorch {r['version']}: {r['libs']}"
            else:
                rows[(r["layer"], r["pass"])][name] = r["ms"]
    print(f"conv VAE layers, batch {args.batch}, {args.threads} threads, median of {args.reps}")
    for k, v in libs.items():
        print(f"  {k}: {v}")
    names = ["cuvae"] + [b for b, _ in baselines]
    print(f"{'layer':10} {'pass':9} " + " ".join(f"{n + ' ms':>11} {'GFLOP/s':>8}" for n in names) +
          "".join(f" {n + '/cuvae':>13}" for n in names[1:]))
    total = {n: 0.0 for n in names}
    for name, kind, cin, cout, size, dx in LAYERS:
        for pas in ("forward", "backward"):
            r = rows[(name, pas)]
            flops = 2 * macs(kind, cin, cout, size) * args.batch * (1 if pas == "forward" else 2 if dx else 1)
            cells = " ".join(f"{r[n]:11.3f} {flops / r[n] / 1e6:8.1f}" for n in names)
            ratios = "".join(f" {r[n] / r['cuvae']:12.2f}x" for n in names[1:])
            print(f"{name:10} {pas:9} {cells}{ratios}")
            for n in names:
                total[n] += r[n]
    print(f"{'all':20} " + " ".join(f"{total[n]:11.3f} {'':8}" for n in names) +
          "".join(f" {total[n] / total['cuvae']:12.2f}x" for n in names[1:]))
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"batch": args.batch, "threads": args.threads, "libs": libs,
                       "rows": [{"layer": k[0], "pass": k[1], **v} for k, v in rows.items()]}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
