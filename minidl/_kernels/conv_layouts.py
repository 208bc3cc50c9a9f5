"""The convolution in other layouts: NumPy code shared by the twin and the compiled kernels.

Formula: ``Conv2d``'s docstring (minidl/nn/conv.py). The compiled direct kernels (conv.pyx)
do stride 1 with padding <= kernel − 1; the other convolutions are first rewritten here, in
plain NumPy, which is also where their large temporaries are allocated (conv.pyx itself
allocates only the direct kernels' packed weights and per-thread scratch):

* ``gemm_forward`` / ``gemm_backward``: im2col + one GEMM per image (the twin's whole
  convolution; the compiled kernels use it for strided layers with many input channels, with
  their compiled im2col / col2im passed in).
* ``phase_shape`` / ``phase_weights``: the polyphase form of a strided (or over-padded)
  convolution, a stride-1 unpadded one over the phase images (the compiled kernels split the
  images into phases themselves).
"""
import numpy as np


def gemm_forward(x, weight, bias, stride, padding, out, im2col):
    """The convolution as im2col + one GEMM per image (checked arguments)."""
    n, o, kh, kw = x.shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    cols = np.empty((n, weight[0].size, out.shape[2] * out.shape[3]), dtype=x.dtype)
    im2col(x, kh, kw, *stride, *padding, cols)
    np.matmul(weight.reshape(o, -1), cols, out=out.reshape(n, o, -1))   # Y[n] = W · X[n]
    if bias is not None:
        out += bias[:, None, None]


def gemm_backward(x, weight, grad_out, stride, padding, grad_x, grad_weight, grad_bias, im2col, col2im):
    """Backward of :func:`gemm_forward` (checked arguments; grad_x or grad_bias None skips it)."""
    n, o, kh, kw = x.shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    cols = np.empty((n, weight[0].size, grad_out.shape[2] * grad_out.shape[3]), dtype=x.dtype)
    im2col(x, kh, kw, *stride, *padding, cols)
    g = grad_out.reshape(n, o, -1)
    w2 = weight.reshape(o, -1)
    # dW = Σ_n dY[n] X[n]ᵀ, computed as its transpose Σ_n X[n] dY[n]ᵀ (OpenBLAS's faster orientation)
    grad_weight.reshape(o, -1)[...] = np.matmul(cols, g.transpose(0, 2, 1)).sum(axis=0).T
    if grad_bias is not None:
        grad_bias[...] = g.sum(axis=(0, 2))                                   # db = Σ_{n,l} dY
    if grad_x is not None:
        col2im(np.matmul(w2.T, g), kh, kw, *stride, *padding, grad_x)      # dx = col2im(Wᵀ dY)


def phase_shape(kernel_shape, stride, out_hw):
    """Polyphase form of a strided (or over-padded) convolution: a stride-1, unpadded one.

    With u = sh·u' + a and v = sw·v' + b (0 <= a < sh, 0 <= b < sw), the tap (u, v) of output
    (i, j) reads x_pad[sh·(i + u') + a, sw·(j + v') + b] = X_ab[i + u', j + v'], where X_ab is
    the phase image x_pad[a::sh, b::sw]. So y = Σ_ab X_ab ⋆ W_ab, W_ab = W[:, :, a::sh, b::sw]:
    one stride-1 convolution whose input channels are the phases (a, b, c), phase-major — only
    those with a < kh and b < kw, the others meet no tap — over sub-kernels of at most
    ceil(kh/sh) × ceil(kw/sw) taps. The compiled kernels read the phase images tap by tap
    (conv.pyx's _offsets), computing only the taps W has.

    kernel_shape (C, kh, kw) → ((C_q, H_q, W_q) of the phase images, (C_q, kh_q, kw_q) of the
    zero-padded sub-kernels)."""
    (sh, sw), (c, kh, kw) = stride, kernel_shape
    kh2, kw2 = -(-kh // sh), -(-kw // sw)
    cq = c * min(sh, kh) * min(sw, kw)
    return (cq, out_hw[0] + kh2 - 1, out_hw[1] + kw2 - 1), (cq, kh2, kw2)


def phase_weights(weight, stride):
    """The zero-padded sub-kernels W_ab of :func:`phase_shape`, as one (O, C_q, kh_q, kw_q)
    kernel: the dx pass convolves dy with them flipped."""
    (sh, sw), (o, c, kh, kw) = stride, weight.shape
    pa, pb = min(sh, kh), min(sw, kw)
    wq = np.zeros((o, pa, pb, c, -(-kh // sh), -(-kw // sw)), dtype=weight.dtype)
    for a in range(pa):
        for b in range(pb):
            sub = weight[:, :, a::sh, b::sw]
            wq[:, a, b, :, :sub.shape[2], :sub.shape[3]] = sub
    return wq.reshape(o, pa * pb * c, wq.shape[4], wq.shape[5])
