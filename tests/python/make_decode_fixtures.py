#!/usr/bin/python3
"""Fixtures for tests/test_image_decode.cpp: seeded random PNG and JPEG files of every kind the
decoder handles, and what PIL (9.x) makes of each, for a bit-exact comparison.

Usage: make_decode_fixtures.py OUTDIR

For each image it writes the file, <name>.rgb and <name>.l (raw uint8 [h][w][c] bytes of
np.asarray(Image.open(f).convert('RGB' / 'L'))), and for the resize cases <name>.<c>.<S>: torchvision's
Resize(S) + CenterCrop(S) done with PIL directly on the converted image. OUTDIR/manifest.txt lists them:
  image <file> <width> <height> <native channels> <rgb ref> <l ref>
  resize <file> <channels> <S> <ref>
Files PIL cannot write (Adam7 interlaced, 16-bit RGB, a header claiming 100000 x 100000 pixels) are
written by the small PNG writer below.
"""
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image

# convert('RGB') of a palette image with a tRNS chunk warns that RGBA would keep the transparency.
warnings.filterwarnings("ignore", "Palette images with Transparency")
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20240611)
manifest = []


def path(name):
    return os.path.join(out, name)


def noise(h, w, c=None, hi=256, dtype=np.uint8):
    """Seeded uniform random pixels in [0, hi), never all zero (the first one is hi - 1)."""
    shape = (h, w) if c is None else (h, w, c)
    a = rng.integers(0, hi, size=shape, dtype=np.int64)
    a.flat[0] = hi - 1
    return a.astype(dtype)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width, height, color_type, bit_depth, rows, interlace=0, extra=b""):
    """A PNG with the given raw scanline bytes (already filtered: each row starts with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def raw_rows(a, bit_depth):
    """Scanlines of a [h][w][c] array of 8- or 16-bit samples, filter type 0 on each row."""
    a = a.reshape(a.shape[0], a.shape[1], -1)
    data = a.astype(">u2").tobytes() if bit_depth == 16 else a.astype(np.uint8).tobytes()
    stride = len(data) // a.shape[0]
    return b"".join(b"\x00" + data[i * stride:(i + 1) * stride] for i in range(a.shape[0]))


def adam7_rows(a, bit_depth):
    """The seven Adam7 passes' scanlines of a [h][w][c] array, each row with filter type 0."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out_rows = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            out_rows += raw_rows(sub, bit_depth)
    return out_rows


def refs(name, native_channels):
    """The file's PIL references: convert('RGB') and convert('L') as raw bytes, and a manifest row."""
    with Image.open(path(name)) as im:
        im.load()
        for mode, suffix in (("RGB", "rgb"), ("L", "l")):
            np.ascontiguousarray(np.asarray(im.convert(mode)), dtype=np.uint8).tofile(path(f"{name}.{suffix}"))
        w, h = im.size
    manifest.append(f"image {name} {w} {h} {native_channels} {name}.rgb {name}.l")


def resize_ref(name, channels, size):
    """torchvision's Resize(size) then CenterCrop(size) on the PIL image, written out with PIL itself."""
    with Image.open(path(name)) as im:
        im = im.convert("RGB" if channels == 3 else "L")
        w, h = im.size
        short, long_ = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long_ / short)  # torchvision's _compute_resized_output_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            im = im.resize((new_w, new_h), Image.BILINEAR)
        top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))  # torchvision's center_crop
        im = im.crop((left, top, left + size, top + size))
        ref = f"{name}.{channels}.{size}"
        np.ascontiguousarray(np.asarray(im), dtype=np.uint8).tofile(path(ref))
    manifest.append(f"resize {name} {channels} {size} {ref}")


# --- PNG, one of each kind ------------------------------------------------------------------------
Image.fromarray(noise(23, 37), "L").save(path("grey8.png"))
refs("grey8.png", 1)

grey16 = noise(19, 21, hi=65536, dtype=np.uint16)
Image.fromarray(grey16).save(path("grey16.png"))  # mode I;16: a 16-bit greyscale PNG
refs("grey16.png", 1)
# PIL opens a 16-bit grey PNG in mode I and its convert('L') clips to 0..255; the decoder takes the high
# byte, as PIL itself does for 16-bit RGB, RGBA and grey+alpha PNGs: this reference is v >> 8.
(grey16 >> 8).astype(np.uint8).tofile(path("grey16.png.high"))

Image.fromarray(noise(17, 29, 2), "LA").save(path("grey_alpha.png"))
refs("grey_alpha.png", 1)
Image.fromarray(noise(31, 26, 3), "RGB").save(path("rgb.png"))
refs("rgb.png", 3)
Image.fromarray(noise(22, 35, 4), "RGBA").save(path("rgba.png"))
refs("rgba.png", 3)

palette = noise(256, 1, 3).reshape(-1).tolist()
p = Image.fromarray(noise(27, 33, hi=256), "P")
p.putpalette(palette)
p.save(path("palette.png"))
refs("palette.png", 3)
p.save(path("palette_trns.png"), transparency=bytes(rng.integers(0, 256, 256, dtype=np.uint8)))
refs("palette_trns.png", 3)
p4 = Image.fromarray(noise(15, 18, hi=16), "P")
p4.putpalette(palette[:48])
p4.save(path("palette4.png"), bits=4)
refs("palette4.png", 3)

Image.fromarray(noise(25, 41, hi=2) * 255, "L").convert("1").save(path("bits1.png"))
refs("bits1.png", 1)
grey_t = Image.fromarray(noise(13, 16), "L")
grey_t.save(path("grey_trns.png"), transparency=int(np.asarray(grey_t)[0, 1]))
refs("grey_trns.png", 1)

rgb48 = noise(14, 19, 3, hi=65536, dtype=np.uint16)
with open(path("rgb16.png"), "wb") as f:
    f.write(png_bytes(19, 14, 2, 16, raw_rows(rgb48, 16)))
refs("rgb16.png", 3)

rgb_i = noise(29, 34, 3)
with open(path("interlaced_rgb.png"), "wb") as f:
    f.write(png_bytes(34, 29, 2, 8, adam7_rows(rgb_i, 8), interlace=1))
refs("interlaced_rgb.png", 3)
np.asarray(Image.open(path("interlaced_rgb.png"))).tobytes() == rgb_i.tobytes() or sys.exit("Adam7 writer wrong")
grey_i = noise(11, 9)
with open(path("interlaced_grey.png"), "wb") as f:
    f.write(png_bytes(9, 11, 0, 8, adam7_rows(grey_i, 8), interlace=1))
refs("interlaced_grey.png", 1)

# A header that claims 100000 x 100000 pixels, a few bytes of (bogus) image data.
with open(path("huge.png"), "wb") as f:
    f.write(png_bytes(100000, 100000, 0, 8, b"\x00" * 16))

# --- JPEG -----------------------------------------------------------------------------------------
photo = np.clip(np.add.outer(np.arange(130) * 1.5, np.arange(200) * 0.8)[..., None] + noise(130, 200, 3, hi=60)
                - [[[0, 40, 80]]], 0, 255).astype(np.uint8)
Image.fromarray(photo, "RGB").save(path("baseline.jpg"), quality=90)
refs("baseline.jpg", 3)
Image.fromarray(photo[:61, :47], "RGB").save(path("progressive.jpg"), quality=75, progressive=True)
refs("progressive.jpg", 3)
Image.fromarray(photo[:45, :70, 1], "L").save(path("grey.jpg"), quality=85)
refs("grey.jpg", 1)
Image.fromarray(noise(16, 16, 4), "CMYK").save(path("cmyk.jpg"))
with open(path("baseline.jpg"), "rb") as f:
    whole = f.read()
with open(path("truncated.jpg"), "wb") as f:
    f.write(whole[: len(whole) * 2 // 3])
with open(path("rgb.png"), "rb") as f:
    whole = f.read()
with open(path("truncated.png"), "wb") as f:
    f.write(whole[: len(whole) // 2])

# Tall images for the resize: the long side is the height.
Image.fromarray(noise(90, 31, 3), "RGB").save(path("tall.png"))
refs("tall.png", 3)

# --- resize + centre crop cases -------------------------------------------------------------------
for name, sizes in (("grey8.png", (16, 23, 40, 7, 1)),             # 37x23: shrink, S = short side, enlarge
                    ("rgb.png", (16, 26, 40, 9)),                  # 26x31
                    ("baseline.jpg", (64, 130, 100, 224, 33)),    # 200x130: 64 shrinks by 2.03
                    ("progressive.jpg", (20, 47)),
                    ("grey.jpg", (32, 45, 50)),
                    ("tall.png", (16, 31, 45, 64))):               # 31x90: the height is the long side
    for channels in (1, 3):
        for s in sizes:
            resize_ref(name, channels, s)

# A sweep of random sizes (strips of 1 x N and N x 1 among them), each resized to two random S, grey and colour.
for i in range(20):
    w, h = (int(v) for v in rng.integers(1, 161, 2))
    if i < 2:
        w, h = (1, h) if i == 0 else (w, 1)
    name = f"sweep{i}.png"
    Image.fromarray(noise(h, w, 3), "RGB").save(path(name))
    for s in (int(v) for v in rng.integers(1, 121, 2)):
        for channels in (1, 3):
            resize_ref(name, channels, s)

with open(path("manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
