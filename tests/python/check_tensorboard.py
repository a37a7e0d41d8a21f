"""Reads a cuvae run folder's TensorBoard event files with TensorBoard's own reader (PyPI's
tensorboard, its EventAccumulator, which also applies the SessionLog START purge of resumed runs)
and compares them with what the run wrote beside them: every metrics.jsonl value as a scalar
(float32, exactly; "epoch/<field>" for epoch records, "step/<field>" for --log-every records,
at the record's step) and every reconstruction_<epoch>.png and sample_<epoch>.png as an image
summary with the same bytes. Prints "tensorboard: N scalars and M images match" or the first
difference, and exits 1 on any.

Run: PYTHONPATH=~/.cache/cuvae/pydeps /usr/bin/python3 tests/python/check_tensorboard.py RUN_DIR
"""
import json
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator as ea


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    run = sys.argv[1]
    acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0})
    acc.Reload()
    want = {}
    epochs = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            group = "step" if "loss" in r else "epoch"  # --log-every records have the step's loss
            if group == "epoch":
                epochs.append((r["epoch"], r.get("step", 0)))  # pca: fitted, step 0
            for k, v in r.items():
                if k in ("step", "epoch") or not isinstance(v, (int, float)) or isinstance(v, bool):
                    continue
                want.setdefault(f"{group}/{k}", []).append((r.get("step", 0), f32(v)))
    tags = acc.Tags()
    if sorted(tags["scalars"]) != sorted(want):
        sys.exit(f"tensorboard: scalar tags {sorted(tags['scalars'])}, metrics.jsonl has {sorted(want)}")
    scalars = 0
    for tag, values in want.items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if got != values:
            sys.exit(f"tensorboard: {tag}: events {got}, metrics.jsonl {values}")
        scalars += len(got)
    images = 0
    pictures = [t for t in ("reconstruction", "sample") if os.path.exists(os.path.join(run, f"{t}_1.png"))]
    if sorted(tags["images"]) != sorted(pictures):
        sys.exit(f"tensorboard: image tags {sorted(tags['images'])}, the run wrote {pictures}")
    for tag in pictures:
        got = acc.Images(tag)
        if [e.step for e in got] != [s for _, s in epochs]:
            sys.exit(f"tensorboard: {tag} images at steps {[e.step for e in got]}, epochs ended at {[s for _, s in epochs]}")
        for e, (epoch, _) in zip(got, epochs):
            with open(os.path.join(run, f"{tag}_{epoch}.png"), "rb") as f:
                png = f.read()
            w, h = struct.unpack(">II", png[16:24])
            if e.encoded_image_string != png or (e.width, e.height) != (w, h):
                sys.exit(f"tensorboard: {tag} at epoch {epoch}: not the bytes or size of {tag}_{epoch}.png")
            images += 1
    print(f"tensorboard: {scalars} scalars and {images} images match")


if __name__ == "__main__":
    main()
