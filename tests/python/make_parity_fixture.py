"""Writes a cuvae-style VAE parity file from PyTorch (float32), and self-checks vae_parity.py.

The file has the layout vae_parity.py reads (parameters under state_dict names,
input.x, input.eps, output.loss/recon/kl/logits, grad.<param>, metadata beta,
hidden, latent, input_dim), computed by a float32 torch forward/backward.

Run:
  /usr/bin/python3 tests/python/make_parity_fixture.py OUT.safetensors [--hidden 17 | 17,11]
      [--D 30 --L 5 --B 7 --beta 1.0 --seed 0] [--perturb grad.fc1.weight] [--rel 1e-3]
      [--no-logits] [--drop NAME]
  /usr/bin/python3 tests/python/make_parity_fixture.py --self-check
--perturb NAME multiplies that stored tensor by (1 + rel); --drop NAME leaves it out.
--self-check writes fixtures (k=1 and k=2) to a temp dir and checks that
vae_parity.py exits 0 on clean ones, 1 on a perturbed grad, 2 on a missing
tensor; exits 0 if all behave.
"""
import argparse, os, subprocess, sys, tempfile

sys.path.insert(0, os.environ.get("CUVAE_PYDEPS", os.path.expanduser("~/.cache/cuvae/pydeps")))

import torch
import torch.nn as nn
import torch.nn.functional as F


def make(path, D=30, hidden=(17,), L=5, B=7, beta=1.0, seed=0, perturb=None, rel=1e-3,
         logits_out=True, drop=None):
    from safetensors.torch import save_file
    torch.manual_seed(seed)
    hidden = list(hidden)
    lin = {}
    if len(hidden) == 1:
        H = hidden[0]
        for n, i, o in [("fc1", D, H), ("fc21", H, L), ("fc22", H, L), ("fc3", L, H), ("fc4", H, D)]:
            lin[n] = nn.Linear(i, o)
        enc, mu_n, lv_n, dec, out_n = ["fc1"], "fc21", "fc22", ["fc3"], "fc4"
    else:
        sizes, rev = [D] + hidden, [L] + hidden[::-1]
        enc = [f"encoder.{i}" for i in range(len(hidden))]
        dec = [f"decoder.{i}" for i in range(len(hidden))]
        for i, n in enumerate(enc):
            lin[n] = nn.Linear(sizes[i], sizes[i + 1])
        lin["fc_mu"], lin["fc_logvar"] = nn.Linear(hidden[-1], L), nn.Linear(hidden[-1], L)
        for i, n in enumerate(dec):
            lin[n] = nn.Linear(rev[i], rev[i + 1])
        lin["decoder.out"] = nn.Linear(hidden[0], D)
        mu_n, lv_n, out_n = "fc_mu", "fc_logvar", "decoder.out"
    x = torch.rand(B, D)
    eps = torch.randn(B, L)

    h = x
    for n in enc:
        h = F.relu(lin[n](h))
    mu, logvar = lin[mu_n](h), lin[lv_n](h)
    h = mu + eps * torch.exp(0.5 * logvar)
    for n in dec:
        h = F.relu(lin[n](h))
    logits = lin[out_n](h)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    loss = recon + beta * kl
    loss.backward()

    t = {}
    for n, m in lin.items():
        for pn, p in m.named_parameters():
            t[f"{n}.{pn}"] = p.detach().clone()
            t[f"grad.{n}.{pn}"] = p.grad.detach().clone()
    t["input.x"], t["input.eps"] = x, eps
    t["output.loss"], t["output.recon"], t["output.kl"] = (v.detach().reshape(1) for v in (loss, recon, kl))
    if logits_out:
        t["output.logits"] = logits.detach().clone()
    if perturb:
        if perturb not in t:
            sys.exit(f"error: --perturb {perturb}: no such tensor (have {sorted(t)})")
        t[perturb] = t[perturb] * (1 + rel)
    if drop:
        t.pop(drop, None)
    meta = {"beta": repr(float(beta)), "hidden": ",".join(map(str, hidden)), "latent": str(L), "input_dim": str(D)}
    save_file({k: v.contiguous() for k, v in t.items()}, path, metadata=meta)


def self_check():
    checker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vae_parity.py")
    cases = [  # (file stem, make kwargs, expected exit code)
        ("k1", dict(hidden=[17]), 0),
        ("k1_beta", dict(hidden=[17], beta=0.5, logits_out=False), 0),
        ("k2", dict(hidden=[17, 11]), 0),
        ("k1_bad_grad", dict(hidden=[17], perturb="grad.fc1.weight"), 1),
        ("k2_bad_grad", dict(hidden=[17, 11], perturb="grad.decoder.1.bias"), 1),
        ("k2_bad_kl", dict(hidden=[17, 11], perturb="output.kl"), 1),
        ("k2_missing", dict(hidden=[17, 11], drop="grad.fc_mu.weight"), 2),
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for stem, kw, want in cases:
            path = os.path.join(d, stem + ".safetensors")
            make(path, **kw)
            r = subprocess.run([sys.executable, checker, path], capture_output=True, text=True)
            ok = r.returncode == want
            failed += not ok
            print(f"{'ok  ' if ok else 'BAD '} {stem:12s} exit {r.returncode} (want {want})")
            if not ok or os.environ.get("VERBOSE"):
                print(r.stdout + r.stderr)
    print("self-check PASS" if not failed else f"self-check FAIL ({failed} cases)")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description="write a VAE parity fixture / self-check vae_parity.py")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--self-check", action="store_true")
    ap.add_argument("--D", type=int, default=30)
    ap.add_argument("--hidden", default="17")
    ap.add_argument("--L", type=int, default=5)
    ap.add_argument("--B", type=int, default=7)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--perturb")
    ap.add_argument("--rel", type=float, default=1e-3)
    ap.add_argument("--drop")
    ap.add_argument("--no-logits", action="store_true")
    a = ap.parse_args()
    if a.self_check:
        sys.exit(self_check())
    if not a.out:
        ap.error("OUT path required (or --self-check)")
    make(a.out, D=a.D, hidden=[int(h) for h in a.hidden.split(",")], L=a.L, B=a.B, beta=a.beta,
         seed=a.seed, perturb=a.perturb, rel=a.rel, logits_out=not a.no_logits, drop=a.drop)


if __name__ == "__main__":
    main()
