"""Closed-form PCA benchmark: cuvae's pca_fit (profiling/bench_pca.cpp, CPU and, in a CUDA build with a
device, GPU) next to scikit-learn's PCA(n_components=K) on the same 60000 Fashion-MNIST training images
(float32, pixel/255), best of --reps runs each; prints a side-by-side table.

Run (Debian's Python with python3-sklearn, see .ci/setup), after building bench_pca:
  /usr/bin/python3 profiling/bench_pca.py [--bench build/cpu/profiling/bench_pca] [--k 20 100] [--reps 3]
ratio = sklearn seconds / cuvae seconds (above 1: cuvae is faster). max_rel_var = the largest relative
difference between the two explained_variance_ vectors. Both sides use OpenBLAS with its default thread
count unless OPENBLAS_NUM_THREADS says otherwise; the OpenBLAS core type each one runs (and the
OPENBLAS_CORETYPE override, if set) is printed, since a different kernel makes a different race.
"""
import argparse, gzip, json, os, platform, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def default_bench():
    for preset in ("release", "default", "cpu"):
        path = os.path.join(ROOT, "build", preset, "profiling", "bench_pca")
        if os.path.exists(path):
            return path
    return os.path.join(ROOT, "build", "cpu", "profiling", "bench_pca")


def load_images(data_dir):
    import numpy as np
    raw = os.path.join(data_dir, "train-images-idx3-ubyte")
    opener = (open, raw) if os.path.exists(raw) else (gzip.open, raw + ".gz")
    with opener[0](opener[1], "rb") as f:
        buf = f.read()
    count, rows, cols = (int.from_bytes(buf[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(buf, np.uint8, offset=16).reshape(count, rows * cols).astype(np.float32) / np.float32(255)


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default=default_bench(), help="the bench_pca executable")
    ap.add_argument("--k", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--svd-solver", default="auto",
                    help="scikit-learn's svd_solver (auto picks 'randomized' here: approximate tail variances)")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()

    import numpy as np
    from sklearn.decomposition import PCA
    import threadpoolctl

    cmd = [args.bench, "--reps", str(args.reps)] + sum((["--k", str(k)] for k in args.k), [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    ours = [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    data_dir = os.environ.get("CUVAE_DATA") or "/usr/share/datasets/fashion-mnist"
    x = load_images(data_dir)
    theirs = {}
    for k in args.k:
        best, pca = float("inf"), None
        for _ in range(args.reps):
            t0 = time.perf_counter()
            pca = PCA(n_components=k, svd_solver=args.svd_solver).fit(x)
            best = min(best, time.perf_counter() - t0)
        theirs[k] = (best, pca.explained_variance_.astype(np.float64), pca._fit_svd_solver)

    blas = [i for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"]
    sk_core = ", ".join(f"{i.get('architecture')} x{i.get('num_threads')}" for i in blas) or "not OpenBLAS"
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')!r}")
    if ours:
        print(f"cuvae OpenBLAS core: {ours[0]['openblas_corename']} x{ours[0]['openblas_threads']}; "
              f"numpy/sklearn OpenBLAS core: {sk_core}")
    print(f"data: {x.shape[0]}x{x.shape[1]} float32 from {data_dir}; best of {args.reps}")
    env = os.environ.get("OPENBLAS_CORETYPE", "")
    header = (f"{'impl':<11} {'K':>4} {'cuvae s':>9} {'sklearn s':>10} {'ratio':>7} {'max_rel_var':>12}  "
              f"{'sklearn solver':<15} OpenBLAS core (OPENBLAS_CORETYPE)")
    print(header)
    print("-" * len(header))
    rows = []
    for r in ours:
        k = r["K"]
        sk_s, sk_var, solver = theirs[k]
        var = np.asarray(r["explained_variance"], np.float64)
        rel = float(np.max(np.abs(var - sk_var) / np.abs(sk_var)))
        row = dict(impl=r["impl"], K=k, cuvae_s=r["seconds"], sklearn_s=sk_s, ratio=sk_s / r["seconds"],
                   max_rel_var=rel, sklearn_solver=solver, openblas_core=r["openblas_corename"],
                   OPENBLAS_CORETYPE=env)
        rows.append(row)
        print(f"{row['impl']:<11} {k:>4} {row['cuvae_s']:>9.3f} {sk_s:>10.3f} {row['ratio']:>6.2f}x {rel:>12.2e}  "
              f"{solver:<15} {r['openblas_corename']} x{r['openblas_threads']} ({env!r})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
