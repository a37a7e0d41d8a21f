"""Parity checker: compares a cuvae VAE forward/backward dump against PyTorch autograd.

Run:  /usr/bin/python3 tests/python/vae_parity.py FILE.safetensors [--rtol 1e-5]

FILE (written by cuvae) holds the model parameters under PyTorch state_dict
names (hidden "400": fc1, fc21, fc22, fc3, fc4; hidden "512,256": encoder.{i},
fc_mu, fc_logvar, decoder.{i}, decoder.out; each .weight [out,in] and .bias),
input.x [B,D], input.eps [B,L], output.loss/recon/kl [1], optionally
output.logits [B,D], grad.<param> for every parameter, and metadata strings
beta, hidden, latent, input_dim.  The model is rebuilt in float64 from the
stored weights: ReLU after every hidden layer, z = mu + eps*exp(0.5*logvar),
logits out; loss = sum_batch(BCE_with_logits summed over pixels + beta*KL).

Each quantity passes if max|ours - ref| <= rtol * max|ref| (per tensor).
Exit 0: all pass; 1: some tensor fails ("FAIL <name>: ..."); 2: bad file or
missing tensor/metadata.
"""
import argparse, os, sys

sys.path.insert(0, os.environ.get("CUVAE_PYDEPS", os.path.expanduser("~/.cache/cuvae/pydeps")))

import numpy as np
import torch
import torch.nn.functional as F


def bad(msg):
    print(f"ERROR: {msg}", file=sys.stderr)
    sys.exit(2)


def param_layout(hidden, latent, input_dim):
    """[(name, out, in)] for every Linear, and the roles (enc list, mu, logvar, dec list, out)."""
    D, L = input_dim, latent
    if len(hidden) == 1:
        H = hidden[0]
        layers = [("fc1", H, D), ("fc21", L, H), ("fc22", L, H), ("fc3", H, L), ("fc4", D, H)]
        return layers, (["fc1"], "fc21", "fc22", ["fc3"], "fc4")
    sizes = [D] + hidden
    enc = [(f"encoder.{i}", sizes[i + 1], sizes[i]) for i in range(len(hidden))]
    rev = [L] + hidden[::-1]
    dec = [(f"decoder.{i}", rev[i + 1], rev[i]) for i in range(len(hidden))]
    layers = enc + [("fc_mu", L, hidden[-1]), ("fc_logvar", L, hidden[-1])] + dec + [("decoder.out", D, hidden[0])]
    return layers, ([n for n, _, _ in enc], "fc_mu", "fc_logvar", [n for n, _, _ in dec], "decoder.out")


def reference(p, x, eps, beta, roles):
    enc, mu_n, lv_n, dec, out_n = roles
    lin = lambda n, h: F.linear(h, p[n + ".weight"], p[n + ".bias"])
    h = x
    for n in enc:
        h = F.relu(lin(n, h))
    mu, logvar = lin(mu_n, h), lin(lv_n, h)
    h = mu + eps * torch.exp(0.5 * logvar)
    for n in dec:
        h = F.relu(lin(n, h))
    logits = lin(out_n, h)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon + beta * kl, recon, kl, logits


def main():
    ap = argparse.ArgumentParser(description="cuvae VAE parity checker against PyTorch (float64)")
    ap.add_argument("file")
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args()

    try:
        from safetensors import safe_open
    except ImportError as e:
        bad(f"cannot import safetensors ({e}); set CUVAE_PYDEPS to its install dir")
    if not os.path.isfile(args.file):
        bad(f"{args.file}: no such file")
    try:
        with safe_open(args.file, framework="pt") as f:
            meta = f.metadata() or {}
            t = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        bad(f"{args.file}: cannot read as safetensors: {e}")

    for k in ("beta", "hidden", "latent", "input_dim"):
        if k not in meta:
            bad(f"metadata '{k}' missing (have {sorted(meta)})")
    try:
        beta = float(meta["beta"])
        hidden = [int(h) for h in meta["hidden"].split(",")]
        latent, input_dim = int(meta["latent"]), int(meta["input_dim"])
    except ValueError as e:
        bad(f"bad metadata {meta}: {e}")
    layers, roles = param_layout(hidden, latent, input_dim)

    def get(name, shape):
        if name not in t:
            bad(f"tensor '{name}' missing")
        if tuple(t[name].shape) != tuple(shape):
            bad(f"tensor '{name}' has shape {list(t[name].shape)}, expected {list(shape)}")
        return t[name].to(torch.float64)

    params, shapes = {}, {}
    for n, o, i in layers:
        shapes[n + ".weight"], shapes[n + ".bias"] = (o, i), (o,)
    for n, s in shapes.items():
        params[n] = get(n, s).requires_grad_(True)
    if "input.x" not in t or t["input.x"].dim() != 2:
        bad("tensor 'input.x' missing or not 2-D")
    B = t["input.x"].shape[0]
    x, eps = get("input.x", (B, input_dim)), get("input.eps", (B, latent))
    ours = {n: get(n, (1,)) for n in ("output.loss", "output.recon", "output.kl")}
    if "output.logits" in t:
        ours["output.logits"] = get("output.logits", (B, input_dim))
    for n, s in shapes.items():
        ours["grad." + n] = get("grad." + n, s)

    loss, recon, kl, logits = reference(params, x, eps, beta, roles)
    grads = torch.autograd.grad(loss, list(params.values()))
    ref = {"output.loss": loss.reshape(1), "output.recon": recon.reshape(1), "output.kl": kl.reshape(1),
           "output.logits": logits}
    ref.update({"grad." + n: g for n, g in zip(params, grads)})

    print(f"# {args.file}: hidden {hidden} latent {latent} input_dim {input_dim} batch {B} beta {beta} "
          f"rtol {args.rtol:g}" + ("" if "output.logits" in t else " (no output.logits)"))
    print(f"{'tensor':28s} {'max|diff|':>12s} {'max|ref|':>12s} {'rel':>10s}  worst index")
    fails = []
    for name, o in ours.items():
        r = ref[name].detach()
        diff = (o - r).abs()
        md, mr = diff.max().item(), r.abs().max().item()
        rel = md / mr if mr > 0 else (0.0 if md == 0 else float("inf"))
        worst = tuple(int(v) for v in np.unravel_index(int(diff.argmax()), tuple(diff.shape)))
        ok = md <= args.rtol * mr
        print(f"{name:28s} {md:12.4e} {mr:12.4e} {rel:10.3e}  {list(worst)}{'' if ok else '  <-- FAIL'}")
        if not ok:
            fails.append(f"FAIL {name}: max|diff| {md:.4e} at {list(worst)} (ours {o[worst].item():.8g}, "
                         f"ref {r[worst].item():.8g}), max|ref| {mr:.4e}, rel {rel:.3e} > rtol {args.rtol:g}")
    for line in fails:
        print(line)
    print("PASS" if not fails else f"{len(fails)} of {len(ours)} tensors FAIL")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
