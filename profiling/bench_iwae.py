"""IWAE benchmark: the importance-weighted bound (Burda et al. 2015) of one vae checkpoint with
`cuvae eval --iwae K` and with the same estimator in PyTorch, on the same device, threads, K and
test images; prints the times, the estimates and the ratios from one run.

Run with any Python 3 (this script needs only the standard library; each PyTorch baseline runs
it again as a worker under its own Python), after building cuvae and training a vae:
  profiling/torch_venv.sh                                   # once: the PyTorch 2.15 baseline's venv
  build/cpu/cuvae train --epochs 10 --out runs/bench-vae --device cpu --threads 2
  python3 profiling/bench_iwae.py runs/bench-vae/checkpoint.safetensors --K 5000 --images 10000
Baselines (--baselines, bench_common.py): PyTorch 2.15 from PyPI ("torch", the venv of
profiling/torch_venv.sh or --torch-python) and Debian's PyTorch 1.13 ("debian",
/usr/bin/python3), both eager; without the venv the 2.15 row is left out with one line saying
how to make it. Every row names its kernel libraries: cuvae's OpenBLAS version and core type
(`cuvae eval` prints none, so the core is the one that OpenBLAS library picks in a probe with
the same environment) and OPENBLAS_CORETYPE if set; PyTorch's version, BLAS (MKL or OpenBLAS),
oneDNN version and CPU capability.

cuvae's time is the whole `cuvae eval --iwae K --test-limit N` process (start-up, reading the
checkpoint and the test split, the bound and the active units); PyTorch's is the estimator alone
(the checkpoint loaded and the images in memory before the clock starts), with the same chunks of
max(1, 8192 // K) images x K samples per decoder batch, under torch.no_grad(). The two draw
different eps (Philox in cuvae, torch.randn here), so the estimates agree to Monte Carlo error,
not to the bit. cuvae's ELBO column is the one `cuvae eval` prints (its own estimate, labelled
"ELBO, K=1" in its output); PyTorch's is the mean log-weight of the same K samples as its bound.
The rows run one after another: on a shared machine compare the ratios.
--json FILE writes every row; a run where anything fails exits 1.
"""
import argparse, json, math, os, re, sys, tempfile, time

import bench_common as bc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"  # pytorch_vae.DEFAULT_DATA (that module imports torch)


def torch_iwae(model, x, K):
    """Per-image IWAE_K and the ELBO estimated from the same K samples (nats), float32."""
    import torch
    import torch.nn.functional as F
    per = max(1, 8192 // K)
    bounds, elbos = [], []
    with torch.no_grad():
        for first in range(0, x.shape[0], per):
            xb = x[first:first + per]
            n = xb.shape[0]
            mu, logvar = model.encode_dist(xb)
            L = mu.shape[1]
            eps = torch.randn(n, K, L)
            z = mu[:, None, :] + eps * torch.exp(0.5 * logvar)[:, None, :]
            raw = model.decoder(z.reshape(n * K, L))
            target = xb.repeat_interleave(K, dim=0)
            if model.likelihood == "bernoulli":
                recon = F.binary_cross_entropy_with_logits(raw, target, reduction="none").sum(1)
            else:
                recon = (0.5 * ((target - raw) / model.sigma) ** 2).sum(1) + \
                    raw.shape[1] * math.log(model.sigma * math.sqrt(2 * math.pi))
            logw = -recon.reshape(n, K) + (0.5 * (eps ** 2 - z ** 2) + 0.5 * logvar[:, None, :]).sum(2)
            bounds.append(torch.logsumexp(logw, 1) - math.log(K))
            elbos.append(logw.mean(1))
    return torch.cat(bounds), torch.cat(elbos)


def worker(args):
    """The PyTorch side, in the baseline's own Python: writes {seconds, iwae, elbo, n, libs}."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import cuvae_torch
    from pytorch_vae import find_file, load_idx_images
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = cuvae_torch.load(args.checkpoint)
    x = torch.from_numpy(load_idx_images(find_file(args.data, "t10k-images-idx3-ubyte"))[:args.images])
    t0 = time.perf_counter()
    bound, elbo = torch_iwae(model, x, args.K)
    seconds = time.perf_counter() - t0
    bc.write_json(args.torch_worker, dict(seconds=seconds, iwae=bound.double().mean().item(),
                                          elbo=elbo.double().mean().item(), n=x.shape[0], libs=bc.torch_libs(torch)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    default_bin = os.path.join(ROOT, "build", "cpu", "cuvae")
    p.add_argument("--cuvae", default=default_bin if os.path.exists(default_bin) else os.path.join(ROOT, "build", "default", "cuvae"))
    p.add_argument("--K", type=int, default=5000)
    p.add_argument("--images", type=int, default=10000, help="the first N test images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=1)
    bc.add_baseline_args(p, choices=("torch", "debian"), default=("torch", "debian"))
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--torch-worker", metavar="OUT", help=argparse.SUPPRESS)  # internal: the PyTorch side
    args = p.parse_args()
    if args.K < 1 or args.images < 1:
        p.error("--K and --images must be positive")
    if args.torch_worker:
        return worker(args)
    if not os.path.exists(args.cuvae):
        sys.exit(f"bench_iwae: {args.cuvae}: no such binary; build first (README) or pass --cuvae")
    if not os.path.isfile(args.checkpoint):
        sys.exit(f"bench_iwae: {args.checkpoint}: no such checkpoint (train a vae first, see --help)")

    cmd = [args.cuvae, "eval", args.checkpoint, "--iwae", str(args.K), "--test-limit", str(args.images),
           "--device", "cpu", "--threads", str(args.threads), "--data", args.data, "--seed", str(args.seed)]
    t0 = time.perf_counter()
    try:
        out = bc.run(cmd).strip()
    except bc.RunFailed as e:
        sys.exit(f"bench_iwae: cuvae eval failed ({e})")
    cuvae_s = time.perf_counter() - t0
    m = re.search(r"test log p\(x\) >= (-?[0-9.]+) \(IWAE, K=\d+\), (-?[0-9.]+) \(ELBO.*over (\d+) images", out)
    if not m:
        sys.exit(f"bench_iwae: no bound in cuvae eval's output: {out or '(none)'}")
    libs = bc.cuvae_libs(args.cuvae)
    rows = [dict(name="cuvae", seconds=cuvae_s, iwae=float(m.group(1)), elbo=float(m.group(2)), n=int(m.group(3)),
                 libs=libs, libs_text=libs["blas"], output=out, K=args.K, threads=args.threads)]
    print(f"IWAE K={args.K} on {rows[0]['n']} test images, CPU, {args.threads} threads; one run, the rows one "
          f"after another (compare ratios on a shared machine)")
    print(f"  {'':24} {'seconds':>9} {'IWAE':>9} {'ELBO':>9} {'/ cuvae':>8}  libraries")

    def show(row):
        ratio = f"{row['seconds'] / cuvae_s:7.2f}x" if row["name"] != "cuvae" else ""
        print(f"  {row['name']:24} {row['seconds']:9.2f} {row['iwae']:9.2f} {row['elbo']:9.2f} {ratio:>8}  "
              f"{row['libs_text']}", flush=True)
        bc.write_json(args.json, rows)

    show(rows[0])
    failed = False
    for b, python in bc.resolve_baselines(args, "bench_iwae"):
        with tempfile.TemporaryDirectory() as tmp:
            res = os.path.join(tmp, "pt.json")
            wcmd = [python, os.path.abspath(__file__), args.checkpoint, "--K", str(args.K), "--images", str(args.images),
                    "--threads", str(args.threads), "--data", args.data, "--seed", str(args.seed), "--torch-worker", res]
            try:
                bc.run(wcmd)
                with open(res) as f:
                    got = json.load(f)
            except (bc.RunFailed, OSError, ValueError) as e:
                failed = True
                print(f"  {b}: failed ({python}: {e})", flush=True)
                continue
        rows.append(dict(got, name=f"PyTorch {got['libs']['torch'].split('+')[0]} eager", baseline=b, python=python,
                         libs_text=bc.torch_name(got["libs"]), ratio=got["seconds"] / cuvae_s, K=args.K,
                         threads=args.threads))
        show(rows[-1])
    print(f"  cuvae: {out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
