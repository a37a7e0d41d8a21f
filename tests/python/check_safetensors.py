# Interop helper for tests/test_safetensors.cpp, run with Python's reference `safetensors`:
#   check_safetensors.py load FILE   -> prints one JSON line: dtype, shape, float64 sum and the
#                                       uint32 bit pattern of every value, plus the metadata
#   check_safetensors.py write FILE  -> writes known F32 tensors + metadata with safetensors.numpy
#   check_safetensors.py write-f16 FILE -> writes one F16 tensor (ours must refuse it by name)
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def load(path):
    tensors = load_file(path)
    out = {"tensors": {}, "metadata": None}
    for name, arr in tensors.items():
        out["tensors"][name] = {
            "dtype": str(arr.dtype),
            "shape": list(arr.shape),
            "sum": float(arr.astype(np.float64).sum()),
            "bits": arr.reshape(-1).view(np.uint32).tolist() if arr.dtype == np.float32 else [],
        }
    with safe_open(path, framework="numpy") as f:
        out["metadata"] = f.metadata()
    print(json.dumps(out))


def write(path):
    # Values the C++ side recomputes exactly: small binary fractions.
    a = (np.arange(6, dtype=np.float32) * np.float32(0.5) - np.float32(1.25)).reshape(2, 3)
    b = np.array(3.25, dtype=np.float32)  # scalar, shape []
    c = np.array([1e-3, -7.5, 65504.0, 1.0 / 3.0], dtype=np.float32)
    save_file({"enc.weight": a, "scale": b, "dec.bias": c}, path, metadata={"source": "python", "step": "12"})


def write_f16(path):
    save_file({"half": np.ones((2, 2), dtype=np.float16)}, path)


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    {"load": load, "write": write, "write-f16": write_f16}[mode](path)
