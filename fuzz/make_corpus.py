#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora: valid files as cuvae and numpy write them, and a few
slightly broken ones per format, one folder per target under OUT (fuzz/run.sh: build/fuzz/corpus).

Standard library, and PIL (python3-pil, .ci/setup) for the JPEG seeds. Usage: fuzz/make_corpus.py OUT
"""
import gzip
import json
import struct
import sys
import zlib
from pathlib import Path


def idx(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)


def gz(data, level=9):
    return gzip.compress(data, compresslevel=level, mtime=0)


def idx_images_seeds():
    img = idx(0x803, [2, 4, 4], [(i * 37) % 256 for i in range(32)])
    one = idx(0x803, [1, 28, 28], [(i * 5) % 256 for i in range(784)])
    return {
        "raw_2x4x4": img,
        "raw_1x28x28": one,
        "gzip_2x4x4": gz(img),
        "gzip_1x28x28": gz(one, 1),
        "gzip_two_members": gz(img[:10]) + gz(img[10:]),
        "raw_truncated": img[:-5],
        "raw_extra": img + b"\0\0\0",
        "raw_header_only": img[:16],
        "raw_zero_dim": idx(0x803, [0, 4, 4], []),
        "raw_huge_count": idx(0x803, [0x80000000, 28, 28], [1] * 20),
        "raw_wrong_type": idx(0x0D03, [1, 2, 2], [0] * 16),
        "raw_labels_magic": idx(0x801, [3], [1, 2, 3]),
        "gzip_truncated": gz(img)[:-6],
        "gzip_trailing_junk": gz(img) + b"junk",
        "gzip_claims_more": gz(idx(0x803, [1000, 100, 100], [7] * 300)),
        "gzip_bomb_small": gz(idx(0x803, [1, 2, 2], [0] * 4) + b"\0" * 20000),
    }


def idx_labels_seeds():
    labels = idx(0x801, [10], list(range(10)))
    return {
        "raw_10": labels,
        "gzip_10": gz(labels),
        "raw_out_of_range": idx(0x801, [3], [1, 10, 2]),
        "raw_truncated": labels[:-3],
        "raw_images_magic": idx(0x803, [1, 1, 1], [0]),
        "gzip_truncated": gz(labels)[:-4],
    }


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, shape, float values), laid out in order, as cuvae writes them."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    data = b""
    for name, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def cuvae_config(model="vae", input_dim=8, hidden=(4,), latent=2, likelihood="bernoulli", noise="none"):
    return {"model": model, "input_dim": input_dim, "hidden": list(hidden),
            "activation": "relu" if hidden else "none", "latent": latent, "likelihood": likelihood,
            "sigma": 1.0, "beta": 1.0, "noise": noise}


def vae_tensors(d=8, h=4, z=2):
    def t(name, shape):
        n = 1
        for s in shape:
            n *= s
        return (name, shape, [((i * 7) % 11 - 5) / 10.0 for i in range(n)])
    return [t("encoder.0.weight", [h, d]), t("encoder.0.bias", [h]), t("mu.weight", [z, h]), t("mu.bias", [z]),
            t("logvar.weight", [z, h]), t("logvar.bias", [z]), t("decoder.0.weight", [h, z]),
            t("decoder.0.bias", [h]), t("decoder.out.weight", [d, h]), t("decoder.out.bias", [d])]


def safetensors_seeds():
    train = {"seed": "42", "step": 10, "epoch": 2, "batch_in_epoch": 3, "batch_size": 4,
             "epoch_loss_sum": "0x1.8p+3", "shuffle": "host-fisher-yates", "lr_decay": 1.0, "kl_warmup": 0,
             "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "l2": 0.0}}
    meta = {"format": "cuvae.model.v2", "config": json.dumps(cuvae_config(), separators=(",", ":")),
            "train": json.dumps(train, separators=(",", ":"))}
    ck = safetensors(vae_tensors(), meta)
    weights_only = safetensors(vae_tensors(), {"format": "cuvae.model.v2",
                                               "config": json.dumps(cuvae_config(), separators=(",", ":"))})
    n = struct.unpack("<Q", ck[:8])[0]
    gap = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode()
    overlap = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode()
    return {
        "checkpoint_vae": ck,
        "weights_only": weights_only,
        "scalar_and_empty": safetensors([("s", [], [1.5]), ("e", [0, 3], [])]),
        "no_metadata": safetensors([("w", [2, 2], [1, 2, 3, 4])]),
        "metadata_only": safetensors([], {"k": "v"}),
        "truncated_data": ck[:-7],
        "trailing_bytes": ck + b"\0\0\0\0",
        "header_too_long": struct.pack("<Q", n + 100) + ck[8:],
        "header_not_json": struct.pack("<Q", 8) + b"{not js}",
        "dtype_f16": struct.pack("<Q", 64) + json.dumps(
            {"x": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}).encode().ljust(64) + b"\0" * 4,
        "gap": struct.pack("<Q", len(gap)) + gap + b"\0" * 8,
        "overlap": struct.pack("<Q", len(overlap)) + overlap + b"\0" * 8,
        "metadata_not_string": safetensors([], {"k": 1}),
    }


def checkpoint_seeds():
    """Valid cuvae checkpoints (names and shapes as the models register them) and near misses."""
    def t(name, shape):
        n = 1
        for d in shape:
            n *= d
        return (name, shape, [((i * 5) % 13 - 6) / 10.0 for i in range(n)])
    d, h, z = 8, 4, 2
    params = [("encoder.0.weight", [h, d]), ("encoder.0.bias", [h]), ("fc_mu.weight", [z, h]),
              ("fc_logvar.weight", [z, h]), ("fc_mu.bias", [z]), ("fc_logvar.bias", [z]),
              ("decoder.0.weight", [h, z]), ("decoder.0.bias", [h]), ("decoder.2.weight", [d, h]),
              ("decoder.2.bias", [d])]
    train = {"seed": "42", "step": 10, "epoch": 2, "batch_in_epoch": 1, "batch_size": 4,
             "epoch_loss_sum": "12.5", "shuffle": "device-philox", "lr_decay": 1.0, "kl_warmup": 0,
             "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "l2": 0.0}}
    config = json.dumps(cuvae_config(), separators=(",", ":"))
    weights = [t(n, s) for n, s in params]
    moments = [t(p + n, s) for p in ("optimizer.exp_avg.", "optimizer.exp_avg_sq.") for n, s in params]
    ae_params = [("encoder.0.weight", [h, d]), ("encoder.0.bias", [h]), ("encoder.2.weight", [z, h]),
                 ("encoder.2.bias", [z]), ("decoder.0.weight", [h, z]), ("decoder.0.bias", [h]),
                 ("decoder.2.weight", [d, h]), ("decoder.2.bias", [d])]
    return {
        "vae_train": safetensors(weights + moments, {"format": "cuvae.model.v2", "config": config,
                                                     "train": json.dumps(train, separators=(",", ":"))}),
        "vae_weights": safetensors(weights, {"format": "cuvae.model.v2", "config": config}),
        "ae_weights": safetensors([t(n, s) for n, s in ae_params],
                                  {"format": "cuvae.model.v2",
                                   "config": json.dumps(cuvae_config("ae"), separators=(",", ":"))}),
        "legacy": safetensors([t(n.replace("encoder.0", "fc1").replace("fc_mu", "fc21").replace("fc_logvar", "fc22")
                                 .replace("decoder.0", "fc3").replace("decoder.2", "fc4"), s) for n, s in params],
                              {"format": "cuvae.mlp_vae.v1",
                               "config": json.dumps({"input_dim": d, "hidden": [h], "latent": z, "beta": 1.0})}),
        "extra_tensor": safetensors(weights + [t("extra", [1])], {"format": "cuvae.model.v2", "config": config}),
        "missing_moments": safetensors(weights, {"format": "cuvae.model.v2", "config": config,
                                                 "train": json.dumps(train, separators=(",", ":"))}),
    }


def npy(descr, shape, payload, fortran=False, version=(1, 0), pad=True):
    shape_text = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shape_text)
    pre_len = 10 if version[0] == 1 else 12
    if pad:
        d += " " * ((64 - (pre_len + len(d) + 1) % 64) % 64)
    d = (d + "\n").encode("latin1")
    length = struct.pack("<H", len(d)) if version[0] == 1 else struct.pack("<I", len(d))
    return b"\x93NUMPY" + bytes(version) + length + d + bytes(payload)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def npy_matrix_seeds():
    m = npy("<f4", [3, 4], f32([i / 12 for i in range(12)]))
    return {
        "f32_3x4": m,
        "u8_2x3x3": npy("|u1", [2, 3, 3], range(18)),
        "u8_2x1x2x2": npy("|u1", [2, 1, 2, 2], range(8)),
        "f32_v2": npy("<f4", [2, 2], f32([1, 2, 3, 4]), version=(2, 0)),
        "f32_v3_empty": npy("<f4", [0, 5], b"", version=(3, 0)),
        "f32_unpadded": npy("<f4", [1, 2], f32([0.5, 0.25]), pad=False),
        "fortran": npy("<f4", [2, 2], f32([1, 2, 3, 4]), fortran=True),
        "big_endian": npy(">f4", [1, 1], b"\0\0\0\0"),
        "f64": npy("<f8", [1, 1], b"\0" * 8),
        "rank1": npy("<f4", [4], f32([1, 2, 3, 4])),
        "three_channels": npy("|u1", [1, 3, 2, 2], range(12)),
        "truncated": m[:-3],
        "trailing": m + b"\0",
        "huge_shape": npy("<f4", [2 ** 40, 2 ** 30], b""),
        "bad_magic": b"\x93NUMPZ" + m[6:],
    }


def npy_labels_seeds():
    return {
        "u8": npy("|u1", [5], [0, 1, 2, 3, 9]),
        "i4": npy("<i4", [3], struct.pack("<3i", 1, 2, 3)),
        "i8": npy("<i8", [2], struct.pack("<2q", 7, 8)),
        "i8_too_big": npy("<i8", [1], struct.pack("<q", 2 ** 40)),
        "rank2": npy("|u1", [2, 2], [0, 1, 2, 3]),
        "f4": npy("<f4", [1], f32([1.0])),
        "truncated": npy("<i4", [3], struct.pack("<3i", 1, 2, 3))[:-2],
    }


def png(width, height, rows, color=0, depth=8, interlace=0, extra_chunks=(), raw=None):
    """rows: pixel rows (filter 0 is prepended); raw: the filtered scanlines as they are."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    if raw is None:
        raw = b"".join(b"\0" + bytes(r) for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, body in extra_chunks:
        out += chunk(kind, body)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def png_seeds():
    rows = [[(x * 40 + y * 7) % 256 for x in range(5)] for y in range(3)]
    gray = png(5, 3, rows)
    # Adam7 of a 2x2 image: passes 1 (pixel 0,0), 6 (pixel 1,0) and 7 (row 1), a filter byte each.
    adam7 = png(2, 2, None, interlace=1, raw=b"\0\x10" + b"\0\x20" + b"\0\x30\x40")
    return {
        "gray_5x3": gray,
        "gray_1x1": png(1, 1, [[128]]),
        "gray_adam7_2x2": adam7,
        "gray_gamma_trns": png(2, 1, [[0, 255]], extra_chunks=[(b"gAMA", struct.pack(">I", 45455)),
                                                              (b"tRNS", b"\0\0")]),
        "rgb_1x1": png(1, 1, [[1, 2, 3]], color=2),
        "gray16_1x1": png(1, 1, [[0, 1]], depth=16),
        "truncated": gray[:-20],
        "bad_crc": gray[:30] + bytes([gray[30] ^ 1]) + gray[31:],
        "huge_header": png(1000000, 1000000, [[0]]),
        "signature_only": gray[:8],
    }


def image_decode_seeds():
    """The PNG seeds in colour and palette too, and JPEGs: baseline, progressive, grey, truncated."""
    import io
    from PIL import Image
    img = Image.new("RGB", (7, 5))
    img.putdata([((x * 37) % 256, (y * 51) % 256, (x * y * 13) % 256) for y in range(5) for x in range(7)])

    def save(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()
    baseline = save(img, "JPEG", quality=90)
    seeds = dict(png_seeds())
    seeds.update({
        "rgba_png": save(img.convert("RGBA"), "PNG"),
        "palette_png": save(img.convert("P"), "PNG"),
        "jpeg_baseline": baseline,
        "jpeg_progressive": save(img, "JPEG", progressive=True, quality=80),
        "jpeg_grey": save(img.convert("L"), "JPEG"),
        "jpeg_truncated": baseline[: len(baseline) // 2],
    })
    return seeds


def config_seeds():
    seeds = {
        "vae": cuvae_config(),
        "ae": cuvae_config("ae"),
        "dae": cuvae_config("dae", noise="mask:0.25"),
        "dae_gaussian": cuvae_config("dae", noise="gaussian:0.5", likelihood="gaussian"),
        "linear_ae": cuvae_config("linear-ae", hidden=(), likelihood="gaussian"),
        "pca": dict(cuvae_config("pca", hidden=()), total_variance=52.5),
        "deep": cuvae_config(hidden=(512, 256, 128), input_dim=784, latent=20),
        "bad_latent": cuvae_config(latent=0),
        "bad_model": cuvae_config("gan"),
        "bad_noise": cuvae_config("dae", noise="mask:2"),
        "missing_field": {"model": "vae"},
    }
    out = {name: json.dumps(c, separators=(",", ":")).encode() for name, c in seeds.items()}
    out["float_dim"] = b'{"model":"vae","input_dim":784.5,"hidden":[400],"activation":"relu","latent":20,' \
                       b'"likelihood":"bernoulli","sigma":1,"beta":1,"noise":"none"}'
    out["not_object"] = b"[1,2,3]"
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUT")
    out = Path(sys.argv[1])
    targets = {"idx_images": idx_images_seeds(), "idx_labels": idx_labels_seeds(),
               "safetensors": safetensors_seeds(), "npy_matrix": npy_matrix_seeds(),
               "npy_labels": npy_labels_seeds(), "png_gray": png_seeds(), "image_decode": image_decode_seeds(),
               "config": config_seeds(),
               "checkpoint": checkpoint_seeds()}
    for target, seeds in targets.items():
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (d / ("seed_" + name)).write_bytes(data)
    print("make_corpus: %d seeds for %d targets in %s" % (sum(map(len, targets.values())), len(targets), out))


if __name__ == "__main__":
    main()
