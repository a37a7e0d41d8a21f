# Reference BatchNorm2d + LeakyReLU for tests/test_batchnorm.cpp, in float64 PyTorch (torch.nn modules
# and autograd, independent of cuvae's code path):
#   batchnorm_reference.py DIR B C H W MOMENTUM EPS
# reads from DIR raw little-endian float32 files x1.f32 and x2.f32 [B, C, H, W], gamma.f32, beta.f32,
# running_mean.f32, running_var.f32 [C] and dy.f32 [B, C, H, W], and writes raw little-endian float64:
#   step 1, training, on x1:  y1, dx1 (dy backpropagated through LeakyReLU and BatchNorm2d), dgamma1,
#                             dbeta1, mean1 and invstd1 (the batch's mean, 1 / sqrt(biased var + eps)),
#                             running_mean1, running_var1
#   step 2, training, on x2:  running_mean2, running_var2
#   then eval, on x1:         y_eval (with the running statistics after step 2)
import os
import sys

import numpy as np
import torch


def main():
    d = sys.argv[1]
    B, C, H, W = (int(v) for v in sys.argv[2:6])
    momentum, eps = float(sys.argv[6]), float(sys.argv[7])

    def load(name, shape):
        return torch.from_numpy(np.fromfile(os.path.join(d, name + ".f32"), dtype="<f4").astype(np.float64).reshape(shape))

    def save(name, t):
        t.detach().numpy().astype("<f8").tofile(os.path.join(d, name + ".f64"))

    bn = torch.nn.BatchNorm2d(C, eps=eps, momentum=momentum).double()
    act = torch.nn.LeakyReLU()  # negative_slope 0.01
    with torch.no_grad():
        bn.weight.copy_(load("gamma", (C,)))
        bn.bias.copy_(load("beta", (C,)))
        bn.running_mean.copy_(load("running_mean", (C,)))
        bn.running_var.copy_(load("running_var", (C,)))
    x1 = load("x1", (B, C, H, W)).requires_grad_(True)
    bn.train()
    y1 = act(bn(x1))
    y1.backward(load("dy", (B, C, H, W)))
    save("y1", y1), save("dx1", x1.grad), save("dgamma1", bn.weight.grad), save("dbeta1", bn.bias.grad)
    save("mean1", x1.mean(dim=(0, 2, 3)))
    save("invstd1", 1 / torch.sqrt(x1.var(dim=(0, 2, 3), unbiased=False) + eps))
    save("running_mean1", bn.running_mean), save("running_var1", bn.running_var)
    with torch.no_grad():
        bn(load("x2", (B, C, H, W)))
        save("running_mean2", bn.running_mean), save("running_var2", bn.running_var)
        bn.eval()
        save("y_eval", act(bn(x1)))
    print(f"batchnorm_reference: [{B}, {C}, {H}, {W}], momentum {momentum}, eps {eps}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
