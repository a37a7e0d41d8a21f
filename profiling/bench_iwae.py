"""IWAE benchmark: the importance-weighted bound (Burda et al. 2015) of one vae checkpoint with
`cuvae eval --iwae K` and with the same estimator in PyTorch, on the same device, threads, K and
test images; prints both times, both estimates and the ratio from one run.

Run (Debian's Python, which has torch), after building cuvae and training a vae:
  build/cpu/cuvae train --epochs 10 --out runs/bench-vae --device cpu --threads 2
  /usr/bin/python3 profiling/bench_iwae.py runs/bench-vae/checkpoint.safetensors --K 5000 --images 10000
cuvae's time is the whole `cuvae eval --iwae K --test-limit N` process (start-up, reading the
checkpoint and the test split, the bound and the active units); PyTorch's is the estimator alone
(the checkpoint loaded and the images in memory before the clock starts), with the same chunks of
max(1, 8192 // K) images x K samples per decoder batch, under torch.no_grad(). The two draw
different eps (Philox in cuvae, torch.randn here), so the estimates agree to Monte Carlo error,
not to the bit.
"""
import argparse, math, os, re, subprocess, sys, time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)
import cuvae_torch  # noqa: E402
from pytorch_vae import DEFAULT_DATA, find_file, load_idx_images  # noqa: E402


def torch_iwae(model, x, K):
    """Per-image IWAE_K and the ELBO estimated from the same K samples (nats), float32."""
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
    args = p.parse_args()

    cmd = [args.cuvae, "eval", args.checkpoint, "--iwae", str(args.K), "--test-limit", str(args.images),
           "--device", "cpu", "--threads", str(args.threads), "--data", args.data, "--seed", str(args.seed)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    cuvae_s = time.perf_counter() - t0
    m = re.search(r"test log p\(x\) >= (-?[0-9.]+) \(IWAE, K=\d+\), (-?[0-9.]+) \(ELBO", out)
    if not m:
        sys.exit("error: no bound in cuvae's output: " + out)
    cuvae_iwae, cuvae_elbo = float(m.group(1)), float(m.group(2))

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = cuvae_torch.load(args.checkpoint)
    x = torch.from_numpy(load_idx_images(find_file(args.data, "t10k-images-idx3-ubyte"))[:args.images])
    t0 = time.perf_counter()
    bound, elbo = torch_iwae(model, x, args.K)
    torch_s = time.perf_counter() - t0

    n = x.shape[0]
    print(f"IWAE K={args.K} on {n} test images, CPU, {args.threads} threads ({torch.__version__=})")
    print(f"  cuvae   {cuvae_s:8.2f} s   IWAE {cuvae_iwae:9.2f}   ELBO {cuvae_elbo:9.2f}   ({out.strip()})")
    print(f"  PyTorch {torch_s:8.2f} s   IWAE {bound.double().mean().item():9.2f}   ELBO {elbo.double().mean().item():9.2f}")
    print(f"  PyTorch / cuvae time: {torch_s / cuvae_s:.2f}x")


if __name__ == "__main__":
    main()
