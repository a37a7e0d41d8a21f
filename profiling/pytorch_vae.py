"""PyTorch reference trainer and benchmark for cuvae's VAE (Fashion-MNIST).

The model is the VAE of pytorch/examples (vae/main.py): fc1 784->400 ReLU,
fc21/fc22 400->20 (mu, logvar), z = mu + eps*exp(0.5*logvar), fc3 20->400 ReLU,
fc4 400->784; loss = BCE(sigmoid(logits), x, sum) + beta*KLD, Adam, batch 128,
reshuffled every epoch, last partial batch kept.  The reconstruction term is
computed in the numerically stable form F.binary_cross_entropy_with_logits(
logits, x, reduction='sum'): mathematically the same model as sigmoid + BCE.
--hidden "512,256" builds a deeper MLP whose parameters are named encoder.{i},
fc_mu, fc_logvar, decoder.{i}, decoder.out (the names cuvae writes).

Per epoch it prints the train loss per image (sum of batch losses / number of
train images, as pytorch/examples), the test -ELBO per image (recon + KL, one
z sample per image, eval mode) with its BCE and KL terms, and the training wall
time of the epoch (test pass excluded).  The data set is held as one tensor on
the device and batches are indexed from it (no DataLoader).

Run with PyTorch 2.15 (the venv of profiling/torch_venv.sh) or Debian's 1.13 (/usr/bin/python3);
the script runs under both:
  PY=$(profiling/torch_venv.sh)    # or PY=/usr/bin/python3
  "$PY" profiling/pytorch_vae.py [--epochs 10] [--limit 2000]
  "$PY" profiling/pytorch_vae.py --bench            # time one epoch
  "$PY" profiling/pytorch_vae.py --device cuda --json out.json
The first line and the --json config name torch's kernel libraries: its version, BLAS (MKL's
version, or the OpenBLAS it loaded, with its core type), oneDNN's version and the CPU capability
(bench_common.torch_libs).
--bench: one whole warm-up epoch (so every batch shape, the last partial batch
included, has been seen and, with --compile, compiled), then exactly one timed
training epoch (--epochs is ignored), no test pass.
--compile [MODE]: torch.compile (torch >= 2) of the forward pass plus loss, with
static shapes (dynamic=False: the partial last batch gets its own graph instead
of turning every batch dynamic); MODE is torch.compile's mode: default,
reduce-overhead (CUDA graphs), max-autotune, max-autotune-no-cudagraphs.  The
optimizer step stays eager (torch.optim.Adam's default foreach implementation).
"""
import argparse, gzip, json, os, platform, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_common import torch_libs, torch_name

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
COMPILE_MODES = ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


def load_idx_images(path):
    """Read an IDX3 ubyte(.gz) image file into a float32 [N, rows*cols] array in [0, 1]."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", buf[:16])
    if magic != 2051:
        sys.exit(f"error: {path}: bad IDX3 magic {magic}")
    img = np.frombuffer(buf, dtype=np.uint8, count=n * rows * cols, offset=16)
    return img.reshape(n, rows * cols).astype(np.float32) / 255.0


def find_file(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit(f"error: {stem}(.gz) not found in {data_dir}")


class VAE(nn.Module):
    def __init__(self, input_dim, hidden, latent):
        super().__init__()
        if len(hidden) == 1:  # pytorch/examples names
            h = hidden[0]
            self.fc1, self.fc21, self.fc22 = nn.Linear(input_dim, h), nn.Linear(h, latent), nn.Linear(h, latent)
            self.fc3, self.fc4 = nn.Linear(latent, h), nn.Linear(h, input_dim)
            enc, mu, lv, dec, out = [self.fc1], self.fc21, self.fc22, [self.fc3], self.fc4
        else:
            sizes = [input_dim] + list(hidden)
            self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.fc_mu, self.fc_logvar = nn.Linear(hidden[-1], latent), nn.Linear(hidden[-1], latent)
            rev = [latent] + list(reversed(hidden))
            self.decoder = nn.ModuleDict({str(i): nn.Linear(a, b) for i, (a, b) in enumerate(zip(rev[:-1], rev[1:]))})
            self.decoder["out"] = nn.Linear(hidden[0], input_dim)
            enc, mu, lv = list(self.encoder), self.fc_mu, self.fc_logvar
            dec, out = [self.decoder[str(i)] for i in range(len(hidden))], self.decoder["out"]
        # plain lists: not registered twice, state_dict keeps the names above
        self._layers = (enc, mu, lv, dec, out)

    def forward(self, x):
        enc, mu_l, lv_l, dec, out = self._layers
        h = x
        for l in enc:
            h = F.relu(l(h))
        mu, logvar = mu_l(h), lv_l(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        for l in dec:
            z = F.relu(l(z))
        return out(z), mu, logvar  # logits; sigmoid lives inside the loss


def vae_loss(logits, x, mu, logvar, beta):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon + beta * kl, recon, kl


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_loss_fn(model, beta):
    """The training step's forward pass and loss: what --compile compiles."""
    def forward_loss(x):
        logits, mu, logvar = model(x)
        return vae_loss(logits, x, mu, logvar, beta)[0]
    return forward_loss


def train_epoch(model, loss_fn, opt, train, args, gen, device, mark_step=None):
    model.train()
    n = train.shape[0]
    perm = torch.randperm(n, generator=gen).to(device)
    total = torch.zeros((), device=device)
    for start in range(0, n, args.batch_size):
        x = train[perm[start:start + args.batch_size]]
        if mark_step is not None:  # reduce-overhead: a new CUDA-graph step begins
            mark_step()
        loss = loss_fn(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
    return total.item() / n


@torch.no_grad()
def test_pass(model, test, args):
    model.eval()  # pytorch/examples' test(): the model still samples z
    recon_sum = kl_sum = 0.0
    for start in range(0, test.shape[0], args.batch_size):
        x = test[start:start + args.batch_size]
        logits, mu, logvar = model(x)
        _, recon, kl = vae_loss(logits, x, mu, logvar, 1.0)
        recon_sum += recon.item()
        kl_sum += kl.item()
    n = test.shape[0]
    return (recon_sum + kl_sum) / n, recon_sum / n, kl_sum / n


def add_run_args(p):
    """The options every PyTorch-side script here shares (pytorch_models.py too)."""
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--compile", nargs="?", const="default", choices=COMPILE_MODES, metavar="MODE",
                   help="torch.compile the forward pass and loss terms (torch>=2); MODE: " + ", ".join(COMPILE_MODES))
    p.add_argument("--limit", type=int, default=0, help="use only the first N train images")
    p.add_argument("--json", help="write config and per-epoch results here")
    p.add_argument("--bench", action="store_true", help="time one training epoch after a warm-up epoch")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--hidden", default="400", help='hidden sizes, e.g. "400" or "512,256"')
    p.add_argument("--beta", type=float, default=1.0)
    add_run_args(p)
    args = p.parse_args()
    try:
        hidden = [int(h) for h in args.hidden.split(",")]
    except ValueError:
        sys.exit(f"error: --hidden must be a comma list of integers, got {args.hidden!r}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)  # shuffling, on the CPU for every device
    device = torch.device("cpu")
    if args.device == "cuda":
        if torch.cuda.is_available():
            device = torch.device("cuda")
        else:
            print("warning: --device cuda requested but CUDA is not available; using cpu", file=sys.stderr)

    train = load_idx_images(find_file(args.data, "train-images-idx3-ubyte"))
    if args.limit > 0:
        train = train[:args.limit]
    test = None if args.bench else load_idx_images(find_file(args.data, "t10k-images-idx3-ubyte"))
    train = torch.from_numpy(train).to(device)
    test = None if test is None else torch.from_numpy(test).to(device)
    n_train, input_dim = train.shape

    model = VAE(input_dim, hidden, args.latent).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn, mark_step = make_loss_fn(model, args.beta), None
    if args.compile:
        if not hasattr(torch, "compile"):
            sys.exit(f"error: --compile needs torch>=2 (torch.compile); this is torch {torch.__version__}")
        loss_fn = torch.compile(loss_fn, mode=args.compile, dynamic=False)
        if "cudagraphs" not in args.compile and args.compile != "default" and device.type == "cuda":
            mark_step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)

    config = dict(vars(args), hidden=hidden, device=str(device), n_train=n_train,
                  n_test=None if test is None else test.shape[0], input_dim=input_dim,
                  torch=torch.__version__, libs=torch_libs(torch), num_threads=torch.get_num_threads(),
                  cuda_device=torch.cuda.get_device_name(0) if device.type == "cuda" else None,
                  cpu=platform.processor() or platform.machine(),
                  n_params=sum(t.numel() for t in model.parameters()))
    print(f"# {torch_name(config['libs'])} device {device} threads {torch.get_num_threads()} "
          f"hidden {hidden} latent {args.latent} batch {args.batch_size} n_train {n_train}")
    result = {"config": config, "epochs": []}

    if args.bench:
        t0 = time.perf_counter()
        train_epoch(model, loss_fn, opt, train, args, gen, device, mark_step)
        sync(device)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        loss = train_epoch(model, loss_fn, opt, train, args, gen, device, mark_step)
        sync(device)
        sec = time.perf_counter() - t0
        result["bench"] = {"warmup_epochs": 1, "warmup_seconds": warm, "seconds": sec,
                           "images_per_s": n_train / sec, "train_loss": loss, "compile": args.compile}
        print(f"bench: one epoch of {n_train} images, batch {args.batch_size}: {sec:.3f} s, "
              f"{n_train / sec:.0f} images/s (train loss {loss:.4f}; warm-up {warm:.3f} s)")
    else:
        for epoch in range(1, args.epochs + 1):
            sync(device)
            t0 = time.perf_counter()
            loss = train_epoch(model, loss_fn, opt, train, args, gen, device, mark_step)
            sync(device)
            sec = time.perf_counter() - t0
            elbo, recon, kl = test_pass(model, test, args)
            rec = dict(epoch=epoch, train_loss=loss, test_elbo=elbo, test_recon=recon, test_kl=kl,
                       seconds=sec, images_per_s=n_train / sec)
            result["epochs"].append(rec)
            print(f"epoch {epoch:3d}  train_loss {loss:9.4f}  test -ELBO {elbo:9.4f} "
                  f"(recon {recon:9.4f} + KL {kl:8.4f})  {sec:7.2f} s  {n_train / sec:8.0f} img/s", flush=True)
            if args.json:  # rewrite after every epoch so partial runs leave results
                with open(args.json, "w") as f:
                    json.dump(result, f, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
