# Reference PCA for tests/test_pca.cpp, in float64 NumPy, independent of cuvae's code path:
#   pca_reference.py X.f32 N D K OUT_DIR
# reads X (raw little-endian float32, row-major N x D), writes to OUT_DIR raw little-endian float64
# files: mean.f64 [D], variance.f64 [K] (eigenvalues of the covariance with divisor N-1, descending)
# and components.f64 [K, D] (the matching unit eigenvectors, as rows; their signs are arbitrary).
import os
import sys

import numpy as np


def main():
    path, n, d, k, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    x = np.fromfile(path, dtype="<f4").reshape(n, d).astype(np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    w, v = np.linalg.eigh(xc.T @ xc / (n - 1))
    top = np.argsort(w)[::-1][:k]
    mean.astype("<f8").tofile(os.path.join(out, "mean.f64"))
    w[top].astype("<f8").tofile(os.path.join(out, "variance.f64"))
    np.ascontiguousarray(v[:, top].T).astype("<f8").tofile(os.path.join(out, "components.f64"))
    print(f"pca_reference: {n}x{d}, K={k}, top eigenvalue {w[top[0]]:.6g}")


if __name__ == "__main__":
    main()
