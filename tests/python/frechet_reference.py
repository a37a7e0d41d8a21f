# Reference Frechet distance for tests/test_score.cpp, in float64 NumPy/SciPy as the FID reference
# code computes it (pytorch-fid's calculate_frechet_distance), independent of cuvae's code path:
#   frechet_reference.py A.npy B.npy OUT.txt
# reads two float32 feature sets [n, d] (np.save layout), writes d^2 = ||mu_a - mu_b||^2 +
# Tr(S_a + S_b - 2 sqrtm(S_a S_b)) with np.cov's n - 1 divisor, as repr(float) (17 digits).
import sys

import numpy as np
from scipy import linalg


def main():
    a = np.load(sys.argv[1]).astype(np.float64)
    b = np.load(sys.argv[2]).astype(np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a.dot(s_b))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            sys.exit(f"frechet_reference: sqrtm has imaginary part {np.max(np.abs(root.imag))}")
        root = root.real
    diff = mu_a - mu_b
    d2 = diff.dot(diff) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root)
    with open(sys.argv[3], "w") as f:
        f.write(repr(float(d2)) + "\n")
    print(f"frechet_reference: {a.shape} vs {b.shape}: {d2!r}")


if __name__ == "__main__":
    main()
