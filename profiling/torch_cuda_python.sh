#!/usr/bin/env bash
# profiling/torch_cuda_python.sh: prints the path of a Python whose torch sees a CUDA GPU (the one
# on the PATH, then Debian's /usr/bin/python3), for the PyTorch baselines of gpu_check.sh and
# nsight.sh; prints nothing and exits 1 when there is none.
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    command -v "$py"
    exit 0
  fi
done
exit 1
