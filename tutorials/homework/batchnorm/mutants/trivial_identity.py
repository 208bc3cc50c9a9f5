# mutant: trivial submission: the identity (out = x, dx = dout)
# loses: 15.5
# caught by: 1.2 training forward (−2), 1.3 running statistics after one training step (PyTorch's
#   rule) (−2), 1.4 eval mode uses the running statistics and updates nothing (−1.5), 1.5 backward
#   (−3), 2.1 dx agrees with centred differences of your forward (−2), 2.2 dgamma and dbeta agree
#   with centred differences (−1), 2.3 five training steps then eval match minidl.nn.BatchNorm1d
#   (PyTorch semantics) (−2), 2.4 eval-mode backward treats the running statistics as constants
#   (−1), 2.5 inputs are not modified (−1).
# A trivial submission must score at most 10 %.
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return x.copy(), None


def batchnorm_backward(dout, cache):
    return dout.copy(), np.zeros(dout.shape[1], dout.dtype), np.zeros(dout.shape[1], dout.dtype)
