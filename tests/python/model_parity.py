"""Parity checker: a cuvae forward/backward dump of any model kind against PyTorch autograd.

Run:  /usr/bin/python3 tests/python/model_parity.py FILE.safetensors [--rtol 1e-5]

FILE (written by a cuvae C++ test) has metadata "format" and "config" (the checkpoint config,
see python/cuvae_torch.py) and tensors:
  <name>          every parameter, under its state-dict name (legacy v1 names are accepted)
  grad.<name>     dloss/d<name> for every parameter
  input.x         [B, D] encoder input (possibly corrupted)
  input.target    [B, D] clean target; absent means target = input.x
  input.eps       [B, L] the VAE's noise (vae and cvae)
  input.labels    [B, 1] the class labels, as float32 (classifier: replaces input.target; cvae:
                  the condition, beside input.x)
  output.<term>   [1] every loss term: output.recon, output.kl (vae), output.xent and
                  output.correct (classifier), output.loss
  output.pred     [B, D] optional: decoder output before the sigmoid (logits or means)
  buffer.<name>   every buffer (BatchNorm2d's running_mean, running_var) after the step; <name>
                  itself holds it before the step (the module's buffer when the forward starts)
The model is rebuilt with cuvae_torch in float64 from the stored weights, loss_terms are
computed, `loss` is backpropagated, and each stored output and gradient is compared: it passes
when max|ours - ref| <= rtol * max|ref|. One line per tensor ("ok NAME ..." / "FAIL NAME ...").
Exit 0: all pass; 1: some tensor fails; 2: bad file, or a tensor missing, misshapen or unknown.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import numpy as np
import torch

import cuvae_torch


def bad(msg):
    print(f"ERROR: {msg}", file=sys.stderr)
    sys.exit(2)


def compare(name, ours, ref, rtol, scale=None):
    """(ok, line) for one tensor; ours is the file's (cuvae's), ref is torch's float64. scale, when
    given, replaces max|ref| as the magnitude the error is measured against."""
    ours, ref = ours.to(torch.float64), ref.detach().to(torch.float64)
    diff = (ours - ref).abs()
    md, mr = diff.max().item(), ref.abs().max().item() if scale is None else scale
    rel = md / mr if mr > 0 else (0.0 if md == 0 else float("inf"))
    ok = md <= rtol * mr  # not `<`: an exact zero reference only passes an exact zero
    if ok:
        return True, f"ok {name} max err {md:.3e} max|ref| {mr:.3e} rel {rel:.3e}"
    worst = tuple(int(v) for v in np.unravel_index(int(diff.argmax()), tuple(diff.shape)))
    return False, (f"FAIL {name} max err {md:.3e} at {list(worst)} (ours {ours[worst].item():.9g}, "
                   f"ref {ref[worst].item():.9g}) max|ref| {mr:.3e} rel {rel:.3e} > rtol {rtol:g}")


def main():
    ap = argparse.ArgumentParser(description="cuvae model parity checker against PyTorch (float64)")
    ap.add_argument("file")
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args()
    path = args.file

    try:
        meta, t = cuvae_torch.read_safetensors(path)
        config, rename, file_name = cuvae_torch.parse_metadata(meta, path)
        model = cuvae_torch.model_from_config(config).double()
    except ImportError as e:
        bad(f"cannot import safetensors ({e}); set CUVAE_PYDEPS to its install dir")
    except cuvae_torch.CheckpointError as e:
        bad(str(e))
    D, L, kind = config["input_dim"], config["latent"], config["model"]
    is_cvae = isinstance(model, cuvae_torch.CVAE)
    is_vae = isinstance(model, cuvae_torch.VAE) or is_cvae
    is_classifier = isinstance(model, cuvae_torch.Classifier)

    # Sort the file's tensors by role; anything unrecognised is a naming mismatch between the
    # C++ writer and this model, which must not pass silently.
    weights, grads, outputs, buffers = {}, {}, {}, {}
    for name, v in t.items():
        if name.startswith(cuvae_torch.OPTIMIZER_PREFIXES) or name.startswith("input."):
            continue
        if name.startswith("buffer."):
            buffers[name[7:]] = v
            continue
        if name.startswith("grad."):
            grads[name[5:]] = v
        elif name.startswith("output."):
            outputs[name[7:]] = v
        else:
            weights[name] = v
    try:
        cuvae_torch.load_tensors(model, weights, path, rename, file_name)
    except cuvae_torch.CheckpointError as e:
        bad(str(e))
    params = dict(model.named_parameters())  # v2 names; PCA has none (buffers only)

    def get(name, shape):
        if name not in t:
            bad(f"{path}: tensor '{name}' is missing (shape {list(shape)})")
        if tuple(t[name].shape) != tuple(shape):
            bad(f"{path}: tensor '{name}' has shape {list(t[name].shape)}, expected {list(shape)}")
        return t[name].to(torch.float64)

    if "input.x" not in t or t["input.x"].dim() != 2:
        bad(f"{path}: tensor 'input.x' is missing or not 2-D")
    B = t["input.x"].shape[0]
    x = get("input.x", (B, D))
    labels = None
    if is_classifier or is_cvae:
        labels = get("input.labels", (B, 1))
        if not torch.equal(labels, labels.round()) or labels.min() < 0 or labels.max() >= config["classes"]:
            bad(f"{path}: tensor 'input.labels' must hold integers in 0..{config['classes'] - 1}")
    if is_classifier:
        target = labels
    else:
        target = get("input.target", (B, D)) if "input.target" in t else x
    eps = get("input.eps", (B, L)) if is_vae else None
    for name in t:
        if name.startswith("input.") and name not in ("input.x", "input.target", "input.eps", "input.labels"):
            bad(f"{path}: unknown tensor '{name}' (inputs are input.x, input.target, input.eps, input.labels)")

    terms = model.loss_terms(x, target, labels, eps) if is_cvae else model.loss_terms(x, target, eps)
    ref = {"output." + k: v.reshape(1) for k, v in terms.items()}
    # The running statistics after the step's one training forward (before pred's forward below).
    ours = {}
    buffer_names = {name for name, _ in model.named_buffers()}
    for name, v in model.named_buffers():
        if not name.endswith((".running_mean", ".running_var")):  # PCA's are its fitted tensors
            continue
        if name not in buffers:
            bad(f"{path}: tensor 'buffer.{name}' is missing (shape {list(v.shape)})")
        ours["buffer." + name], ref["buffer." + name] = buffers.pop(name), v.detach().clone()
    if buffers:
        bad(f"{path}: unknown tensor 'buffer.{sorted(buffers)[0]}' (no such buffer)")
    if not is_classifier:  # a classifier's pred is its logits [B, C], not dumped
        with torch.no_grad():
            ref["output.pred"] = model.pred(x, labels, eps) if is_cvae else model.pred(x, eps)
    for term in outputs:
        if "output." + term not in ref:
            bad(f"{path}: unknown tensor 'output.{term}' (a {kind} has {sorted(ref)})")
    for k in terms:
        v = outputs.get(k)
        if v is None:
            bad(f"{path}: tensor 'output.{k}' is missing (shape [1])")
        if v.numel() != 1 or v.dim() > 1:  # [1] as specified; a 0-d scalar is the same number
            bad(f"{path}: tensor 'output.{k}' has shape {list(v.shape)}, expected [1]")
        ours["output." + k] = v.reshape(1)
    if "pred" in outputs:
        ours["output.pred"] = get("output.pred", (B, D))

    by_param = {}  # v2 name -> (name as the file spells it, tensor)
    for fname, v in grads.items():
        if rename(fname) not in params:
            bad(f"{path}: unknown tensor 'grad.{fname}' (no such parameter)")
        by_param[rename(fname)] = (fname, v)
    if params:
        g = torch.autograd.grad(terms["loss"], list(params.values()))
        for v2, gv in zip(params, g):
            fname, stored = by_param.get(v2, (file_name(v2), None))
            if stored is None:
                bad(f"{path}: tensor 'grad.{fname}' is missing (shape {list(gv.shape)})")
            if tuple(stored.shape) != tuple(gv.shape):
                bad(f"{path}: tensor 'grad.{fname}' has shape {list(stored.shape)}, expected {list(gv.shape)}")
            ours["grad." + fname], ref["grad." + fname] = stored, gv

    print(f"# {path}: {kind} hidden {config['hidden']} activation {config['activation']} latent {L} "
          f"input_dim {D} batch {B} likelihood {config['likelihood']} sigma {config['sigma']:g} "
          f"beta {config['beta']:g} rtol {args.rtol:g}" + ("" if "pred" in outputs else " (no output.pred)"))
    fails = 0
    for name, o in ours.items():
        # The bias of a convolution that a BatchNorm2d normalises (conv64's blocks: module.0 before
        # module.1) has a gradient that is exactly zero (the batch mean takes the bias out), so
        # float32 leaves only rounding there: it is measured against its weight's gradient, which
        # comes from the same output gradient.
        scale = None
        if name.startswith("grad.") and name.endswith(".0.bias") and name[5:-7] + ".1.running_mean" in buffer_names:
            scale = ref[name[:-5] + ".weight"].abs().max().item()
        ok, line = compare(name, o, ref[name], args.rtol, scale)
        if scale is not None:
            line += " (exactly 0 before BatchNorm2d: against its weight gradient's max)"
        fails += not ok
        print(line)
    print("PASS" if not fails else f"{fails} of {len(ours)} tensors FAIL")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
