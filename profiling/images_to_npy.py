"""An image folder (class subfolders, as `cuvae make-shapes` writes them) as the .npy pair that
both `cuvae train --data OUT` and `pytorch_models.py --npy OUT` read, so a benchmark feeds the
two the same pixels: OUT/train.npy and OUT/test.npy ([N, C, H, W] uint8), with
OUT/train_labels.npy and OUT/test_labels.npy (int64, the class folders in sorted order). Images
are taken in sorted path order; every `--test-every`-th one goes to the test split.

Run:  /usr/bin/python3 profiling/images_to_npy.py shapes64 /tmp/shapes64-npy [--channels 3] [--test-every 10]
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("out")
    p.add_argument("--channels", type=int, choices=[1, 3], default=3)
    p.add_argument("--test-every", type=int, default=10)
    a = p.parse_args()
    classes = sorted(d for d in os.listdir(a.folder) if os.path.isdir(os.path.join(a.folder, d)))
    if not classes:
        sys.exit(f"images_to_npy: {a.folder}: no class folders")
    paths = [(os.path.join(a.folder, c, f), k) for k, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(a.folder, c))) if f.lower().endswith((".png", ".jpg", ".jpeg"))]
    paths.sort()
    mode = "RGB" if a.channels == 3 else "L"
    images = np.stack([np.asarray(Image.open(f).convert(mode)) for f, _ in paths])
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # NCHW
    labels = np.array([k for _, k in paths], dtype=np.int64)
    test = np.arange(len(paths)) % a.test_every == a.test_every - 1
    os.makedirs(a.out, exist_ok=True)
    for split, rows in (("train", ~test), ("test", test)):
        np.save(os.path.join(a.out, f"{split}.npy"), np.ascontiguousarray(images[rows]))
        np.save(os.path.join(a.out, f"{split}_labels.npy"), labels[rows])
    print(f"images_to_npy: {len(paths)} images {list(images.shape[1:])} of {len(classes)} classes -> "
          f"{a.out} ({int((~test).sum())} train, {int(test.sum())} test)")


if __name__ == "__main__":
    main()
