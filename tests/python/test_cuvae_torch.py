"""Self-test of python/cuvae_torch.py and tests/python/model_parity.py (plain unittest).

Run:  /usr/bin/python3 tests/python/test_cuvae_torch.py [-v]

Writes small checkpoints with safetensors (every model kind, both legacy v1 namings, broken
files), loads them, and checks encode/decode/loss_terms against formulas written out here
independently of the module (own layer lists, softplus form of the BCE, per-pixel Gaussian
constant). Then writes parity dumps the way cuvae's C++ tests do (float32 weights, float32
torch grads) and checks model_parity.py: exit 0 clean, 1 naming a perturbed grad, 2 missing.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.environ.get("CUVAE_PYDEPS", os.path.expanduser("~/.cache/cuvae/pydeps")))

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import cuvae_torch

CHECKER = os.path.join(HERE, "model_parity.py")
CONFIGS = {  # small instances of every kind and option
    "ae": dict(model="ae", input_dim=12, hidden=[7, 5], latent=3),
    "ae_none": dict(model="ae", input_dim=12, hidden=[7, 5], latent=3, activation="none"),
    "linear_ae": dict(model="linear-ae", input_dim=12, hidden=[], activation="none", latent=4,
                      likelihood="gaussian", sigma=0.5),
    "dae": dict(model="dae", input_dim=12, hidden=[6], latent=3, noise="mask:0.25", likelihood="gaussian",
                sigma=0.3, extra_key="ignored"),
    "vae": dict(model="vae", input_dim=12, hidden=[7, 5], latent=3, beta=0.5),
    "vae_flat": dict(model="vae", input_dim=12, hidden=[], latent=3, likelihood="gaussian", sigma=2.0),
    "vae_none": dict(model="vae", input_dim=12, hidden=[6], latent=3, activation="none", noise="gaussian:0.3"),
    "pca": dict(model="pca", input_dim=12, latent=4, sigma=0.7),
}


def layers(c):
    """{'enc': [(name, out, in)], 'heads': [...], 'dec': [...]}, written out from the spec."""
    D, H, L = c["input_dim"], c.get("hidden", []), c["latent"]
    step = 2 if c.get("activation", "relu") == "relu" else 1  # activation modules take an index
    down, up = [D] + H, [L] + H[::-1] + [D]
    dec = [(f"decoder.{i * step}", up[i + 1], up[i]) for i in range(len(up) - 1)]
    if c["model"] == "vae":
        top = H[-1] if H else D
        enc = [(f"encoder.{i * step}", down[i + 1], down[i]) for i in range(len(H))]
        return {"enc": enc, "heads": [("fc_mu", L, top), ("fc_logvar", L, top)], "dec": dec}
    down = down + [L]
    return {"enc": [(f"encoder.{i * step}", down[i + 1], down[i]) for i in range(len(down) - 1)],
            "heads": [], "dec": dec}


def random_tensors(c, gen):
    if c["model"] == "pca":
        D, K = c["input_dim"], c["latent"]
        return {"mean": torch.rand(D, generator=gen), "components": torch.randn(K, D, generator=gen),
                "explained_variance": torch.rand(K, generator=gen)}
    t = {}
    for group in layers(c).values():
        for n, o, i in group:
            t[n + ".weight"] = torch.randn(o, i, generator=gen) * 0.4
            t[n + ".bias"] = torch.randn(o, generator=gen) * 0.1
    return t


def chain(p, names, x, relu_last, relu):
    for j, (n, _, _) in enumerate(names):
        x = F.linear(x, p[n + ".weight"], p[n + ".bias"])
        if relu and (relu_last or j < len(names) - 1):
            x = torch.relu(x)
    return x


def reference(c, p, x_in, target, eps):
    """(codes, raw decoder output at those codes/eps, loss dict) by hand."""
    beta, sigma = float(c.get("beta", 1.0)), float(c.get("sigma", 1.0))
    gaussian = c.get("likelihood") == "gaussian" or c["model"] == "pca"
    relu = c.get("activation", "relu") == "relu"
    if c["model"] == "pca":
        code = (x_in - p["mean"]) @ p["components"].T
        raw = code @ p["components"] + p["mean"]
    else:
        ly = layers(c)
        h = chain(p, ly["enc"], x_in, c["model"] == "vae", relu)
        if c["model"] == "vae":
            mu = F.linear(h, p["fc_mu.weight"], p["fc_mu.bias"])
            logvar = F.linear(h, p["fc_logvar.weight"], p["fc_logvar.bias"])
            code, z = mu, mu + eps * torch.exp(0.5 * logvar)
        else:
            code = z = h
        raw = chain(p, ly["dec"], z, False, relu)
    if gaussian:
        recon = (0.5 * ((target - raw) / sigma) ** 2 + math.log(sigma * math.sqrt(2 * math.pi))).sum()
    else:
        recon = (F.softplus(raw) - target * raw).sum()  # = BCE with logits
    terms = {"recon": recon, "loss": recon}
    if c["model"] == "vae":
        terms["kl"] = -0.5 * (1 + logvar - mu * mu - torch.exp(logvar)).sum()
        terms["loss"] = recon + beta * terms["kl"]
    return code, raw, terms


def write(path, tensors, config, fmt=cuvae_torch.FORMAT_V2):
    # clone: safetensors refuses tensors sharing storage (an ae's loss is its recon)
    save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, path,
              metadata={"format": fmt, "config": json.dumps(config)})


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.gen = torch.Generator().manual_seed(1234)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, stem):
        return os.path.join(self.tmp.name, stem + ".safetensors")

    def close(self, a, b, tol=1e-10, what=""):
        self.assertEqual(tuple(a.shape), tuple(b.shape), what)
        err = (a - b).abs().max().item()
        self.assertLessEqual(err, tol * max(1.0, b.abs().max().item()), f"{what}: max err {err}")


class TestModules(Base):
    def test_spec_shapes(self):
        # The shapes the brief lists, verbatim.
        def shapes(c):
            return {k: list(v.shape) for k, v in cuvae_torch.model_from_config(c).state_dict().items()
                    if k.endswith("weight")}
        self.assertEqual(shapes(dict(model="ae", input_dim=784, hidden=[512, 256], latent=32)),
                         {"encoder.0.weight": [512, 784], "encoder.2.weight": [256, 512],
                          "encoder.4.weight": [32, 256], "decoder.0.weight": [256, 32],
                          "decoder.2.weight": [512, 256], "decoder.4.weight": [784, 512]})
        self.assertEqual(shapes(dict(model="linear-ae", input_dim=784, hidden=[], activation="none", latent=8)),
                         {"encoder.0.weight": [8, 784], "decoder.0.weight": [784, 8]})
        self.assertEqual(shapes(dict(model="vae", input_dim=784, hidden=[400], latent=20)),
                         {"encoder.0.weight": [400, 784], "fc_mu.weight": [20, 400], "fc_logvar.weight": [20, 400],
                          "decoder.0.weight": [400, 20], "decoder.2.weight": [784, 400]})

    def check_against_reference(self, config, model, p, dtype, tol):
        B = 5
        x = torch.rand(B, config["input_dim"], generator=self.gen).to(dtype)
        target = torch.rand(B, config["input_dim"], generator=self.gen).round().to(dtype)
        eps = torch.randn(B, config["latent"], generator=self.gen).to(dtype)
        p = {k: v.to(dtype) for k, v in p.items()}
        code, raw, terms = reference(config, p, x, target, eps)
        with torch.no_grad():
            self.close(model.encode(x), code, tol, "encode")
            self.close(model.pred(x, eps), raw, tol, "pred")
            means = raw if config.get("likelihood") == "gaussian" or config["model"] == "pca" else torch.sigmoid(raw)
            self.close(model(x, eps), means, tol, "forward")
            # decode at the codes; for a VAE that is z = mu, i.e. eps = 0
            _, raw0, _ = reference(config, p, x, target, torch.zeros_like(eps))
            self.close(model.decode(model.encode(x)), means if config["model"] != "vae" else
                       (raw0 if config.get("likelihood") == "gaussian" else torch.sigmoid(raw0)), tol, "decode")
            got = model.loss_terms(x, target, eps)
        self.assertEqual(sorted(got), sorted(terms))
        for k in terms:
            self.close(got[k].reshape(1), terms[k].reshape(1), tol, k)

    def test_every_kind(self):
        for stem, config in CONFIGS.items():
            with self.subTest(stem):
                p = random_tensors(config, self.gen)
                write(self.path(stem), p, config)
                m32 = cuvae_torch.load(self.path(stem))
                self.assertEqual(next(iter(m32.state_dict().values())).dtype, torch.float32)
                self.check_against_reference(config, m32, p, torch.float32, 1e-5)
                m64 = cuvae_torch.load(self.path(stem), dtype=torch.float64)
                self.check_against_reference(config, m64, p, torch.float64, 1e-12)

    def test_training_checkpoint(self):
        config = CONFIGS["vae"]
        p = random_tensors(config, self.gen)
        t = dict(p)
        for n, v in p.items():
            t["optimizer.exp_avg." + n], t["optimizer.exp_avg_sq." + n] = v * 0.1, v * v
        write(self.path("train"), t, config)
        self.check_against_reference(config, cuvae_torch.load(self.path("train"), torch.float64), p,
                                     torch.float64, 1e-12)

    def legacy(self, hidden, names):
        config = dict(model="vae", input_dim=12, hidden=hidden, latent=3, beta=0.75)
        p = random_tensors(config, self.gen)  # v2 names
        t = {names[n.rsplit(".", 1)[0]] + "." + n.rsplit(".", 1)[1]: v for n, v in p.items()}
        for n, v in list(t.items()):
            t["optimizer.exp_avg." + n] = v
        write(self.path("legacy"), t, {k: config[k] for k in ("input_dim", "hidden", "latent", "beta")},
              cuvae_torch.FORMAT_V1)
        m = cuvae_torch.load(self.path("legacy"), torch.float64)
        self.assertIsInstance(m, cuvae_torch.VAE)
        self.check_against_reference(config, m, p, torch.float64, 1e-12)
        return t

    def test_legacy_one_hidden(self):
        self.legacy([7], {"encoder.0": "fc1", "fc_mu": "fc21", "fc_logvar": "fc22",
                          "decoder.0": "fc3", "decoder.2": "fc4"})

    def test_legacy_two_hidden(self):
        self.legacy([7, 5], {"encoder.0": "encoder.0", "encoder.2": "encoder.1", "fc_mu": "fc_mu",
                             "fc_logvar": "fc_logvar", "decoder.0": "decoder.0", "decoder.2": "decoder.1",
                             "decoder.4": "decoder.out"})

    def assert_error(self, path, *fragments):
        with self.assertRaises(cuvae_torch.CheckpointError) as cm:
            cuvae_torch.load(path)
        msg = str(cm.exception)
        for frag in (path,) + fragments:
            self.assertIn(frag, msg)
        return msg

    def test_wrong_shape(self):
        config = CONFIGS["ae"]
        t = random_tensors(config, self.gen)
        t["decoder.4.weight"] = torch.zeros(12, 6)
        write(self.path("shape"), t, config)
        self.assert_error(self.path("shape"), "'decoder.4.weight'", "[12, 6]", "expected [12, 7]")

    def test_missing(self):
        config = CONFIGS["vae"]
        t = random_tensors(config, self.gen)
        del t["fc_logvar.bias"]
        write(self.path("missing"), t, config)
        self.assert_error(self.path("missing"), "'fc_logvar.bias' is missing")

    def test_legacy_errors_use_file_names(self):
        t = {"fc1.weight": torch.zeros(7, 12), "fc1.bias": torch.zeros(7), "fc21.weight": torch.zeros(3, 7),
             "fc21.bias": torch.zeros(3), "fc22.weight": torch.zeros(3, 7), "fc22.bias": torch.zeros(3),
             "fc3.weight": torch.zeros(7, 3), "fc3.bias": torch.zeros(7), "fc4.weight": torch.zeros(12, 7)}
        meta = {"input_dim": 12, "hidden": [7], "latent": 3, "beta": 1.0}
        write(self.path("v1"), t, meta, cuvae_torch.FORMAT_V1)
        self.assert_error(self.path("v1"), "'fc4.bias' is missing")
        t["fc4.bias"], t["fc21.weight"] = torch.zeros(12), torch.zeros(3, 8)
        write(self.path("v1"), t, meta, cuvae_torch.FORMAT_V1)
        self.assert_error(self.path("v1"), "'fc21.weight'", "'fc_mu.weight'", "expected [3, 7]")

    def test_unexpected_and_bad_metadata(self):
        config = CONFIGS["linear_ae"]
        t = random_tensors(config, self.gen)
        t["encoder.1.weight"] = torch.zeros(2, 2)
        write(self.path("extra"), t, config)
        self.assert_error(self.path("extra"), "unexpected tensor 'encoder.1.weight'")
        write(self.path("fmt"), random_tensors(config, self.gen), config, fmt="other.v9")
        self.assert_error(self.path("fmt"), "'other.v9'")
        write(self.path("cfg"), {}, dict(config, activation="tanh"))
        self.assert_error(self.path("cfg"), "activation")
        write(self.path("noise"), {}, dict(config, noise="blur:2"))
        self.assert_error(self.path("noise"), "noise")
        self.assert_error(self.path("nonexistent"), "no such file")


def parity_dump(path, config, gen, fmt=cuvae_torch.FORMAT_V2, names=None, with_target=True):
    """What cuvae's C++ test writes: float32 weights, inputs, loss terms and torch float32 grads."""
    model = cuvae_torch.model_from_config(config)
    cuvae_torch.load_tensors(model, random_tensors(config, gen))
    B, D, L = 6, config["input_dim"], config["latent"]
    target = torch.rand(B, D, generator=gen)
    x = target * (torch.rand(B, D, generator=gen) > 0.25) if with_target else target  # masked input
    eps = torch.randn(B, L, generator=gen) if config["model"] == "vae" else None
    terms = model.loss_terms(x, target, eps)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(terms["loss"], list(params.values())) if params else []
    rn = names or (lambda n: n)
    t = {rn(n): v.detach() for n, v in model.state_dict().items()}
    t.update({"grad." + rn(n): g for n, g in zip(params, grads)})
    t["input.x"] = x
    if with_target:
        t["input.target"] = target
    if eps is not None:
        t["input.eps"] = eps
    t.update({"output." + k: v.detach().reshape(1) for k, v in terms.items()})
    with torch.no_grad():
        t["output.pred"] = model.pred(x, eps)
    meta = config if fmt == cuvae_torch.FORMAT_V2 else {k: config[k] for k in ("input_dim", "hidden", "latent", "beta")}
    write(path, t, meta, fmt)
    return t


class TestParity(Base):
    def run_checker(self, path, *extra):
        return subprocess.run([sys.executable, CHECKER, path, *extra], capture_output=True, text=True)

    def expect(self, path, code, *fragments):
        r = self.run_checker(path)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, code, out)
        for frag in fragments:
            self.assertIn(frag, out)
        return out

    def test_clean_dumps_pass(self):
        for stem in ("ae", "linear_ae", "dae", "vae", "vae_none", "pca"):
            with self.subTest(stem):
                parity_dump(self.path(stem), CONFIGS[stem], self.gen, with_target=stem != "ae")
                out = self.expect(self.path(stem), 0, "PASS", "ok output.loss", "ok output.pred")
                if stem != "pca":
                    self.assertIn("ok grad.decoder.0.weight", out)

    def test_perturbed_grad_fails(self):
        t = parity_dump(self.path("vae"), CONFIGS["vae"], self.gen)
        t["grad.encoder.2.weight"] = t["grad.encoder.2.weight"] * (1 + 1e-3)
        write(self.path("vae"), t, CONFIGS["vae"])
        out = self.expect(self.path("vae"), 1, "FAIL grad.encoder.2.weight", "ok grad.fc_mu.weight",
                          "1 of ")
        self.assertEqual(out.count("FAIL "), 1, out)

    def test_missing_and_unknown(self):
        t = parity_dump(self.path("m"), CONFIGS["dae"], self.gen)
        write(self.path("m"), {k: v for k, v in t.items() if k != "grad.decoder.0.bias"}, CONFIGS["dae"])
        self.expect(self.path("m"), 2, "'grad.decoder.0.bias' is missing")
        write(self.path("m"), {k: v for k, v in t.items() if k != "output.recon"}, CONFIGS["dae"])
        self.expect(self.path("m"), 2, "'output.recon' is missing")
        write(self.path("m"), dict(t, **{"output.kl": torch.zeros(1)}), CONFIGS["dae"])
        self.expect(self.path("m"), 2, "unknown tensor 'output.kl'")
        with open(self.path("junk"), "wb") as f:
            f.write(b"not a safetensors file")
        self.expect(self.path("junk"), 2, "cannot read as safetensors")

    def test_legacy_dump(self):
        config = dict(model="vae", input_dim=12, hidden=[7], latent=3, beta=1.0)
        old = {"encoder.0": "fc1", "fc_mu": "fc21", "fc_logvar": "fc22", "decoder.0": "fc3", "decoder.2": "fc4"}
        rn = lambda n: old[n.rsplit(".", 1)[0]] + "." + n.rsplit(".", 1)[1]  # noqa: E731
        t = parity_dump(self.path("v1"), config, self.gen, cuvae_torch.FORMAT_V1, rn, with_target=False)
        self.expect(self.path("v1"), 0, "ok grad.fc4.weight", "PASS")
        t["grad.fc21.bias"] = t["grad.fc21.bias"] + 1e-2
        write(self.path("v1"), t, {k: config[k] for k in ("input_dim", "hidden", "latent", "beta")},
              cuvae_torch.FORMAT_V1)
        self.expect(self.path("v1"), 1, "FAIL grad.fc21.bias")


if __name__ == "__main__":
    unittest.main()
