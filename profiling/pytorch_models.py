"""PyTorch equivalents of cuvae's trained models (ae, linear-ae, dae, vae), for test figures and speed.

The modules are python/cuvae_torch.py's (built from the same config JSON cuvae writes, so the
same layers and state-dict names); training is what cuvae does: Adam (torch.optim.Adam, L2
--l2 as its weight_decay; AdamW when --weight-decay is given), batch 128 reshuffled every
epoch with the last partial batch kept, ExponentialLR stepped per epoch (--lr-decay), the KL
weight beta * min(1, (t-1)/W) at step t (--kl-warmup W), a dae's input corrupted per step
(mask: zeroed with probability P; gaussian: x + N(0, S^2) clipped to [0, 1]; saltpepper: 0 or
1 with probability P/2 each) against the clean target. Losses are sums over the batch, as
cuvae's. Per epoch it prints the train loss per image and the test figures cuvae prints, with
the same names: a vae's -ELBO (one z sample per image) with recon and KL, an autoencoder's
recon (nats), the squared error for a Gaussian likelihood, and a dae's figures on corrupted
test inputs too (recon_noisy).

Run (Debian's Python, which has torch):
  /usr/bin/python3 profiling/pytorch_models.py --model ae --hidden 512,256 --latent 32 --epochs 10
  /usr/bin/python3 profiling/pytorch_models.py --model dae --noise mask:0.25 --bench   # time one epoch
  "$(profiling/torch_venv.sh)" profiling/pytorch_models.py --arch conv --epochs 10       # the conv VAE, PyTorch 2.15
  python3 profiling/pytorch_models.py --arch conv --device cuda --compile reduce-overhead --bench  # a CUDA torch
--bench: one warm-up epoch (which also compiles every batch shape), then exactly one timed
training epoch, no test pass; on CUDA the GPU is synchronised before each clock reading.
--device cuda: the model and the whole data set on the GPU, batches indexed there (no DataLoader);
the loss is summed on the GPU (no synchronisation per step); a dae's corruption and the batch
order are drawn on the CPU, as on --device cpu, and moved.
--compile [MODE]: torch.compile (torch >= 2) of the training step's forward pass and loss terms,
dynamic=False (the last partial batch is one more shape); MODE as pytorch_vae.py's.
"""
import argparse, json, math, os, platform, sys, time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
sys.path.insert(0, HERE)
import cuvae_torch  # noqa: E402
from pytorch_vae import DEFAULT_DATA, add_run_args, find_file, load_idx_images, sync  # noqa: E402
from bench_common import torch_libs  # noqa: E402


def load_npy_images(path):
    """Rows [N, C*H*W] float32 in [0, 1] and the image shape [C, H, W] of an .npy file as cuvae reads
    it: [N, H, W] or [N, C, H, W], uint8 (divided by 255) or float32."""
    import numpy as np
    a = np.load(path)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise SystemExit(f"{path}: want [N, H, W] or [N, C, H, W] images, got shape {list(a.shape)}")
    x = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    return torch.from_numpy(x.reshape(a.shape[0], -1)), list(a.shape[1:])


def corrupt(x, noise, gen):
    kind, level = noise
    rand = lambda: torch.rand(x.shape, generator=gen).to(x.device)  # drawn on the CPU for every device
    if kind == "mask":
        return x * (rand() >= level).to(x.dtype)
    if kind == "gaussian":
        return (x + level * torch.randn(x.shape, generator=gen).to(x.device)).clamp(0.0, 1.0)
    u = rand()  # saltpepper
    return torch.where(u < level / 2, torch.zeros_like(x), torch.where(u < level, torch.ones_like(x), x))


def terms(model, config, x_in, target, eps=None):
    t = model.loss_terms(x_in, target, eps)
    return t["recon"], t.get("kl")


def train_epoch(model, config, opt, train, args, gen, step, step_terms, mark_step=None):
    """step_terms(x_in, x) -> (recon, kl or None): terms(), or its torch.compile'd version."""
    model.train()
    n = train.shape[0]
    perm = torch.randperm(n, generator=gen).to(train.device)
    total = torch.zeros((), device=train.device)
    for start in range(0, n, args.batch_size):
        step += 1
        x = train[perm[start:start + args.batch_size]]
        x_in = corrupt(x, config["_noise"], gen) if config["_noise"] else x
        if mark_step is not None:  # reduce-overhead: a new CUDA-graph step begins
            mark_step()
        recon, kl = step_terms(x_in, x)
        beta = args.beta
        if args.kl_warmup > 0:
            beta = args.beta * min(1.0, (step - 1) / args.kl_warmup)
        loss = recon if kl is None else recon + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
    return total.item() / n, step


@torch.no_grad()
def test_pass(model, config, test, args, noisy):
    model.eval()
    gen = torch.Generator().manual_seed(args.seed + 7)
    recon_sum = kl_sum = 0.0
    for start in range(0, test.shape[0], args.batch_size):
        x = test[start:start + args.batch_size]
        x_in = corrupt(x, config["_noise"], gen) if noisy else x
        recon, kl = terms(model, config, x_in, x)
        recon_sum += recon.item()
        kl_sum += 0.0 if kl is None else kl.item()
    n = test.shape[0]
    return recon_sum / n, kl_sum / n


def figures(config, test_model, test, args):
    """The test figures with cuvae's names (Model::metrics)."""
    D, sigma = config["input_dim"], config["sigma"]
    sq = lambda r: 2 * sigma * sigma * (r - D * math.log(sigma * math.sqrt(2 * math.pi)))
    recon, kl = test_pass(test_model, config, test, args, False)
    if config["model"] == "vae":
        return {"elbo": recon + kl, "recon": recon, "kl": kl}
    out = {"recon": recon}
    gauss = config["likelihood"] == "gaussian"
    if gauss:
        out["sq_error"] = sq(recon)
    if config["_noise"]:
        noisy, _ = test_pass(test_model, config, test, args, True)
        out["recon_noisy"] = noisy
        if gauss:
            out["sq_error_noisy"] = sq(noisy)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["ae", "linear-ae", "dae", "vae"], default="vae")
    p.add_argument("--arch", choices=["mlp", "conv", "conv64"], default="mlp",
                   help="conv: cuvae's --arch conv (models/arch.hpp; the 28x28 images as 1x28x28); conv64: "
                        "PyTorch-VAE's VanillaVAE (needs --npy images with sides multiples of 32)")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--npy", help="a folder with train.npy and test.npy ([N, C, H, W] uint8, or float32 in [0, 1]), "
                                 "as cuvae --data reads it, instead of the IDX --data")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=1.0)
    p.add_argument("--l2", type=float, default=0.0, help="torch.optim.Adam's weight_decay (an L2 term in the gradient)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="decoupled weight decay (AdamW)")
    p.add_argument("--latent", type=int, default=None, help="default 20; conv64: 128")
    p.add_argument("--hidden", default=None, help='e.g. "400", "512,256" or "none" (default: the model\'s)')
    p.add_argument("--activation", default=None, choices=["relu", "none"])
    p.add_argument("--likelihood", default=None, choices=["bernoulli", "gaussian"])
    p.add_argument("--sigma", type=float, default=1.0)
    p.add_argument("--noise", default=None, help="dae: mask:P, gaussian:S or saltpepper:P (default mask:0.25)")
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--kl-warmup", type=int, default=0)
    add_run_args(p)
    args = p.parse_args()

    linear = args.model == "linear-ae"
    hidden = args.hidden if args.hidden is not None else ("none" if linear or args.arch != "mlp" else "400")
    if args.latent is None:
        args.latent = 128 if args.arch == "conv64" else 20
    config = {"model": args.model, "input_dim": 784,
              "hidden": [] if hidden == "none" else [int(h) for h in hidden.split(",")],
              "activation": args.activation or ("none" if linear else "relu"),
              "latent": args.latent, "likelihood": args.likelihood or ("gaussian" if linear else "bernoulli"),
              "sigma": args.sigma, "beta": args.beta,
              "noise": args.noise or ("mask:0.25" if args.model == "dae" else "none"), "arch": args.arch}
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(f"error: --device cuda, but this torch ({torch.__version__}) sees no CUDA GPU")
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    if args.npy:
        train, image = load_npy_images(os.path.join(args.npy, "train.npy"))
        test = None if args.bench else load_npy_images(os.path.join(args.npy, "test.npy"))[0]
        config["image"] = image
    else:
        train = torch.from_numpy(load_idx_images(find_file(args.data, "train-images-idx3-ubyte")))
        test = None if args.bench else torch.from_numpy(load_idx_images(find_file(args.data, "t10k-images-idx3-ubyte")))
        side = int(round(train.shape[1] ** 0.5))
        config["image"] = [1, side, side] if side * side == train.shape[1] else [1, 1, train.shape[1]]
    if args.limit > 0:
        train = train[:args.limit]
    config["input_dim"] = train.shape[1]
    train = train.to(device)
    test = None if test is None else test.to(device)
    model = cuvae_torch.model_from_config(config).to(device)
    step_terms, mark_step = (lambda x_in, x: terms(model, config, x_in, x)), None
    if args.compile:
        if not hasattr(torch, "compile"):
            sys.exit(f"error: --compile needs torch>=2 (torch.compile); this is torch {torch.__version__}")
        step_terms = torch.compile(step_terms, mode=args.compile, dynamic=False)
        if "cudagraphs" not in args.compile and args.compile != "default" and device.type == "cuda":
            mark_step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
    noise = config["noise"]
    config["_noise"] = None if noise == "none" else (noise.split(":")[0], float(noise.split(":")[1]))
    if args.weight_decay > 0:
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.l2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=args.lr_decay)
    n_train = train.shape[0]
    print(f"# torch {torch.__version__} {device} threads {torch.get_num_threads()} {args.model} {config['input_dim']}-"
          f"{hidden}-{args.latent} {config['likelihood']} noise {noise} batch {args.batch_size} n_train {n_train}")
    meta = dict(vars(args), config={k: v for k, v in config.items() if not k.startswith("_")}, torch=torch.__version__,
                num_threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
                libs=torch_libs(torch), cuda_device=torch.cuda.get_device_name(0) if device.type == "cuda" else None)
    result = {"config": meta, "epochs": []}
    step = 0
    if args.bench:
        sync(device)
        t0 = time.perf_counter()
        _, step = train_epoch(model, config, opt, train, args, gen, step, step_terms, mark_step)
        sync(device)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        loss, step = train_epoch(model, config, opt, train, args, gen, step, step_terms, mark_step)
        sync(device)
        sec = time.perf_counter() - t0
        result["bench"] = {"warmup_seconds": warm, "seconds": sec, "images_per_s": n_train / sec, "train_loss": loss,
                           "compile": args.compile}
        print(f"bench: one epoch of {n_train} images, batch {args.batch_size}: {sec:.3f} s, "
              f"{n_train / sec:.0f} images/s (train loss {loss:.4f}; warm-up {warm:.3f} s)")
    for epoch in range(1, 0 if args.bench else args.epochs + 1):
        sync(device)
        t0 = time.perf_counter()
        loss, step = train_epoch(model, config, opt, train, args, gen, step, step_terms, mark_step)
        sync(device)
        sec = time.perf_counter() - t0
        sched.step()
        figs = figures(config, model, test, args)
        result["epochs"].append(dict(epoch=epoch, train_loss=loss, seconds=sec,
                                     **{"test_" + k: v for k, v in figs.items()}))
        print(f"epoch {epoch}: train loss {loss:.4f} | test " +
              ", ".join(f"{k} {v:.4f}" for k, v in figs.items()) + f" | {sec:.2f} s", flush=True)
        if args.json:  # rewritten after every epoch, so a cut run leaves its rows
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
