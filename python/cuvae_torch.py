"""PyTorch modules that match cuvae checkpoints, built from the file's own metadata.

Usage (python/ on sys.path)::

    import torch, cuvae_torch
    model = cuvae_torch.load("runs/x/checkpoint.safetensors")  # strict: every tensor, right shape
    x = torch.rand(8, model.config["input_dim"])                # flattened images in [0, 1]
    z = model.encode(x)                                         # codes (for a VAE: mu)
    print(model.loss_terms(x, x))                               # {'recon': ..., 'kl': ..., 'loss': ...}

A checkpoint is a safetensors file with metadata "format" ("cuvae.model.v2", or the legacy
"cuvae.mlp_vae.v1") and "config" (JSON: model, arch, input_dim, image, hidden, activation,
latent, likelihood, sigma, beta, noise). arch "conv" is the convolutional encoder and decoder of
models/arch.hpp on images of shape `image` ([channels, height, width]; rows are NCHW flattened);
"conv64" is PyTorch-VAE's VanillaVAE (BatchNorm2d and LeakyReLU blocks; its running statistics
are buffers in the file; num_batches_tracked, which cuvae does not keep, loads as 0). Parameter names are nn.Sequential state-dict names, so the
modules here load a checkpoint with load_state_dict(strict=True); legacy names (fc1, fc21, ...,
decoder.out) are renamed onto the v2 VAE first. Training checkpoints' Adam moments
("optimizer.exp_avg.*", "optimizer.exp_avg_sq.*") are skipped.

Every module has encode(x), decode(z) (pixel means: sigmoid of the logits for a Bernoulli
likelihood), pred(x, eps=None) (the decoder output before the sigmoid, as cuvae's parity dumps
store it), forward(x, eps=None) = the pixel means of pred, and loss_terms(x_in, target, eps=None)
with cuvae's batch-summed terms. For a VAE, eps=None draws eps ~ N(0, I) from torch's generator
(cuvae's own Philox stream cannot be reproduced here); pass eps to get cuvae's numbers.
"""
import json
import math
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT_V2 = "cuvae.model.v2"
FORMAT_V1 = "cuvae.mlp_vae.v1"
MODELS = ("ae", "linear-ae", "dae", "vae", "pca", "classifier", "cvae")
NOISES = ("mask", "gaussian", "saltpepper")
# Adam moments live beside the parameters in training checkpoints; the module has no slot for them.
OPTIMIZER_PREFIXES = ("optimizer.exp_avg.", "optimizer.exp_avg_sq.")


class CheckpointError(ValueError):
    """A file, config or tensor that does not fit the model; the message names the file and tensor."""


# ---------------------------------------------------------------- config

def _parse_noise(spec):
    """'mask:0.25' -> ('mask', 0.25); 'none' -> None. Kept on the module for reference only:
    loss_terms takes the corrupted input, since cuvae's corruption stream is its own Philox."""
    if spec in (None, "none"):
        return None
    kind, sep, level = str(spec).partition(":")
    try:
        value = float(level)
    except ValueError:
        value = None
    if kind not in NOISES or not sep or value is None or not math.isfinite(value) or value < 0:
        raise CheckpointError(f"bad noise {spec!r} (want 'none' or KIND:LEVEL, KIND one of {NOISES})")
    return kind, value


def _normalise(config):
    """A checked copy of a v2 config with the optional keys filled in; unknown keys are kept."""
    if not isinstance(config, dict):
        raise CheckpointError(f"model config must be a JSON object, got {config!r}")
    c = dict(config)
    c.setdefault("hidden", [])
    c.setdefault("activation", "relu")
    c.setdefault("likelihood", "bernoulli")
    c.setdefault("sigma", 1.0)
    c.setdefault("beta", 1.0)
    c.setdefault("noise", "none")
    c.setdefault("arch", "mlp")

    def positive_int(key):
        v = c.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise CheckpointError(f"bad model config: '{key}' must be a positive integer, got {v!r}")
        return v

    if c.get("model") not in MODELS:
        raise CheckpointError(f"bad model config: 'model' is {c.get('model')!r}, expected one of {MODELS}")
    positive_int("input_dim")
    positive_int("latent")
    h = c["hidden"]
    if not isinstance(h, list) or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in h):
        raise CheckpointError(f"bad model config: 'hidden' must be a list of positive integers, got {h!r}")
    if c["activation"] not in ("relu", "none"):
        raise CheckpointError(f"bad model config: 'activation' is {c['activation']!r}, expected relu or none")
    if c["likelihood"] not in ("bernoulli", "gaussian"):
        raise CheckpointError(f"bad model config: 'likelihood' is {c['likelihood']!r}, expected bernoulli or gaussian")
    for key in ("sigma", "beta"):
        if isinstance(c[key], bool) or not isinstance(c[key], (int, float)) or not math.isfinite(c[key]):
            raise CheckpointError(f"bad model config: '{key}' must be a number, got {c[key]!r}")
        c[key] = float(c[key])
    if c["sigma"] <= 0:
        raise CheckpointError(f"bad model config: 'sigma' must be > 0, got {c['sigma']}")
    _parse_noise(c["noise"])
    if c["arch"] not in ("mlp", "conv", "conv64"):
        raise CheckpointError(f"bad model config: 'arch' is {c['arch']!r}, expected mlp, conv or conv64")
    if "image" not in c:  # checkpoints written before the shape was kept: a grey square, or one row
        side = math.isqrt(c["input_dim"])
        c["image"] = [1, side, side] if side * side == c["input_dim"] else [1, 1, c["input_dim"]]
    im = c["image"]
    if (not isinstance(im, list) or len(im) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in im)
            or im[0] * im[1] * im[2] != c["input_dim"]):
        raise CheckpointError(f"bad model config: 'image' must be [channels, height, width] of input_dim values, got {im!r}")
    if c["arch"] == "conv" and (im[1] % 4 or im[2] % 4 or c["model"] in ("pca", "linear-ae")):
        raise CheckpointError("bad model config: arch conv takes an ae, dae, vae, cvae or classifier on sides that are multiples of 4")
    if c["arch"] == "conv64" and (im[1] % 32 or im[2] % 32 or c["model"] in ("pca", "linear-ae")):
        raise CheckpointError("bad model config: arch conv64 takes an ae, dae, vae, cvae or classifier on sides that are multiples of 32")
    if c["model"] in ("classifier", "cvae"):
        k = c.get("classes")
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 65536:
            raise CheckpointError(f"bad model config: 'classes' must be an integer in 2..65536, got {k!r}")
        if not h and c["model"] == "classifier" and c["arch"] == "mlp":
            raise CheckpointError("bad model config: a classifier has at least one hidden layer")
    return c


def _legacy_v2_name(name, k):
    """v1 name -> v2 VAE name (k hidden layers). Unknown names pass through unchanged so that the
    strict load reports them as unexpected rather than dropping them silently."""
    base, _, leaf = name.rpartition(".")
    fixed = {"fc1": "encoder.0", "fc21": "fc_mu", "fc22": "fc_logvar", "fc3": "decoder.0",
             "fc4": f"decoder.{2 * k}", "fc_mu": "fc_mu", "fc_logvar": "fc_logvar",
             "decoder.out": f"decoder.{2 * k}"}
    if base in fixed:
        return f"{fixed[base]}.{leaf}"
    m = re.fullmatch(r"(encoder|decoder)\.(\d+)", base)
    if m and int(m[2]) < k:  # ReLU after each hidden Linear doubles the Sequential index
        return f"{m[1]}.{2 * int(m[2])}.{leaf}"
    return name


def _legacy_file_name(v2, k):
    """v2 VAE name -> the name cuvae's v1 writer used (fc* for one hidden layer), for messages."""
    base, _, leaf = v2.rpartition(".")
    if k == 1:
        old = {"encoder.0": "fc1", "fc_mu": "fc21", "fc_logvar": "fc22", "decoder.0": "fc3", "decoder.2": "fc4"}
        return f"{old.get(base, base)}.{leaf}"
    part, _, idx = base.partition(".")
    if part in ("encoder", "decoder") and idx.isdigit():
        i = int(idx)
        return f"decoder.out.{leaf}" if part == "decoder" and i == 2 * k else f"{part}.{i // 2}.{leaf}"
    return v2


def parse_metadata(metadata, path="<checkpoint>"):
    """(v2 config, rename, file_name) from a file's metadata: rename maps a file tensor name to
    its v2 state-dict name, file_name maps back (both identity for v2 files). Raises
    CheckpointError naming path."""
    metadata = metadata or {}
    fmt = metadata.get("format")
    if fmt not in (FORMAT_V2, FORMAT_V1):
        raise CheckpointError(f"{path}: not a cuvae model checkpoint (metadata 'format' is "
                              f"{'missing' if fmt is None else repr(fmt)}, expected '{FORMAT_V2}' or '{FORMAT_V1}')")
    if "config" not in metadata:
        raise CheckpointError(f"{path}: metadata 'config' is missing")
    try:
        raw = json.loads(metadata["config"])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: metadata 'config' is not JSON ({e}): {metadata['config']!r}") from None
    try:
        if fmt == FORMAT_V1:
            # v1 files are all the one MLP VAE: ReLU, Bernoulli pixels, no corruption.
            if not isinstance(raw, dict):
                raise CheckpointError(f"model config must be a JSON object, got {raw!r}")
            raw = {"model": "vae", "activation": "relu", "likelihood": "bernoulli", "sigma": 1.0,
                   "noise": "none", **{k: raw[k] for k in ("input_dim", "hidden", "latent", "beta") if k in raw}}
            config = _normalise(raw)
            if not config["hidden"]:
                raise CheckpointError("bad model config: a v1 VAE has at least one hidden layer")
            k = len(config["hidden"])
            return config, lambda n: _legacy_v2_name(n, k), lambda n: _legacy_file_name(n, k)
        return _normalise(raw), lambda n: n, lambda n: n
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e} (config {metadata['config']})") from None


# ---------------------------------------------------------------- modules

def _mlp(sizes, activation, act_after_last):
    """Linear layers through sizes, each followed by a ReLU (none when activation is 'none', so
    the Sequential indices then step by 1), except the last unless act_after_last."""
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(nn.Linear(sizes[i], sizes[i + 1]))
        if activation == "relu" and (act_after_last or i < len(sizes) - 2):
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def _conv_trunk(C, H, W):
    """The conv arch's encoder up to its 256 features: Conv2d(C, 32, 4, 2, 1), ReLU, Conv2d(32, 64,
    4, 2, 1), ReLU, Flatten, Linear(64 * H/4 * W/4, 256), ReLU (indices 0, 2, 5)."""
    return [nn.Conv2d(C, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(64 * (H // 4) * (W // 4), 256), nn.ReLU()]


def _conv64_features(image):
    """The width of conv64's flattened encoder output for images [C, H, W]."""
    return CONV64_CHANNELS[-1] * (image[1] // 32) * (image[2] // 32)


def _conv_decoder(n_in, C, H, W):
    """The conv arch's decoder: Linear(n_in, 256), ReLU, Linear(256, 64 * H/4 * W/4), ReLU,
    Unflatten(64, H/4, W/4), ConvTranspose2d(64, 32, 4, 2, 1), ReLU, ConvTranspose2d(32, C, 4, 2, 1)
    (indices 0, 2, 5, 7), then a Flatten to rows of C*H*W, as cuvae's rows are."""
    h, w = H // 4, W // 4
    return nn.Sequential(nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 64 * h * w), nn.ReLU(),
                         nn.Unflatten(1, (64, h, w)), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                         nn.ConvTranspose2d(32, C, 4, 2, 1), nn.Flatten())


CONV64_CHANNELS = (32, 64, 128, 256, 512)


def _conv64_block(c_in, c_out, transposed):
    """A conv64 block: Conv2d(c_in, c_out, 3, 2, 1) or ConvTranspose2d(..., output_padding=1)
    (index 0), BatchNorm2d (1), LeakyReLU (2)."""
    conv = nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1) if transposed else nn.Conv2d(c_in, c_out, 3, 2, 1)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.LeakyReLU())


def _conv64_trunk(C, H, W):
    """conv64's encoder (PyTorch-VAE's VanillaVAE): five stride-2 blocks 32, 64, 128, 256, 512 and a
    Flatten (index 5) to 512 * H/32 * W/32 features."""
    mods, c = [], C
    for h in CONV64_CHANNELS:
        mods.append(_conv64_block(c, h, False))
        c = h
    return mods + [nn.Flatten()]


def _attach_conv64_decoder(model, n_in, C, H, W):
    """conv64's decoder as the model's own modules, named as VanillaVAE names them: decoder_input
    Linear(n_in, 512 * h * w) without activation, decoder = four ConvTranspose2d blocks down to 32
    channels, final_layer = one more block 32 -> 32 and Conv2d(32, C, 3, 1, 1) (index 3)."""
    h, w, top = H // 32, W // 32, CONV64_CHANNELS[-1]
    model.decoder_input = nn.Linear(n_in, top * h * w)
    chans = CONV64_CHANNELS[::-1]
    model.decoder = nn.Sequential(*[_conv64_block(chans[i], chans[i + 1], True) for i in range(4)])
    model.final_layer = nn.Sequential(nn.ConvTranspose2d(32, 32, 3, 2, 1, output_padding=1), nn.BatchNorm2d(32),
                                      nn.LeakyReLU(), nn.Conv2d(32, C, 3, 1, 1))
    model._unflat = (top, h, w)


class _Model(nn.Module):
    """Shared likelihood code; subclasses supply encode, _decode_raw and pred."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.likelihood, self.sigma, self.beta = config["likelihood"], config["sigma"], config["beta"]
        self.noise = _parse_noise(config["noise"])
        self.image = tuple(config["image"])
        self.conv = config["arch"] != "mlp"
        self.conv64 = config["arch"] == "conv64"

    def _images(self, x):
        """Rows [B, D] as the conv arch's NCHW images; rows unchanged for an mlp."""
        return x.reshape(-1, *self.image) if self.conv else x

    def _run_decoder(self, z):
        """The decoder's output rows (logits or means) for codes z."""
        if not self.conv64:
            return self.decoder(z)
        h = self.decoder_input(z).reshape(-1, *self._unflat)
        return self.final_layer(self.decoder(h)).flatten(1)

    def _means(self, raw):
        return torch.sigmoid(raw) if self.likelihood == "bernoulli" else raw

    def _recon(self, raw, target):
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(raw, target, reduction="sum")
        # The log-normaliser is the same for every pixel: add it once, numel times, in double.
        return (0.5 * ((target - raw) / self.sigma) ** 2).sum() + \
            target.numel() * math.log(self.sigma * math.sqrt(2 * math.pi))

    def decode(self, z):
        """Pixel means for codes z."""
        return self._means(self._decode_raw(z))

    def forward(self, x, eps=None):
        """Reconstruction (pixel means) of x; eps is the VAE's noise, ignored by the others."""
        return self._means(self.pred(x, eps))

    def loss_terms(self, x_in, target, eps=None):
        """{'recon', 'loss'} summed over the batch; x_in is the encoder input, target the clean image."""
        recon = self._recon(self.pred(x_in, eps), target)
        return {"recon": recon, "loss": recon}


class AE(_Model):
    """ae, linear-ae, dae: encoder D -> hidden -> L (no activation on the code), decoder back."""

    def __init__(self, config):
        super().__init__(config)
        D, H, L, act = config["input_dim"], config["hidden"], config["latent"], config["activation"]
        if self.conv64:
            trunk = _conv64_trunk(*self.image)
            self.encoder = nn.Sequential(*trunk, nn.Linear(_conv64_features(self.image), L))
            _attach_conv64_decoder(self, L, *self.image)
        elif self.conv:
            self.encoder = nn.Sequential(*_conv_trunk(*self.image), nn.Linear(256, L))
            self.decoder = _conv_decoder(L, *self.image)
        else:
            self.encoder = _mlp([D] + H + [L], act, act_after_last=False)
            self.decoder = _mlp([L] + H[::-1] + [D], act, act_after_last=False)

    def encode(self, x):
        return self.encoder(self._images(x))

    def _decode_raw(self, z):
        return self._run_decoder(z)

    def pred(self, x, eps=None):
        """Decoder output before the sigmoid (logits, or Gaussian means)."""
        return self._run_decoder(self.encode(x))


class VAE(_Model):
    """vae: encoder = the hidden layers (each with its activation), heads fc_mu / fc_logvar."""

    def __init__(self, config):
        super().__init__(config)
        D, H, L, act = config["input_dim"], config["hidden"], config["latent"], config["activation"]
        if self.conv64:
            self.encoder = nn.Sequential(*_conv64_trunk(*self.image))
            top = _conv64_features(self.image)
            _attach_conv64_decoder(self, L, *self.image)
        elif self.conv:
            self.encoder = nn.Sequential(*_conv_trunk(*self.image))
            top = 256
            self.decoder = _conv_decoder(L, *self.image)
        else:
            self.encoder = _mlp([D] + H, act, act_after_last=True)
            top = H[-1] if H else D
            self.decoder = _mlp([L] + H[::-1] + [D], act, act_after_last=False)
        self.fc_mu, self.fc_logvar = nn.Linear(top, L), nn.Linear(top, L)

    def encode_dist(self, x):
        """(mu, logvar) of q(z|x)."""
        h = self.encoder(self._images(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def encode(self, x):
        return self.encode_dist(x)[0]

    def _decode_raw(self, z):
        return self._run_decoder(z)

    def _sample(self, x, eps):
        mu, logvar = self.encode_dist(x)
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar

    def pred(self, x, eps=None):
        """Decoder output before the sigmoid at z = mu + eps * exp(logvar / 2)."""
        return self._run_decoder(self._sample(x, eps)[0])

    def loss_terms(self, x_in, target, eps=None):
        """{'recon', 'kl', 'loss' = recon + beta * kl}, each summed over the batch."""
        z, mu, logvar = self._sample(x_in, eps)
        recon = self._recon(self._run_decoder(z), target)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return {"recon": recon, "kl": kl, "loss": recon + self.beta * kl}


class PCA(_Model):
    """pca: K = latent components. Buffers, not parameters: PCA is fitted, not trained by
    gradient. Its decoder gives means, so decode has no sigmoid and recon is always the
    Gaussian term (with the config's sigma), whatever 'likelihood' says."""

    def __init__(self, config):
        super().__init__(config)
        D, K = config["input_dim"], config["latent"]
        self.register_buffer("mean", torch.zeros(D))
        self.register_buffer("components", torch.zeros(K, D))
        self.register_buffer("explained_variance", torch.zeros(K))
        self.likelihood = "gaussian"

    def encode(self, x):
        return (x - self.mean) @ self.components.T

    def _decode_raw(self, z):
        return z @ self.components + self.mean

    def pred(self, x, eps=None):
        return self._decode_raw(self.encode(x))


class Classifier(_Model):
    """classifier: net = D -> hidden (each with its activation) -> C logits, one nn.Sequential.
    encode(x) gives the penultimate-layer features (the last hidden layer's activations), the
    features of the later FID-style score; there is no decoder."""

    def __init__(self, config):
        super().__init__(config)
        D, H, C, act = config["input_dim"], config["hidden"], config["classes"], config["activation"]
        if self.conv64:
            self.net = nn.Sequential(*_conv64_trunk(*self.image), nn.Linear(_conv64_features(self.image), C))
        elif self.conv:
            self.net = nn.Sequential(*_conv_trunk(*self.image), nn.Linear(256, C))
        else:
            self.net = _mlp([D] + H + [C], act, act_after_last=False)

    def encode(self, x):
        return self.net[:-1](self._images(x))

    def _decode_raw(self, z):
        raise CheckpointError("a classifier has no decoder")

    def pred(self, x, eps=None):
        """The logits [B, C]."""
        return self.net(self._images(x))

    def forward(self, x, eps=None):
        return self.pred(x)

    def loss_terms(self, x_in, labels, eps=None):
        """{'xent' (summed over the batch), 'correct' (rows whose first argmax is the label), 'loss' = xent}."""
        logits = self.pred(x_in)
        labels = labels.reshape(-1).long()
        xent = F.cross_entropy(logits, labels, reduction="sum")
        correct = (logits.argmax(dim=1) == labels).sum().to(logits.dtype)
        return {"xent": xent, "correct": correct, "loss": xent}


class CVAE(_Model):
    """cvae: the conditional VAE. The one-hot label (C = config['classes']) is concatenated to the
    encoder's input and to the decoder's input: encoder.0 [H, D + C], fc_mu / fc_logvar [L, H],
    decoder.0 [H, L + C], ... Every call takes the labels y ([B] or [B, 1] integers, or floats
    holding integers)."""

    def __init__(self, config):
        super().__init__(config)
        D, H, L, act = config["input_dim"], config["hidden"], config["latent"], config["activation"]
        self.classes = C = config["classes"]
        if self.conv64:  # the label joins after the blocks: fc_mu and fc_logvar take [features | onehot]
            self.encoder = nn.Sequential(*_conv64_trunk(*self.image))
            top = _conv64_features(self.image) + C
            _attach_conv64_decoder(self, L + C, *self.image)
        elif self.conv:  # the label joins after the convolutions: encoder.5 takes [features | onehot]
            trunk = _conv_trunk(*self.image)
            trunk[5] = nn.Linear(trunk[5].in_features + C, 256)
            self.encoder = nn.Sequential(*trunk)
            top = 256
            self.decoder = _conv_decoder(L + C, *self.image)
        else:
            self.encoder = _mlp([D + C] + H, act, act_after_last=True)
            top = H[-1] if H else D + C
            self.decoder = _mlp([L + C] + H[::-1] + [D], act, act_after_last=False)
        self.fc_mu, self.fc_logvar = nn.Linear(top, L), nn.Linear(top, L)

    def one_hot(self, y, like):
        return F.one_hot(y.reshape(-1).long(), self.classes).to(like.dtype)

    def encode_dist(self, x, y):
        """(mu, logvar) of q(z | x, y)."""
        if self.conv64:
            h = torch.cat([self.encoder(self._images(x)), self.one_hot(y, x)], dim=1)
        elif self.conv:
            h = self.encoder[5:](torch.cat([self.encoder[:5](self._images(x)), self.one_hot(y, x)], dim=1))
        else:
            h = self.encoder(torch.cat([x, self.one_hot(y, x)], dim=1))
        return self.fc_mu(h), self.fc_logvar(h)

    def encode(self, x, y):
        return self.encode_dist(x, y)[0]

    def decode(self, z, y):
        """Pixel means of p(x | z, y)."""
        return self._means(self._run_decoder(torch.cat([z, self.one_hot(y, z)], dim=1)))

    def _sample(self, x, y, eps):
        mu, logvar = self.encode_dist(x, y)
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar

    def pred(self, x, y, eps=None):
        """Decoder output before the sigmoid at z = mu + eps * exp(logvar / 2), given y."""
        z = self._sample(x, y, eps)[0]
        return self._run_decoder(torch.cat([z, self.one_hot(y, z)], dim=1))

    def forward(self, x, y, eps=None):
        return self._means(self.pred(x, y, eps))

    def loss_terms(self, x_in, target, y, eps=None):
        """{'recon', 'kl', 'loss' = recon + beta * kl}, each summed over the batch."""
        z, mu, logvar = self._sample(x_in, y, eps)
        recon = self._recon(self._run_decoder(torch.cat([z, self.one_hot(y, z)], dim=1)), target)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return {"recon": recon, "kl": kl, "loss": recon + self.beta * kl}


def model_from_config(config):
    """The module for a v2 config dict (optional keys default: hidden [], activation relu,
    likelihood bernoulli, sigma 1, beta 1, noise none). Raises CheckpointError on a bad config."""
    c = _normalise(config)
    return {"ae": AE, "linear-ae": AE, "dae": AE, "vae": VAE, "pca": PCA, "classifier": Classifier,
            "cvae": CVAE}[c["model"]](c)


# ---------------------------------------------------------------- files

def _import_safetensors():
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        # Where .ci/setup installs it: a pip --target dir, overridable.
        sys.path.insert(0, os.environ.get("CUVAE_PYDEPS", os.path.expanduser("~/.cache/cuvae/pydeps")))
        import safetensors.torch  # noqa: F401
    import safetensors
    return safetensors


def read_safetensors(path):
    """(metadata dict, {name: tensor}) of a safetensors file; CheckpointError naming path."""
    st = _import_safetensors()
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        with st.safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {}), {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged headers
        raise CheckpointError(f"{path}: cannot read as safetensors: {e}") from None


def load_tensors(model, tensors, path="<checkpoint>", rename=None, file_name=None):
    """Load {file name: tensor} into model with strict=True, converting to the model's dtype.
    Checks first, so the error names the file and the tensor as the file spells it (rename maps
    a file name to a state-dict name; file_name maps back, for tensors that are missing)."""
    want = model.state_dict()
    rename, file_name = rename or (lambda n: n), file_name or (lambda n: n)
    state = {}
    for name, t in tensors.items():
        v2 = rename(name)
        label = name if v2 == name else f"{name}' (loaded as '{v2}"  # the quotes close around it
        if v2 not in want:
            raise CheckpointError(f"{path}: unexpected tensor '{label}': a {model.config['model']} with "
                                  f"hidden {model.config['hidden']} latent {model.config['latent']} has no such parameter")
        if v2 in state:
            raise CheckpointError(f"{path}: tensor '{label}' given twice")
        if tuple(t.shape) != tuple(want[v2].shape):
            raise CheckpointError(f"{path}: tensor '{label}' has shape {list(t.shape)}, expected {list(want[v2].shape)}")
        state[v2] = t.to(want[v2].dtype)
    for v2 in want:
        if v2 not in state and v2.endswith(".num_batches_tracked"):
            state[v2] = want[v2]  # cuvae keeps no step count per BatchNorm2d (with momentum 0.1 torch uses none)
            continue
        if v2 not in state:
            raise CheckpointError(f"{path}: tensor '{file_name(v2)}' is missing (shape {list(want[v2].shape)})")
    model.load_state_dict(state, strict=True)
    return model


def load(path, dtype=torch.float32):
    """The module for a cuvae checkpoint, its tensors loaded with strict=True, in dtype."""
    meta, tensors = read_safetensors(path)
    config, rename, file_name = parse_metadata(meta, path)
    model = model_from_config(config).to(dtype)
    model_tensors = {n: t for n, t in tensors.items() if not n.startswith(OPTIMIZER_PREFIXES)}
    return load_tensors(model, model_tensors, path, rename, file_name).eval()
